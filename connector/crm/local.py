"""The built-in local desk: customers and tickets kept in our own store.

It is the embedded default, so the whole loop (ticket, resolution, reply) runs with no
account anywhere; it implements the same contract as the outside CRMs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from connector.crm.base import FollowUp, IdentifyRequest, RecordFailure, TicketDraft
from connector.db import insert_ignore
from connector.model import Customer, StatusChange, TicketRef, utcnow
from connector.schema import (
    customer_identities,
    customers,
    local_ticket_entries,
    local_tickets,
    status_changes,
)
from connector.store import Store

SYSTEM = "local"
_NON_DIGITS = re.compile(r"\D+")


class TicketNotFoundError(LookupError):
    """No local ticket has that id."""


class TicketStateError(ValueError):
    """The ticket is not in a state that allows the operation (e.g. resolving twice)."""


def normalize_handle(handle: str) -> str:
    """Handles compare without the leading @ and without case."""
    return handle.strip().lstrip("@").lower()


def normalize_phone(phone: str) -> str:
    """Phones compare on their last nine digits, so +34 600… and 600… match."""
    return _NON_DIGITS.sub("", phone)[-9:]


def ticket_number(ticket_id: int | str) -> str:
    return f"L-{int(ticket_id):06d}"


class LocalDesk:
    """Tickets and customers in the store; resolvable from the CLI and the JSON API."""

    system = SYSTEM
    # Lookups are local and cheap; caching would only hide freshly imported customers.
    cacheable = False

    def __init__(self, store: Store, desk: str) -> None:
        self.store = store
        self.desk = desk

    # --- identify --------------------------------------------------------------------

    def find_customers(self, requests: Sequence[IdentifyRequest]) -> dict[str, Customer]:
        """Match authors strategy by strategy, one query per strategy for the whole batch."""
        found: dict[str, Customer] = {}
        with self.store.read() as conn:
            for strategy in ("social_id", "handle", "email", "phone"):
                pending = [r for r in requests if r.author.key not in found and strategy in r.strategies]
                lookups: dict[tuple[str, str, str], str] = {}
                for request in pending:
                    for key in self._identity_keys(request, strategy):
                        lookups.setdefault(key, request.author.key)
                if not lookups:
                    continue
                for key, customer in self._match(conn, strategy, list(lookups)).items():
                    found.setdefault(lookups[key], customer)
        return found

    @staticmethod
    def _identity_keys(request: IdentifyRequest, strategy: str) -> list[tuple[str, str, str]]:
        author = request.author
        if strategy == "social_id":
            return [("social_id", author.platform, author.platform_user_id)]
        if strategy == "handle" and author.handle:
            return [("handle", author.platform, normalize_handle(author.handle))]
        if strategy == "email":
            return [("email", "*", email.lower()) for email in request.emails]
        if strategy == "phone":
            return [("phone", "*", normalize_phone(phone)) for phone in request.phones]
        return []

    def _match(
        self, conn: Connection, strategy: str, keys: list[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], Customer]:
        values = sorted({value for _, _, value in keys})
        rows = conn.execute(
            select(
                customer_identities.c.platform.label("identity_platform"),
                customer_identities.c.value.label("identity_value"),
                customers,
            )
            .join(customers, customers.c.customer_id == customer_identities.c.customer_id)
            .where(customer_identities.c.kind == strategy, customer_identities.c.value.in_(values))
        )
        confidence = {"social_id": 1.0, "email": 0.95, "phone": 0.9, "handle": 0.8}[strategy]
        result: dict[tuple[str, str, str], Customer] = {}
        for row in rows:
            customer = Customer(
                system=SYSTEM,
                customer_id=row.customer_id,
                account_id=row.account_id,
                name=row.name,
                email=row.email,
                value=row.value,
                tier=row.tier,
                matched_by=strategy,
                confidence=confidence,
            )
            result[(strategy, row.identity_platform, row.identity_value)] = customer
        return result

    # --- tickets ---------------------------------------------------------------------

    def upsert_tickets(self, drafts: Sequence[TicketDraft]) -> list[TicketRef | RecordFailure]:
        """Create each ticket once per ``external_key``; a repeat returns the existing one."""
        refs: list[TicketRef | RecordFailure] = []
        now = utcnow()
        with self.store.write() as conn:
            for draft in drafts:
                insert_ignore(
                    conn,
                    local_tickets,
                    {
                        "desk": self.desk,
                        "external_key": draft.external_key,
                        "thread_key": draft.thread_key,
                        "status": "open",
                        "priority": draft.priority,
                        "explanation": draft.explanation,
                        "customer_id": draft.customer.customer_id if draft.customer else None,
                        "fields": draft.fields,
                        "linked_ticket_id": draft.linked_ticket_id,
                        "created_at": now,
                        "updated_at": now,
                    },
                    ("external_key",),
                )
                row = conn.execute(
                    select(local_tickets.c.id, local_tickets.c.status).where(
                        local_tickets.c.external_key == draft.external_key
                    )
                ).one()
                self._add_entry(
                    conn,
                    int(row.id),
                    draft.first_interaction.id,
                    draft.first_interaction.text,
                    draft.first_interaction.author.handle,
                    now,
                )
                refs.append(TicketRef(SYSTEM, str(row.id), ticket_number(row.id), row.status))
        return refs

    @staticmethod
    def _add_entry(
        conn: Connection,
        ticket_id: int,
        interaction_id: int | None,
        text: str,
        author: str | None,
        now: datetime,
    ) -> bool:
        if interaction_id is None:
            raise ValueError("only stored interactions (with an id) can be added to a ticket")
        entry = insert_ignore(
            conn,
            local_ticket_entries,
            {
                "ticket_id": ticket_id,
                "interaction_id": interaction_id,
                "text": text,
                "author": author,
                "created_at": now,
            },
            ("ticket_id", "interaction_id"),
        )
        return entry is not None

    def append_followups(self, followups: Sequence[FollowUp]) -> list[RecordFailure | None]:
        now = utcnow()
        with self.store.write() as conn:
            for followup in followups:
                added = self._add_entry(
                    conn,
                    int(followup.ticket_id),
                    followup.interaction.id,
                    followup.text,
                    followup.interaction.author.handle,
                    now,
                )
                if added:
                    conn.execute(
                        update(local_tickets)
                        .where(local_tickets.c.id == int(followup.ticket_id))
                        .values(updated_at=now)
                    )
        return [None] * len(followups)

    def reopen_tickets(self, ticket_ids: Sequence[str]) -> list[RecordFailure | None]:
        now = utcnow()
        with self.store.write() as conn:
            for ticket_id in ticket_ids:
                result = conn.execute(
                    update(local_tickets)
                    .where(local_tickets.c.id == int(ticket_id), local_tickets.c.status != "open")
                    .values(status="open", resolved_at=None, updated_at=now)
                )
                if result.rowcount:
                    Store.audit(
                        conn, "pipeline", "ticket.reopened", f"local:{ticket_id}", {"desk": self.desk}
                    )
        return [None] * len(ticket_ids)

    def read_status_changes(self, since: datetime | None) -> list[StatusChange]:
        """The local desk records its changes as they happen; polling just reads them back."""
        query = select(status_changes).where(
            status_changes.c.system == SYSTEM, status_changes.c.desk == self.desk
        )
        if since is not None:
            query = query.where(status_changes.c.occurred_at > since)
        with self.store.read() as conn:
            return [
                StatusChange(
                    r.system, r.ticket_id, r.old_status, r.new_status, r.resolution, r.occurred_at, r.event_id
                )
                for r in conn.execute(query.order_by(status_changes.c.id))
            ]

    def link_to_incident(self, parent_ticket_id: str, child_ticket_ids: Sequence[str]) -> None:
        """Link children to a parent incident (a crisis), both ways; linking twice changes nothing.

        Each child gets ``fields["incident_ticket_id"]``; the parent lists its children in
        ``fields["incident_children"]``. Local tickets share one table, so children may
        belong to any local desk.
        """
        parent_pk = _ticket_pk(parent_ticket_id)
        children = sorted({_ticket_pk(t) for t in child_ticket_ids} - {parent_pk})
        if not children:
            return
        now = utcnow()
        with self.store.write() as conn:
            parent = conn.execute(
                select(local_tickets.c.fields).where(local_tickets.c.id == parent_pk)
            ).first()
            if parent is None:
                raise TicketNotFoundError(f"no ticket {parent_ticket_id}")
            rows = conn.execute(
                select(local_tickets.c.id, local_tickets.c.fields).where(local_tickets.c.id.in_(children))
            ).all()
            linked = []
            for row in rows:
                linked.append(int(row.id))
                if row.fields.get("incident_ticket_id") != str(parent_pk):
                    fields = {**dict(row.fields), "incident_ticket_id": str(parent_pk)}
                    conn.execute(
                        update(local_tickets)
                        .where(local_tickets.c.id == row.id)
                        .values(fields=fields, updated_at=now)
                    )
            known = {int(t) for t in parent.fields.get("incident_children", [])}
            if not set(linked) <= known:
                listed = [str(t) for t in sorted(known | set(linked))]
                fields = {**dict(parent.fields), "incident_children": listed}
                conn.execute(
                    update(local_tickets)
                    .where(local_tickets.c.id == parent_pk)
                    .values(fields=fields, updated_at=now)
                )
                Store.audit(
                    conn,
                    "crisis",
                    "ticket.incident_linked",
                    f"local:{parent_pk}",
                    {"children": [str(t) for t in sorted(set(linked) - known)]},
                )

    # --- operator actions --------------------------------------------------------------

    def resolve(
        self, ticket_id: str, note: str, status: str = "resolved", public_reply: str | None = None
    ) -> int:
        """Resolve (or close) a ticket and queue its reply, atomically; return the change id."""
        if status not in ("resolved", "closed"):
            raise TicketStateError(f"a ticket can be resolved or closed, not {status!r}")
        now = utcnow()
        with self.store.write() as conn:
            row = conn.execute(
                select(local_tickets).where(
                    local_tickets.c.id == _ticket_pk(ticket_id), local_tickets.c.desk == self.desk
                )
            ).first()
            if row is None:
                raise TicketNotFoundError(f"no ticket {ticket_id} in desk {self.desk!r}")
            if row.status != "open":
                raise TicketStateError(f"ticket {ticket_id} is already {row.status}")
            fields = dict(row.fields)
            if public_reply:
                fields["public_reply"] = public_reply
            conn.execute(
                update(local_tickets)
                .where(local_tickets.c.id == row.id)
                .values(status=status, resolution=note, resolved_at=now, updated_at=now, fields=fields)
            )
            resolutions = conn.execute(
                select(func.count())
                .select_from(status_changes)
                .where(status_changes.c.system == SYSTEM, status_changes.c.ticket_id == str(row.id))
            ).scalar_one()
            change = StatusChange(
                SYSTEM, str(row.id), row.status, status, note, now, f"local:{row.id}:{int(resolutions) + 1}"
            )
            change_id = self.store.record_status_change_in(conn, self.desk, change)
            Store.audit(conn, "operator", f"ticket.{status}", f"local:{row.id}", {"note": note})
        if change_id is None:
            raise TicketStateError(f"ticket {ticket_id} was resolved concurrently")
        return change_id

    def ticket_fields(self, ticket_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            row = conn.execute(
                select(local_tickets.c.fields).where(local_tickets.c.id == _ticket_pk(ticket_id))
            ).first()
        if row is None:
            raise TicketNotFoundError(f"no ticket {ticket_id}")
        return dict(row.fields)

    def flag_ticket(self, ticket_id: str, message: str) -> None:
        """Put a reply problem on the ticket (field ``reply_flag``), where the agent looks."""
        pk = _ticket_pk(ticket_id)
        with self.store.write() as conn:
            row = conn.execute(select(local_tickets.c.fields).where(local_tickets.c.id == pk)).first()
            if row is None:
                raise TicketNotFoundError(f"no ticket {ticket_id}")
            fields = {**dict(row.fields), "reply_flag": message}
            conn.execute(
                update(local_tickets)
                .where(local_tickets.c.id == pk)
                .values(fields=fields, updated_at=utcnow())
            )


def _ticket_pk(ticket_id: str) -> int:
    try:
        number = int(ticket_id)
    except ValueError:
        raise TicketNotFoundError(f"no ticket {ticket_id!r}: local ticket ids are numbers") from None
    if not 0 < number < 2**63:
        raise TicketNotFoundError(f"no ticket {ticket_id}")
    return number


def resolve_ticket(
    store: Store, ticket_id: str, note: str, status: str = "resolved", public_reply: str | None = None
) -> int:
    """Resolve a local ticket whichever desk it belongs to; return the status change id."""
    with store.read() as conn:
        row = conn.execute(
            select(local_tickets.c.desk).where(local_tickets.c.id == _ticket_pk(ticket_id))
        ).first()
    if row is None:
        raise TicketNotFoundError(f"no ticket {ticket_id}")
    return LocalDesk(store, row.desk).resolve(ticket_id, note, status, public_reply)


def list_local_tickets(store: Store, desk: str | None = None) -> list[dict[str, Any]]:
    """Every local ticket with its interaction count, newest last."""
    counts = (
        select(local_ticket_entries.c.ticket_id, func.count().label("n"))
        .group_by(local_ticket_entries.c.ticket_id)
        .subquery()
    )
    query = (
        select(local_tickets, func.coalesce(counts.c.n, 0).label("interaction_count"))
        .outerjoin(counts, counts.c.ticket_id == local_tickets.c.id)
        .order_by(local_tickets.c.id)
    )
    if desk is not None:
        query = query.where(local_tickets.c.desk == desk)
    with store.read() as conn:
        return [
            {
                "id": str(row.id),
                "number": ticket_number(row.id),
                "desk": row.desk,
                "system": SYSTEM,
                "thread_key": row.thread_key,
                "status": row.status,
                "priority": row.priority,
                "explanation": row.explanation,
                "customer_id": row.customer_id,
                "interaction_count": int(row.interaction_count),
                "subject": row.fields.get("subject"),
                "linked_ticket_id": row.linked_ticket_id,
                "resolution": row.resolution,
                "reply_flag": row.fields.get("reply_flag"),
                "created_at": row.created_at.isoformat(),
                "updated_at": row.updated_at.isoformat(),
            }
            for row in conn.execute(query)
        ]
