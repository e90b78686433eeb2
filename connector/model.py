"""Canonical, platform-neutral records shared by every stage of the pipeline.

Nothing platform-specific leaks past ``webhooks/``: parsers turn payloads into these
records, and everything after the store works on them only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

Platform = Literal["facebook", "instagram", "messenger", "x", "generic"]
Kind = Literal["comment", "mention", "direct_message", "review", "post"]
MatchedBy = Literal["social_id", "handle", "email", "phone", "none"]
Priority = Literal["P1", "P2", "P3", "P4"]
Channel = Literal["public", "private"]
TicketStatus = Literal["open", "resolved", "closed"]

PLATFORMS: tuple[str, ...] = get_args(Platform)
KINDS: tuple[str, ...] = get_args(Kind)
PRIORITIES: tuple[str, ...] = get_args(Priority)


def utcnow() -> datetime:
    """Return an aware UTC timestamp (the only clock the pipeline uses)."""
    return datetime.now(UTC)


def from_unix(seconds: float) -> datetime:
    """Convert unix seconds to an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote an interaction, as the platform describes them."""

    platform: str
    platform_user_id: str
    handle: str | None = None
    display_name: str | None = None
    followers_count: int | None = None
    verified: bool = False
    profile_url: str | None = None

    @property
    def key(self) -> str:
        """Stable identity of the author across interactions (platform + user id)."""
        return f"{self.platform}:{self.platform_user_id}"


@dataclass(frozen=True, slots=True)
class Engagement:
    """How much other people reacted to an interaction, as the platform last counted it.

    Every count is ``None`` when the platform did not say (a Facebook comment webhook
    carries no counts at all); ``0`` is a real count. ``shares`` are retweets and quotes
    on X. The numbers are a snapshot: they grow after we read them.
    """

    replies: int | None = None
    reactions: int | None = None
    shares: int | None = None

    def __post_init__(self) -> None:
        for name in ("replies", "reactions", "shares"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"engagement.{name}: expected a count (an integer >= 0), got {value!r}")

    @property
    def known(self) -> bool:
        """True when the platform gave at least one count."""
        return any(count is not None for count in (self.replies, self.reactions, self.shares))

    @property
    def total(self) -> int:
        """Replies + reactions + shares, counting the unknown parts as 0."""
        return sum(count or 0 for count in (self.replies, self.reactions, self.shares))

    @classmethod
    def of(
        cls, replies: int | None = None, reactions: int | None = None, shares: int | None = None
    ) -> Engagement | None:
        """Build an engagement, or None when no count is known (the platform said nothing)."""
        found = cls(replies, reactions, shares)
        return found if found.known else None

    @classmethod
    def from_dict(cls, data: Any) -> Engagement | None:
        """Rebuild from :func:`dataclasses.asdict` output; None for None or an empty record."""
        if not isinstance(data, dict):
            return None
        return cls.of(data.get("replies"), data.get("reactions"), data.get("shares"))


@dataclass(frozen=True, slots=True)
class Interaction:
    """One thing a person said to or about the brand on a platform.

    ``thread_key`` is the conversation root prefixed by platform and brand account, so
    every reply in a conversation lands on the same ticket.
    """

    platform: str
    kind: str
    external_id: str
    thread_key: str
    brand_account_id: str
    author: Author
    text: str
    created_at: datetime
    parent_external_id: str | None = None
    language: str | None = None
    permalink: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    id: int | None = None
    from_brand: bool = False
    # A snapshot of replies/reactions/shares; None when the platform sent no counts. Not
    # part of equality: the same comment read by webhook and by reconcile is the same record.
    engagement: Engagement | None = field(default=None, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (datetimes as ISO 8601)."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interaction:
        """Rebuild an interaction from :meth:`to_dict` output."""
        values = dict(data)
        values["author"] = Author(**values["author"])
        created = values["created_at"]
        values["created_at"] = created if isinstance(created, datetime) else parse_datetime(created)
        # Dicts stored before engagement existed have no such key.
        values["engagement"] = Engagement.from_dict(values.get("engagement"))
        return cls(**values)


def parse_datetime(value: str) -> datetime:
    """Parse an ISO 8601 timestamp, assuming UTC when no offset is given."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def thread_key_for(platform: str, brand_account_id: str, root_id: str) -> str:
    """Build the thread key: the conversation root prefixed with platform and brand account."""
    return f"{platform}:{brand_account_id}:{root_id}"


@dataclass(frozen=True, slots=True)
class Customer:
    """The CRM's view of an author, with the value used by triage."""

    system: str
    customer_id: str | None
    account_id: str | None = None
    name: str | None = None
    email: str | None = None
    value: float | None = None
    tier: str | None = None
    matched_by: str = "none"
    confidence: float = 0.0

    @classmethod
    def unknown(cls, system: str) -> Customer:
        """Return the customer record used when nothing matched."""
        return cls(system=system, customer_id=None)


@dataclass(frozen=True, slots=True)
class Triage:
    """How urgent and how delicate an interaction is, with a one-line explanation."""

    nature: str
    sentiment: str
    risk: float
    influence: float
    value_score: float
    priority: str
    sla_due_at: datetime
    channel: str
    pii: tuple[str, ...] = ()
    crisis: bool = False
    explanation: str = ""
    sentiment_score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data = asdict(self)
        data["sla_due_at"] = self.sla_due_at.isoformat()
        data["pii"] = list(self.pii)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Triage:
        """Rebuild a triage from :meth:`to_dict` output."""
        values = dict(data)
        values["sla_due_at"] = parse_datetime(values["sla_due_at"])
        values["pii"] = tuple(values.get("pii", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TicketRef:
    """Where a thread's ticket lives in the desk's own system."""

    system: str
    ticket_id: str
    number: str | None = None
    status: str = "open"
    url: str | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A ticket changed status in its desk; resolved/closed changes trigger the reply."""

    system: str
    ticket_id: str
    old_status: str | None
    new_status: str
    resolution: str | None
    occurred_at: datetime
    event_id: str


@dataclass(frozen=True, slots=True)
class Removal:
    """The platform says an interaction was deleted or removed."""

    platform: str
    external_id: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class InboundBatch:
    """Everything one webhook delivery said, in canonical form.

    ``interactions`` are new content, ``edits`` are full records of edited content (an
    edit whose original we never saw is stored as new), ``removals`` mark content as
    removed, and ``ignored`` lists, for the log, the events we deliberately do not handle.
    """

    interactions: tuple[Interaction, ...] = ()
    edits: tuple[Interaction, ...] = ()
    removals: tuple[Removal, ...] = ()
    ignored: tuple[str, ...] = ()
