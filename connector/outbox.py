"""The outbox: jobs claimed in batches under a lease, retried at stored times, dead-lettered last."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, or_, select, update

from connector.db import insert_ignore
from connector.model import utcnow
from connector.schema import dead_letters, outbox
from connector.store_base import StoreBase

JOB_PROCESS = "process"
JOB_SYNC = "sync"
JOB_PUBLISH = "publish"
JOB_HIDE = "hide"
JOB_CRISIS = "crisis"


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    ref_id: int
    attempts: int
    lease_owner: str


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


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with equal jitter: never zero, never above ``cap``."""
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def requeue(conn: Connection, kind: str, ref_id: int, now: datetime) -> None:
    """Queue (kind, ref) again even if it ran before: an operator asked for another attempt."""
    updated = conn.execute(
        update(outbox)
        .where(outbox.c.kind == kind, outbox.c.ref_id == ref_id, outbox.c.state.in_(("done", "dead")))
        .values(state="pending", attempts=0, next_attempt_at=now, lease_until=None, updated_at=now)
    )
    if not updated.rowcount:
        enqueue(conn, kind, ref_id, now)


def rerun(conn: Connection, kind: str, ref_id: int, now: datetime) -> None:
    """Run (kind, ref) again soon, even while a worker is running it.

    A finished job goes back to pending. A leased one loses its owner, so the running
    worker's completion no longer matches its lease and the job stays pending: it runs
    once more and sees what changed meanwhile. A pending job has not run yet and is left
    alone; a dead one waits for an operator's replay.
    """
    conn.execute(
        update(outbox)
        .where(outbox.c.kind == kind, outbox.c.ref_id == ref_id, outbox.c.state == "done")
        .values(state="pending", attempts=0, next_attempt_at=now, lease_until=None, updated_at=now)
    )
    conn.execute(
        update(outbox)
        .where(outbox.c.kind == kind, outbox.c.ref_id == ref_id, outbox.c.state == "leased")
        .values(state="pending", next_attempt_at=now, lease_owner=None, lease_until=None, updated_at=now)
    )
    enqueue(conn, kind, ref_id, now)


def enqueue(conn: Connection, kind: str, ref_id: int, now: datetime) -> None:
    """Queue one job per (kind, ref) inside the caller's transaction."""
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


class OutboxStore(StoreBase):
    """Claim, settle and replay jobs."""

    def claim_jobs(self, kinds: Sequence[str], limit: int, lease_seconds: float, owner: str) -> list[Job]:
        """Lease up to ``limit`` due jobs (pending, or leased by a worker that died)."""
        now = utcnow()
        with self.write() as conn:
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
        with self.write() as conn:
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
        retry_at: datetime | None = None,
    ) -> bool:
        """Schedule a retry, or dead-letter the job; return True when it became a dead letter.

        ``retry_at`` is the platform's own answer (a rate-limit reset) and wins over backoff.
        """
        now = utcnow()
        dead = permanent or job.attempts >= max_attempts
        with self.write() as conn:
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
                next_at = max(retry_at, now) if retry_at is not None else now + timedelta(seconds=delay)
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == job.id)
                    .values(
                        state="pending",
                        lease_until=None,
                        last_error=error,
                        next_attempt_at=next_at,
                        updated_at=now,
                    )
                )
        return dead

    def list_dead_letters(self, include_replayed: bool = False) -> list[DeadLetter]:
        query = select(dead_letters).order_by(dead_letters.c.id)
        if not include_replayed:
            query = query.where(dead_letters.c.replayed_at.is_(None))
        with self.read() as conn:
            return [
                DeadLetter(
                    int(r.id),
                    int(r.job_id),
                    r.kind,
                    int(r.ref_id),
                    int(r.attempts),
                    r.error,
                    r.created_at,
                    r.replayed_at,
                )
                for r in conn.execute(query)
            ]

    def replay_dead_letters(self, ids: Sequence[int] | None = None) -> list[int]:
        """Put dead jobs back in the queue (all when ``ids`` is None); return the ids replayed."""
        now = utcnow()
        with self.write() as conn:
            query = select(dead_letters.c.id, dead_letters.c.job_id).where(
                dead_letters.c.replayed_at.is_(None)
            )
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
                self.audit(
                    conn, "operator", "deadletter.replayed", f"job:{row.job_id}", {"dead_letter": row.id}
                )
            return [int(row.id) for row in rows]
