"""The durable store: ingest, the outbox with leases and dead letters, links, replies, audit.

Every webhook is committed here before it is acknowledged, and every later step reads
its work from the outbox, so a crash anywhere loses nothing and repeats nothing twice.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from connector.db import insert_ignore, make_engine
from connector.model import Author, InboundBatch, Interaction, StatusChange, Triage, utcnow
from connector.schema import (
    audit_log,
    dead_letters,
    identity_cache,
    interactions,
    metadata,
    outbox,
    raw_events,
    replies,
    status_changes,
    thread_links,
)

JOB_PROCESS = "process"
JOB_SYNC = "sync"
_DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


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
class Job:
    id: int
    kind: str
    ref_id: int
    attempts: int
    lease_owner: str


@dataclass(frozen=True, slots=True)
class StoredInteraction:
    interaction: Interaction
    removed: bool
    desk: str | None
    ticket_id: str | None


@dataclass(frozen=True, slots=True)
class ThreadLink:
    desk: str
    thread_key: str
    generation: int
    system: str
    ticket_id: str
    ticket_number: str | None
    status: str
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    job_id: int
    kind: str
    ref_id: int
    attempts: int
    error: str
    created_at: datetime
    replayed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Reply:
    id: int
    status_change_id: int
    desk: str
    ticket_id: str
    platform: str
    in_reply_to: str
    thread_key: str
    text: str
    mode: str
    channel: str
    state: str
    platform_reply_id: str | None


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with equal jitter: never zero, never above ``cap``."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


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
        "raw": item.raw,
        "from_brand": item.from_brand,
        "removed": False,
        "raw_event_id": raw_event_id,
    }


def _interaction_from_row(row: Any) -> Interaction:
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
        raw=row.raw,
        from_brand=bool(row.from_brand),
    )


class Store:
    """All persistence goes through here (SQLAlchemy Core, any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def create_schema(self) -> None:
        """Create missing tables (idempotent)."""
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    # --- audit ---------------------------------------------------------------------

    @staticmethod
    def audit(conn: Connection, actor: str, action: str, subject: str, detail: Mapping[str, Any]) -> None:
        conn.execute(
            audit_log.insert().values(
                at=utcnow(), actor=actor, action=action, subject=subject, detail=dict(detail)
            )
        )

    def audit_event(self, actor: str, action: str, subject: str, detail: Mapping[str, Any]) -> None:
        """Write one audit entry in its own transaction."""
        with self.engine.begin() as conn:
            self.audit(conn, actor, action, subject, detail)

    def audit_entries(self, subject: str | None = None) -> list[dict[str, Any]]:
        query = select(audit_log).order_by(audit_log.c.id)
        if subject is not None:
            query = query.where(audit_log.c.subject == subject)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # --- ingest --------------------------------------------------------------------

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
        kept_headers = {k.lower(): v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}
        with self.engine.begin() as conn:
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

    def _insert_interaction(
        self, conn: Connection, item: Interaction, raw_id: int, now: datetime
    ) -> int | None:
        row_id = insert_ignore(
            conn, interactions, _interaction_row(item, raw_id, now), ("platform", "external_id")
        )
        if row_id is not None and not item.from_brand:
            self._enqueue(conn, JOB_PROCESS, row_id, now)
        return row_id

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

    @staticmethod
    def _enqueue(conn: Connection, kind: str, ref_id: int, now: datetime) -> None:
        insert_ignore(
            conn,
            outbox,
            {
                "kind": kind,
                "ref_id": ref_id,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            },
            ("kind", "ref_id"),
        )

    def get_interactions(self, ids: Sequence[int]) -> dict[int, StoredInteraction]:
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(interactions).where(interactions.c.id.in_(list(ids))))
            return {
                int(row.id): StoredInteraction(_interaction_from_row(row), bool(row.removed), row.desk, row.ticket_id)
                for row in rows
            }

    def thread_interactions(self, thread_key: str) -> list[Interaction]:
        """Every customer interaction of a thread, oldest first (brand echoes excluded)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(interactions)
                .where(interactions.c.thread_key == thread_key, interactions.c.from_brand.is_(False))
                .order_by(interactions.c.created_at, interactions.c.id)
            )
            return [_interaction_from_row(row) for row in rows]

    def interaction_triage(self, thread_key: str) -> list[Triage]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(interactions.c.triage)
                .where(interactions.c.thread_key == thread_key, interactions.c.triage.is_not(None))
                .order_by(interactions.c.id)
            )
            return [Triage.from_dict(row.triage) for row in rows]

    def mark_ticketed(self, marks: Iterable[tuple[int, str, str, Triage]]) -> None:
        """Record which desk ticket each interaction went to, with its triage."""
        with self.engine.begin() as conn:
            for interaction_id, desk, ticket_id, triage in marks:
                conn.execute(
                    update(interactions)
                    .where(interactions.c.id == interaction_id)
                    .values(desk=desk, ticket_id=ticket_id, triage=triage.to_dict())
                )

    def counts(self) -> dict[str, int]:
        """Row counts for status displays and benchmarks."""
        with self.engine.connect() as conn:
            return {
                "raw_events": int(conn.execute(select(func.count()).select_from(raw_events)).scalar_one()),
                "interactions": int(conn.execute(select(func.count()).select_from(interactions)).scalar_one()),
                "pending_jobs": int(
                    conn.execute(
                        select(func.count()).select_from(outbox).where(outbox.c.state.in_(("pending", "leased")))
                    ).scalar_one()
                ),
                "dead_letters": int(
                    conn.execute(
                        select(func.count()).select_from(dead_letters).where(dead_letters.c.replayed_at.is_(None))
                    ).scalar_one()
                ),
            }

    # --- outbox --------------------------------------------------------------------

    def claim_jobs(
        self, kinds: Sequence[str], limit: int, lease_seconds: float, owner: str
    ) -> list[Job]:
        """Lease up to ``limit`` due jobs (pending, or leased by a worker that died)."""
        now = utcnow()
        with self.engine.begin() as conn:
            due = (
                select(outbox.c.id)
                .where(
                    outbox.c.kind.in_(list(kinds)),
                    or_(
                        and_(outbox.c.state == "pending", outbox.c.next_attempt_at <= now),
                        and_(outbox.c.state == "leased", outbox.c.lease_until < now),
                    ),
                )
                .order_by(outbox.c.next_attempt_at, outbox.c.id)
                .limit(limit)
            )
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = list(conn.execute(due).scalars())
            if not ids:
                return []
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(
                    state="leased",
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    attempts=outbox.c.attempts + 1,
                    updated_at=now,
                )
            )
            rows = conn.execute(select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))
            return [Job(int(r.id), r.kind, int(r.ref_id), int(r.attempts), owner) for r in rows]

    def complete_jobs(self, jobs: Sequence[Job]) -> None:
        if not jobs:
            return
        with self.engine.begin() as conn:
            for job in jobs:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == job.id, outbox.c.lease_owner == job.lease_owner)
                    .values(state="done", lease_until=None, updated_at=utcnow())
                )

    def fail_job(
        self,
        job: Job,
        error: str,
        max_attempts: int,
        backoff_base: float,
        backoff_max: float,
        permanent: bool = False,
    ) -> bool:
        """Schedule a retry, or dead-letter the job; return True when it became a dead letter."""
        now = utcnow()
        dead = permanent or job.attempts >= max_attempts
        with self.engine.begin() as conn:
            if dead:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == job.id)
                    .values(state="dead", lease_until=None, last_error=error, updated_at=now)
                )
                conn.execute(
                    dead_letters.insert().values(
                        job_id=job.id,
                        kind=job.kind,
                        ref_id=job.ref_id,
                        attempts=job.attempts,
                        error=error,
                        created_at=now,
                    )
                )
            else:
                delay = backoff_delay(job.attempts, backoff_base, backoff_max)
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == job.id)
                    .values(
                        state="pending",
                        lease_until=None,
                        last_error=error,
                        next_attempt_at=now + timedelta(seconds=delay),
                        updated_at=now,
                    )
                )
        return dead

    def list_dead_letters(self, include_replayed: bool = False) -> list[DeadLetter]:
        query = select(dead_letters).order_by(dead_letters.c.id)
        if not include_replayed:
            query = query.where(dead_letters.c.replayed_at.is_(None))
        with self.engine.connect() as conn:
            return [
                DeadLetter(
                    int(r.id), int(r.job_id), r.kind, int(r.ref_id), int(r.attempts), r.error,
                    r.created_at, r.replayed_at,
                )
                for r in conn.execute(query)
            ]

    def replay_dead_letters(self, ids: Sequence[int] | None = None) -> list[int]:
        """Put dead jobs back in the queue (all when ``ids`` is None); return the ids replayed."""
        now = utcnow()
        with self.engine.begin() as conn:
            query = select(dead_letters.c.id, dead_letters.c.job_id).where(dead_letters.c.replayed_at.is_(None))
            if ids is not None:
                query = query.where(dead_letters.c.id.in_(list(ids)))
            rows = list(conn.execute(query))
            for row in rows:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == row.job_id, outbox.c.state == "dead")
                    .values(state="pending", attempts=0, next_attempt_at=now, updated_at=now)
                )
                conn.execute(update(dead_letters).where(dead_letters.c.id == row.id).values(replayed_at=now))
                self.audit(conn, "operator", "deadletter.replayed", f"job:{row.job_id}", {"dead_letter": row.id})
            return [int(row.id) for row in rows]

    # --- identity cache ------------------------------------------------------------

    def cached_customers(self, desk: str, author_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not author_keys:
            return {}
        now = utcnow()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(identity_cache.c.author_key, identity_cache.c.customer).where(
                    identity_cache.c.desk == desk,
                    identity_cache.c.author_key.in_(list(author_keys)),
                    identity_cache.c.expires_at > now,
                )
            )
            return {row.author_key: row.customer for row in rows}

    def cache_customers(self, desk: str, found: Mapping[str, dict[str, Any]], ttl_seconds: float) -> None:
        expires = utcnow() + timedelta(seconds=ttl_seconds)
        with self.engine.begin() as conn:
            for author_key, customer in found.items():
                conn.execute(
                    identity_cache.delete().where(
                        identity_cache.c.desk == desk, identity_cache.c.author_key == author_key
                    )
                )
                conn.execute(
                    identity_cache.insert().values(
                        desk=desk, author_key=author_key, customer=customer, expires_at=expires
                    )
                )

    def forget_customers(self, desk: str | None = None) -> None:
        with self.engine.begin() as conn:
            query = identity_cache.delete()
            if desk is not None:
                query = query.where(identity_cache.c.desk == desk)
            conn.execute(query)

    # --- thread links --------------------------------------------------------------

    def current_link(self, desk: str, thread_key: str) -> ThreadLink | None:
        """The latest ticket generation of a thread in a desk."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(thread_links)
                .where(thread_links.c.desk == desk, thread_links.c.thread_key == thread_key)
                .order_by(thread_links.c.generation.desc())
                .limit(1)
            ).first()
        return None if row is None else self._link(row)

    def link_for_ticket(self, system: str, ticket_id: str) -> ThreadLink | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(thread_links).where(thread_links.c.system == system, thread_links.c.ticket_id == ticket_id)
            ).first()
        return None if row is None else self._link(row)

    @staticmethod
    def _link(row: Any) -> ThreadLink:
        return ThreadLink(
            row.desk, row.thread_key, int(row.generation), row.system, row.ticket_id,
            row.ticket_number, row.status, row.created_at, row.resolved_at,
        )

    def save_link(
        self,
        desk: str,
        thread_key: str,
        generation: int,
        system: str,
        ticket_id: str,
        ticket_number: str | None,
        previous_ticket_id: str | None,
    ) -> None:
        """Record a thread's ticket; a second save of the same generation is a no-op."""
        with self.engine.begin() as conn:
            insert_ignore(
                conn,
                thread_links,
                {
                    "desk": desk,
                    "thread_key": thread_key,
                    "generation": generation,
                    "system": system,
                    "ticket_id": ticket_id,
                    "ticket_number": ticket_number,
                    "status": "open",
                    "previous_ticket_id": previous_ticket_id,
                    "created_at": utcnow(),
                },
                ("desk", "thread_key", "generation"),
            )

    def set_link_status(self, system: str, ticket_id: str, status: str, at: datetime | None = None) -> None:
        values: dict[str, Any] = {"status": status}
        if status in ("resolved", "closed"):
            values["resolved_at"] = at or utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                update(thread_links)
                .where(thread_links.c.system == system, thread_links.c.ticket_id == ticket_id)
                .values(**values)
            )

    # --- status changes and replies -----------------------------------------------

    def record_status_change(self, desk: str, change: StatusChange) -> int | None:
        """Store a status change once (by event id) and queue its sync job with it."""
        with self.engine.begin() as conn:
            return self.record_status_change_in(conn, desk, change)

    def record_status_change_in(self, conn: Connection, desk: str, change: StatusChange) -> int | None:
        """Like :meth:`record_status_change`, inside the caller's transaction."""
        now = utcnow()
        change_id = insert_ignore(
            conn,
            status_changes,
            {
                "desk": desk,
                "system": change.system,
                "ticket_id": change.ticket_id,
                "old_status": change.old_status,
                "new_status": change.new_status,
                "resolution": change.resolution,
                "occurred_at": change.occurred_at,
                "event_id": change.event_id,
                "received_at": now,
            },
            ("system", "event_id"),
        )
        if change_id is None:
            return None
        values: dict[str, Any] = {"status": change.new_status}
        if change.new_status in ("resolved", "closed"):
            values["resolved_at"] = change.occurred_at
        conn.execute(
            update(thread_links)
            .where(thread_links.c.system == change.system, thread_links.c.ticket_id == change.ticket_id)
            .values(**values)
        )
        self._enqueue(conn, JOB_SYNC, change_id, now)
        return change_id

    def get_status_change(self, change_id: int) -> tuple[str, StatusChange] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(status_changes).where(status_changes.c.id == change_id)).first()
        if row is None:
            return None
        change = StatusChange(
            row.system, row.ticket_id, row.old_status, row.new_status, row.resolution, row.occurred_at, row.event_id
        )
        return row.desk, change

    def reserve_reply(self, values: Mapping[str, Any]) -> Reply:
        """Record the intent to reply before posting; a second call returns the first record."""
        row_values = {**values, "state": "intent", "created_at": utcnow()}
        with self.engine.begin() as conn:
            insert_ignore(conn, replies, row_values, ("status_change_id",))
            row = conn.execute(
                select(replies).where(replies.c.status_change_id == values["status_change_id"])
            ).one()
        return self._reply(row)

    def mark_reply_posted(self, reply_id: int, platform_reply_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(replies)
                .where(replies.c.id == reply_id)
                .values(state="posted", platform_reply_id=platform_reply_id, posted_at=utcnow())
            )

    def mark_reply_state(self, reply_id: int, state: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(replies).where(replies.c.id == reply_id).values(state=state))

    def list_replies(self) -> list[Reply]:
        with self.engine.connect() as conn:
            return [self._reply(r) for r in conn.execute(select(replies).order_by(replies.c.id))]

    @staticmethod
    def _reply(row: Any) -> Reply:
        return Reply(
            int(row.id), int(row.status_change_id), row.desk, row.ticket_id, row.platform,
            row.in_reply_to, row.thread_key, row.text, row.mode, row.channel, row.state,
            row.platform_reply_id,
        )
