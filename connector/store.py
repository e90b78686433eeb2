"""The durable store: ingest, the outbox with leases and dead letters, links, replies, audit.

Every webhook is committed here before it is acknowledged, and every later step reads
its work from the outbox, so a crash anywhere loses nothing and repeats nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from connector.db import insert_ignore
from connector.model import Author, Engagement, InboundBatch, Interaction, StatusChange, Triage, utcnow
from connector.outbox import (
    JOB_HIDE,
    JOB_PROCESS,
    JOB_PUBLISH,
    JOB_SYNC,
    DeadLetter,
    Job,
    OutboxStore,
    backoff_delay,
    enqueue,
)
from connector.schema import dead_letters, interactions, outbox, raw_events
from connector.store_links import LinkStore, Reply, ThreadLink

__all__ = [
    "JOB_HIDE",
    "JOB_PROCESS",
    "JOB_PUBLISH",
    "JOB_SYNC",
    "DeadLetter",
    "IngestResult",
    "Job",
    "Reply",
    "Store",
    "StoredInteraction",
    "ThreadLink",
    "backoff_delay",
]
# Built once: building the statement per delivery cost as much as running it.
_PARENT_THREAD = select(interactions.c.thread_key).where(
    interactions.c.platform == bindparam("platform"),
    interactions.c.external_id == bindparam("external_id"),
)
_DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
# Engagement counts ride in the ``raw`` JSON column under this key (no column of their own);
# the colon keeps it apart from any key a platform or a generic source could send.
ENGAGEMENT_KEY = "ventanilla:engagement"


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers worth keeping with a raw event: lower-cased, credentials dropped."""
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}


@dataclass(frozen=True, slots=True)
class IngestResult:
    raw_event_id: int | None
    new: int = 0
    duplicates: int = 0
    from_brand: int = 0
    edited: int = 0
    removed: int = 0
    duplicate_delivery: bool = False


@dataclass(frozen=True, slots=True)
class StoredInteraction:
    interaction: Interaction
    removed: bool
    desk: str | None
    ticket_id: str | None


def _interaction_row(item: Interaction, raw_event_id: int, now: datetime) -> dict[str, Any]:
    author = item.author
    return {
        "platform": item.platform,
        "external_id": item.external_id,
        "kind": item.kind,
        "thread_key": item.thread_key,
        "parent_external_id": item.parent_external_id,
        "brand_account_id": item.brand_account_id,
        "author_key": author.key,
        "author": {
            "platform": author.platform,
            "platform_user_id": author.platform_user_id,
            "handle": author.handle,
            "display_name": author.display_name,
            "followers_count": author.followers_count,
            "verified": author.verified,
            "profile_url": author.profile_url,
        },
        "text": item.text,
        "language": item.language,
        "created_at": item.created_at,
        "permalink": item.permalink,
        "raw": _raw_with_engagement(item),
        "from_brand": item.from_brand,
        "removed": False,
        "raw_event_id": raw_event_id,
    }


def _raw_with_engagement(item: Interaction) -> dict[str, Any]:
    if item.engagement is None:
        return item.raw
    return {**item.raw, ENGAGEMENT_KEY: asdict(item.engagement)}


def _interaction_from_row(row: Any) -> Interaction:
    raw, engagement = row.raw, None
    if isinstance(raw, dict) and ENGAGEMENT_KEY in raw:
        raw = dict(raw)
        engagement = Engagement.from_dict(raw.pop(ENGAGEMENT_KEY))
    return Interaction(
        id=int(row.id),
        platform=row.platform,
        kind=row.kind,
        external_id=row.external_id,
        thread_key=row.thread_key,
        parent_external_id=row.parent_external_id,
        brand_account_id=row.brand_account_id,
        author=Author(**row.author),
        text=row.text,
        language=row.language,
        created_at=row.created_at,
        permalink=row.permalink,
        raw=raw,
        from_brand=bool(row.from_brand),
        engagement=engagement,
    )


class Store(OutboxStore, LinkStore):
    """All persistence goes through here (SQLAlchemy Core, any SQLAlchemy URL)."""

    def ingest(
        self,
        source: str,
        body: bytes,
        headers: Mapping[str, str],
        batch: InboundBatch,
        delivery_id: str | None = None,
    ) -> IngestResult:
        """Store the raw event, its interactions and their outbox jobs in ONE transaction."""
        now = utcnow()
        kept_headers = _kept_headers(headers)
        with self.write() as conn:
            raw_id = insert_ignore(
                conn,
                raw_events,
                {
                    "source": source,
                    "delivery_id": delivery_id,
                    "received_at": now,
                    "headers": kept_headers,
                    "body": body.decode("utf-8", errors="replace"),
                    "summary": {"ignored": list(batch.ignored)},
                },
                ("source", "delivery_id"),
            )
            if raw_id is None:
                return IngestResult(raw_event_id=None, duplicate_delivery=True)
            new = duplicates = own = 0
            for item in batch.interactions:
                created = self._insert_interaction(conn, item, raw_id, now)
                if created is None:
                    duplicates += 1
                elif item.from_brand:
                    own += 1
                else:
                    new += 1
            edited = sum(self._apply_edit(conn, item, raw_id, now) for item in batch.edits)
            removed = 0
            for removal in batch.removals:
                result = conn.execute(
                    update(interactions)
                    .where(
                        interactions.c.platform == removal.platform,
                        interactions.c.external_id == removal.external_id,
                    )
                    .values(removed=True)
                )
                if result.rowcount:
                    removed += 1
                    self.audit(
                        conn,
                        "platform",
                        "interaction.removed",
                        f"{removal.platform}:{removal.external_id}",
                        {"occurred_at": removal.occurred_at.isoformat()},
                    )
        return IngestResult(raw_id, new, duplicates, own, edited, removed)

    def record_status_delivery(
        self,
        source: str,
        body: bytes,
        headers: Mapping[str, str],
        changes: Sequence[tuple[str, StatusChange]],
        summary: Mapping[str, Any],
    ) -> int:
        """Store a desk's status delivery and its changes in ONE transaction; return how many are new.

        The desk is acknowledged only after this commits, and every change is idempotent
        on its event id, so redeliveries are harmless.
        """
        now = utcnow()
        kept = _kept_headers(headers)
        with self.write() as conn:
            conn.execute(
                raw_events.insert().values(
                    source=source,
                    delivery_id=None,
                    received_at=now,
                    headers=kept,
                    body=body.decode("utf-8", errors="replace"),
                    summary=dict(summary),
                )
            )
            return sum(
                self.record_status_change_in(conn, desk, change) is not None for desk, change in changes
            )

    def _insert_interaction(
        self, conn: Connection, item: Interaction, raw_id: int, now: datetime
    ) -> int | None:
        row = _interaction_row(item, raw_id, now)
        row["thread_key"] = self._thread_of_parent(conn, item) or item.thread_key
        row_id = insert_ignore(conn, interactions, row, ("platform", "external_id"))
        if row_id is not None and not item.from_brand:
            enqueue(conn, JOB_PROCESS, row_id, now)
        return row_id

    @staticmethod
    def _thread_of_parent(conn: Connection, item: Interaction) -> str | None:
        """A reply joins its parent's thread when we know the parent.

        One event cannot tell the conversation root (X gives only the tweet replied to),
        so a reply to our own reply would otherwise open a second thread.
        """
        if not item.parent_external_id:
            return None
        found: str | None = conn.execute(
            _PARENT_THREAD, {"platform": item.platform, "external_id": item.parent_external_id}
        ).scalar()
        return found

    def _apply_edit(self, conn: Connection, item: Interaction, raw_id: int, now: datetime) -> int:
        existing = conn.execute(
            select(interactions.c.id, interactions.c.text).where(
                interactions.c.platform == item.platform,
                interactions.c.external_id == item.external_id,
            )
        ).first()
        if existing is None:
            # The original "add" never reached us: the edit is all we will ever see.
            self._insert_interaction(conn, item, raw_id, now)
            return 1
        if existing.text == item.text:
            return 0
        conn.execute(
            update(interactions).where(interactions.c.id == existing.id).values(text=item.text, edited_at=now)
        )
        self.audit(
            conn,
            "platform",
            "interaction.edited",
            f"{item.platform}:{item.external_id}",
            {"old_text": existing.text, "new_text": item.text},
        )
        return 1

    def get_interactions(self, ids: Sequence[int]) -> dict[int, StoredInteraction]:
        if not ids:
            return {}
        with self.read() as conn:
            rows = conn.execute(select(interactions).where(interactions.c.id.in_(list(ids))))
            return {
                int(row.id): StoredInteraction(
                    _interaction_from_row(row), bool(row.removed), row.desk, row.ticket_id
                )
                for row in rows
            }

    def interaction_by_external(self, platform: str, external_id: str) -> Interaction | None:
        with self.read() as conn:
            row = conn.execute(
                select(interactions).where(
                    interactions.c.platform == platform, interactions.c.external_id == external_id
                )
            ).first()
        return _interaction_from_row(row) if row is not None else None

    def known_external_ids(self, platform: str, external_ids: Sequence[str]) -> set[str]:
        """Which of ``external_ids`` are already stored (the reconciler skips them)."""
        found: set[str] = set()
        with self.read() as conn:
            for start in range(0, len(external_ids), 500):
                chunk = list(external_ids[start : start + 500])
                found.update(
                    conn.execute(
                        select(interactions.c.external_id).where(
                            interactions.c.platform == platform, interactions.c.external_id.in_(chunk)
                        )
                    ).scalars()
                )
        return found

    def enrich_interaction(self, item: Interaction) -> None:
        """Store what the webhook did not carry (mention text, author, followers), audited.

        ``item`` is the stored interaction (with its id) completed from the platform API.
        """
        if item.id is None:
            raise ValueError("only a stored interaction can be enriched")
        row = _interaction_row(item, 0, utcnow())
        values = {key: row[key] for key in ("text", "author", "author_key", "permalink", "language")}
        with self.write() as conn:
            conn.execute(update(interactions).where(interactions.c.id == item.id).values(**values))
            self.audit(
                conn,
                "platform",
                "interaction.enriched",
                f"{item.platform}:{item.external_id}",
                {"author": item.author.key, "followers_count": item.author.followers_count},
            )

    def thread_interactions(self, thread_key: str) -> list[Interaction]:
        """Every customer interaction of a thread, oldest first (brand echoes excluded)."""
        with self.read() as conn:
            rows = conn.execute(
                select(interactions)
                .where(interactions.c.thread_key == thread_key, interactions.c.from_brand.is_(False))
                .order_by(interactions.c.created_at, interactions.c.id)
            )
            return [_interaction_from_row(row) for row in rows]

    def interaction_triage(self, thread_key: str) -> list[Triage]:
        with self.read() as conn:
            rows = conn.execute(
                select(interactions.c.triage)
                .where(interactions.c.thread_key == thread_key, interactions.c.triage.is_not(None))
                .order_by(interactions.c.id)
            )
            return [Triage.from_dict(row.triage) for row in rows]

    def mark_ticketed(
        self, marks: Iterable[tuple[int, str, str, Triage, str | None]], hide: Sequence[int] = ()
    ) -> None:
        """Record which desk ticket each interaction went to, with its triage and language.

        ``hide`` lists comments to hide for personal data: queued in the same transaction.
        """
        with self.write() as conn:
            now = utcnow()
            for interaction_id in hide:
                enqueue(conn, JOB_HIDE, interaction_id, now)
            for interaction_id, desk, ticket_id, triage, language in marks:
                conn.execute(
                    update(interactions)
                    .where(interactions.c.id == interaction_id)
                    .values(desk=desk, ticket_id=ticket_id, triage=triage.to_dict(), language=language)
                )

    def counts(self) -> dict[str, int]:
        """Row counts for status displays and benchmarks."""
        with self.read() as conn:
            return {
                "raw_events": int(conn.execute(select(func.count()).select_from(raw_events)).scalar_one()),
                "interactions": int(
                    conn.execute(select(func.count()).select_from(interactions)).scalar_one()
                ),
                "pending_jobs": int(
                    conn.execute(
                        select(func.count())
                        .select_from(outbox)
                        .where(outbox.c.state.in_(("pending", "leased")))
                    ).scalar_one()
                ),
                "dead_letters": int(
                    conn.execute(
                        select(func.count())
                        .select_from(dead_letters)
                        .where(dead_letters.c.replayed_at.is_(None))
                    ).scalar_one()
                ),
            }
