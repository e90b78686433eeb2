"""Thread links, status changes, replies and the identity cache."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from connector.db import insert_ignore
from connector.model import StatusChange, utcnow
from connector.outbox import JOB_PUBLISH, JOB_SYNC, enqueue, requeue
from connector.schema import connector_state, identity_cache, replies, status_changes, thread_links
from connector.store_base import StoreBase


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
    detail: str | None = None


#: Reply states: awaiting_approval → intent → sending → posted; or blocked (personal data),
#: window_closed, failed (refused for good), uncertain (maybe posted, cannot tell), rejected.
REPLY_DONE = frozenset({"posted", "blocked", "window_closed", "failed", "uncertain", "rejected"})
REPLY_RETRYABLE = frozenset({"window_closed", "failed", "uncertain"})


class ReplyStateError(Exception):
    """The reply is not in a state that allows the requested action."""


FINISHED = frozenset({"resolved", "closed"})


class LinkStore(StoreBase):
    """Which ticket holds a thread, what happened to it, and what we answered."""

    def cached_customers(self, desk: str, author_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not author_keys:
            return {}
        now = utcnow()
        with self.read() as conn:
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
        with self.write() as conn:
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
        with self.write() as conn:
            query = identity_cache.delete()
            if desk is not None:
                query = query.where(identity_cache.c.desk == desk)
            conn.execute(query)

    def get_state(self, scope: str, key: str) -> Any:
        """A connector's small durable state (watermarks, API usage, pauses); None when unset."""
        with self.read() as conn:
            return conn.execute(
                select(connector_state.c.value).where(
                    connector_state.c.scope == scope, connector_state.c.key == key
                )
            ).scalar()

    def set_state(self, scope: str, key: str, value: Any) -> None:
        with self.write() as conn:
            conn.execute(
                connector_state.delete().where(connector_state.c.scope == scope, connector_state.c.key == key)
            )
            conn.execute(
                connector_state.insert().values(scope=scope, key=key, value=value, updated_at=utcnow())
            )

    def get_states(self, scope: str, keys: Sequence[str]) -> dict[str, Any]:
        """Several keys of one scope in one read (e.g. a connector's per-record intents)."""
        if not keys:
            return {}
        with self.read() as conn:
            rows = conn.execute(
                select(connector_state.c.key, connector_state.c.value).where(
                    connector_state.c.scope == scope, connector_state.c.key.in_(list(keys))
                )
            )
            return {row.key: row.value for row in rows}

    def set_states(self, scope: str, values: Mapping[str, Any]) -> None:
        """Write several keys of one scope in one transaction."""
        if not values:
            return
        now = utcnow()
        with self.write() as conn:
            conn.execute(
                connector_state.delete().where(
                    connector_state.c.scope == scope, connector_state.c.key.in_(list(values))
                )
            )
            conn.execute(
                connector_state.insert(),
                [{"scope": scope, "key": k, "value": v, "updated_at": now} for k, v in values.items()],
            )

    def current_link(self, desk: str, thread_key: str) -> ThreadLink | None:
        """The latest ticket generation of a thread in a desk."""
        with self.read() as conn:
            row = conn.execute(
                select(thread_links)
                .where(thread_links.c.desk == desk, thread_links.c.thread_key == thread_key)
                .order_by(thread_links.c.generation.desc())
                .limit(1)
            ).first()
        return None if row is None else self._link(row)

    def link_for_ticket(self, system: str, ticket_id: str) -> ThreadLink | None:
        with self.read() as conn:
            row = conn.execute(
                select(thread_links).where(
                    thread_links.c.system == system, thread_links.c.ticket_id == ticket_id
                )
            ).first()
        return None if row is None else self._link(row)

    @staticmethod
    def _link(row: Any) -> ThreadLink:
        return ThreadLink(
            row.desk,
            row.thread_key,
            int(row.generation),
            row.system,
            row.ticket_id,
            row.ticket_number,
            row.status,
            row.created_at,
            row.resolved_at,
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
        with self.write() as conn:
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

    def set_link_number(self, system: str, ticket_id: str, number: str) -> None:
        """Remember a ticket's human number once the desk tells it (upserts may not)."""
        with self.write() as conn:
            conn.execute(
                update(thread_links)
                .where(thread_links.c.system == system, thread_links.c.ticket_id == ticket_id)
                .values(ticket_number=number)
            )

    def set_link_status(self, system: str, ticket_id: str, status: str, at: datetime | None = None) -> None:
        values: dict[str, Any] = {"status": status}
        if status in ("resolved", "closed"):
            values["resolved_at"] = at or utcnow()
        with self.write() as conn:
            conn.execute(
                update(thread_links)
                .where(thread_links.c.system == system, thread_links.c.ticket_id == ticket_id)
                .values(**values)
            )

    def record_status_change(self, desk: str, change: StatusChange) -> int | None:
        """Store a status change once (by event id) and queue its sync job with it."""
        with self.write() as conn:
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
        previous = conn.execute(
            select(thread_links.c.status).where(
                thread_links.c.system == change.system, thread_links.c.ticket_id == change.ticket_id
            )
        ).scalar()
        values: dict[str, Any] = {"status": change.new_status}
        if change.new_status in ("resolved", "closed"):
            values["resolved_at"] = change.occurred_at
        conn.execute(
            update(thread_links)
            .where(thread_links.c.system == change.system, thread_links.c.ticket_id == change.ticket_id)
            .values(**values)
        )
        # Only a resolution is answered, and only once: resolved → closed, or one closure
        # reported by both an outbound message and the poller, is recorded but not answered.
        if change.new_status in FINISHED and previous not in FINISHED:
            enqueue(conn, JOB_SYNC, change_id, now)
        return change_id

    def get_status_change(self, change_id: int) -> tuple[str, StatusChange] | None:
        with self.read() as conn:
            row = conn.execute(select(status_changes).where(status_changes.c.id == change_id)).first()
        if row is None:
            return None
        change = StatusChange(
            row.system,
            row.ticket_id,
            row.old_status,
            row.new_status,
            row.resolution,
            row.occurred_at,
            row.event_id,
        )
        return row.desk, change

    def reserve_reply(self, values: Mapping[str, Any], state: str = "intent") -> Reply:
        """Record the intent to reply before posting; a second call returns the first record."""
        row_values = {**values, "state": state, "created_at": utcnow()}
        with self.write() as conn:
            insert_ignore(conn, replies, row_values, ("status_change_id",))
            row = conn.execute(
                select(replies).where(replies.c.status_change_id == values["status_change_id"])
            ).one()
        return self._reply(row)

    def mark_reply_sending(self, reply_id: int) -> None:
        """Committed before the platform call: a retry that finds it checks the platform first."""
        with self.write() as conn:
            conn.execute(
                update(replies).where(replies.c.id == reply_id).values(state="sending", attempted_at=utcnow())
            )

    def mark_reply_posted(self, reply_id: int, platform_reply_id: str) -> None:
        with self.write() as conn:
            conn.execute(
                update(replies)
                .where(replies.c.id == reply_id)
                .values(state="posted", platform_reply_id=platform_reply_id, posted_at=utcnow(), detail=None)
            )

    def mark_reply_state(
        self,
        reply_id: int,
        state: str,
        detail: str | None = None,
        actor: str = "sync",
        subject: str | None = None,
    ) -> None:
        """Set a final or waiting state; anything but a plain post is audited with its reason."""
        with self.write() as conn:
            conn.execute(update(replies).where(replies.c.id == reply_id).values(state=state, detail=detail))
            self.audit(
                conn,
                actor,
                f"reply.{state}",
                subject or f"reply:{reply_id}",
                {"reply": reply_id, "detail": detail},
            )

    def update_reply_route(self, reply_id: int, channel: str, text: str) -> None:
        """Change how an unposted reply goes out (a refused private reply becomes a public one)."""
        with self.write() as conn:
            conn.execute(
                update(replies)
                .where(replies.c.id == reply_id, replies.c.state.in_(("intent", "sending")))
                .values(channel=channel, text=text, state="intent")
            )

    def get_reply(self, reply_id: int) -> Reply | None:
        with self.read() as conn:
            row = conn.execute(select(replies).where(replies.c.id == reply_id)).first()
        return self._reply(row) if row is not None else None

    def release_reply(self, reply_id: int, expected: frozenset[str], actor: str, action: str) -> Reply:
        """Move a reply from one of ``expected`` back to ``intent`` and queue its publication."""
        now = utcnow()
        with self.write() as conn:
            row = conn.execute(select(replies).where(replies.c.id == reply_id)).first()
            if row is None:
                raise ReplyStateError(f"there is no reply #{reply_id}")
            if row.state not in expected:
                raise ReplyStateError(
                    f"reply #{reply_id} is {row.state}; "
                    f"only {', '.join(sorted(expected))} replies can be {action}"
                )
            conn.execute(update(replies).where(replies.c.id == reply_id).values(state="intent", detail=None))
            requeue(conn, JOB_PUBLISH, reply_id, now)
            self.audit(conn, actor, f"reply.{action}", f"reply:{reply_id}", {"previous_state": row.state})
        found = self.get_reply(reply_id)
        assert found is not None
        return found

    def reject_reply(self, reply_id: int, actor: str, reason: str | None) -> Reply:
        with self.write() as conn:
            row = conn.execute(select(replies).where(replies.c.id == reply_id)).first()
            if row is None:
                raise ReplyStateError(f"there is no reply #{reply_id}")
            if row.state != "awaiting_approval":
                raise ReplyStateError(
                    f"reply #{reply_id} is {row.state}; only replies awaiting approval can be rejected"
                )
            conn.execute(
                update(replies).where(replies.c.id == reply_id).values(state="rejected", detail=reason)
            )
            self.audit(conn, actor, "reply.rejected", f"reply:{reply_id}", {"reason": reason})
        found = self.get_reply(reply_id)
        assert found is not None
        return found

    def list_replies(self) -> list[Reply]:
        with self.read() as conn:
            return [self._reply(r) for r in conn.execute(select(replies).order_by(replies.c.id))]

    @staticmethod
    def _reply(row: Any) -> Reply:
        return Reply(
            int(row.id),
            int(row.status_change_id),
            row.desk,
            row.ticket_id,
            row.platform,
            row.in_reply_to,
            row.thread_key,
            row.text,
            row.mode,
            row.channel,
            row.state,
            row.platform_reply_id,
            row.detail,
        )
