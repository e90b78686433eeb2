"""Who is erased and what the erasure touched: shared by the scrub, the steps and the CLI."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

ERASED = "[erased]"


def pseudonym(platform: str, user_id: str) -> str:
    """The stable stand-in for an erased person: ``erased:`` + 16 hex digits of sha256."""
    return "erased:" + hashlib.sha256(f"{platform}:{user_id}".encode()).hexdigest()[:16]


#: What each count of an :class:`ErasureReport` means, in report order.
LABELS = {
    "interactions": "their interactions anonymised",
    "addressed_to_them": "brand messages to them erased",
    "mentioning_them": "other people's interactions that named them, scrubbed",
    "raw_events": "raw events scrubbed (kept: a delivery may hold other people)",
    "replies": "replies to them erased (unsent ones rejected) or scrubbed",
    "status_changes": "resolution notes scrubbed",
    "thread_links": "thread links re-keyed by the pseudonym",
    "identity_cache": "identity-cache rows deleted",
    "local_ticket_entries": "local ticket entries anonymised",
    "local_tickets": "local tickets scrubbed",
    "local_customer_links": "local customer social-id/handle links deleted",
    "audit_log": "audit entries scrubbed",
    "connector_state": "connector state entries deleted or scrubbed",
    "jobs": "jobs cancelled or their errors scrubbed",
}


@dataclass
class ErasureReport:
    """What one erasure touched, table by table (rows changed or deleted)."""

    platform: str
    user_id: str
    pseudonym: str
    interactions: int = 0
    addressed_to_them: int = 0
    mentioning_them: int = 0
    raw_events: int = 0
    replies: int = 0
    status_changes: int = 0
    thread_links: int = 0
    identity_cache: int = 0
    local_ticket_entries: int = 0
    local_tickets: int = 0
    local_customer_links: int = 0
    audit_log: int = 0
    connector_state: int = 0
    jobs: int = 0
    #: When an earlier run erased them (set only when this run found nothing).
    erased_before: datetime | None = None

    def counts(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in LABELS}

    @property
    def touched(self) -> int:
        return sum(self.counts().values())

    @property
    def found(self) -> bool:
        """False when the person was never stored nor erased before: the CLI exits non-zero."""
        return self.touched > 0 or self.erased_before is not None

    def lines(self) -> list[str]:
        who = f"{self.platform}:{self.user_id}"
        if not self.touched:
            if self.erased_before is not None:
                return [
                    f"{who} was already erased on {self.erased_before:%Y-%m-%d %H:%M} UTC "
                    f"(now {self.pseudonym}); nothing of theirs is left, nothing was changed."
                ]
            return [f"Nothing is stored about {who}: no interaction, event, link or copy names them."]
        lines = [f"Erased {who}; what remains of them is called {self.pseudonym}."]
        lines += [f"  {name}: {count} {LABELS[name]}" for name, count in self.counts().items() if count]
        lines.append(
            "  CRM customer records were not changed (they belong to the CRM); tickets in outside "
            "desks (Salesforce, HubSpot) must be erased there."
        )
        return lines


@dataclass(frozen=True)
class Person:
    """The person being erased, by author key ``platform:user_id``."""

    platform: str
    user_id: str

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def pseudonym(self) -> str:
        return pseudonym(self.platform, self.user_id)

    @property
    def pseudonym_key(self) -> str:
        return f"{self.platform}:{self.pseudonym}"
