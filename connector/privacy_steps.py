"""The table-by-table steps of one erasure: anonymise theirs, erase what was addressed to them,
re-key their threads, delete links to them, then scrub every other place that may name them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, or_, select, update

from connector.crm.local import normalize_handle
from connector.privacy_find import find_belongings
from connector.privacy_report import ERASED, ErasureReport, Person
from connector.schema import (
    audit_log,
    connector_state,
    customer_identities,
    dead_letters,
    identity_cache,
    interactions,
    local_ticket_entries,
    local_tickets,
    outbox,
    raw_events,
    replies,
    status_changes,
    thread_links,
)
from connector.store import JOB_PROCESS
from connector.store_links import REPLY_RETRYABLE

_UNSENT_REPLIES = frozenset({"intent", "sending", "awaiting_approval", *REPLY_RETRYABLE})
_QUOTED = re.compile(r'"[^"]*"(?:, "[^"]*")*')


class Erasure:
    """The steps of one erasure, sharing the connection, the person and the report."""

    def __init__(self, conn: Connection, person: Person, report: ErasureReport) -> None:
        self.conn = conn
        self.person = person
        self.report = report
        self.own_triage: set[str] = set()  # the explanations triage wrote for their interactions
        self.replied: set[int] = set()  # replies to them, already erased
        self.scrubbed_tickets: set[int] = set()  # local tickets holding their entries, already scrubbed

    def run(self) -> None:
        found = find_belongings(self.conn, self.person)
        self.scrub = found.scrubber(self.person)
        self._own_interactions(found.own)
        self._addressed_to_them({(r.platform, r.external_id) for r in found.own}, found.threads)
        self._rekey_threads(found.threads)
        self._local_desk(found.own)
        self._deletions(found.keys, found.handles)
        self.report.local_tickets = len(self.scrubbed_tickets)
        for row in found.edits:
            detail = {**row.detail, "old_text": ERASED, "new_text": ERASED}
            self.conn.execute(update(audit_log).where(audit_log.c.id == row.id).values(detail=detail))
            self.report.audit_log += 1
        self._mentions_elsewhere()

    def _own_interactions(self, own: list[Any]) -> None:
        person, conn = self.person, self.conn
        for row in own:
            triage = row.triage
            if triage and triage.get("explanation"):
                triage = {**triage, "explanation": _QUOTED.sub(ERASED, str(triage["explanation"]))}
            conn.execute(
                update(interactions)
                .where(interactions.c.id == row.id)
                .values(
                    text=ERASED,
                    author={
                        "platform": row.platform,
                        "platform_user_id": person.pseudonym,
                        "handle": None,
                        "display_name": None,
                        "followers_count": None,
                        "verified": False,
                        "profile_url": None,
                    },
                    author_key=f"{row.platform}:{person.pseudonym}",
                    raw={},
                    permalink=None,
                    triage=triage,
                )
            )
        self.report.interactions = len(own)
        ids = [int(r.id) for r in own]
        if ids:  # an unprocessed interaction of theirs would only become an "[erased]" ticket
            cancelled = conn.execute(
                update(outbox)
                .where(
                    outbox.c.kind == JOB_PROCESS,
                    outbox.c.ref_id.in_(ids),
                    outbox.c.state.in_(("pending", "leased")),
                )
                .values(state="done", lease_until=None, last_error="cancelled: the author was erased")
            )
            self.report.jobs += cancelled.rowcount
        self.own_triage = {
            str(r.triage["explanation"]) for r in own if r.triage and r.triage.get("explanation")
        }

    def _addressed_to_them(self, own: set[tuple[str, str]], threads: dict[str, str]) -> None:
        """The brand's messages to them and our replies to them: their first name or handle is in there."""
        conn, scrub = self.conn, self.scrub
        parents = sorted(external for platform, external in own if platform == self.person.platform)
        brand = conn.execute(
            select(interactions.c.id, interactions.c.raw).where(
                interactions.c.from_brand.is_(True),
                or_(
                    interactions.c.thread_key.in_(sorted(threads)),
                    (interactions.c.platform == self.person.platform)
                    & interactions.c.parent_external_id.in_(parents),
                ),
            )
        )
        for row in brand:
            conn.execute(
                update(interactions)
                .where(interactions.c.id == row.id)
                .values(text=ERASED, raw=scrub.json(row.raw))
            )
            self.report.addressed_to_them += 1
        targets = or_(
            *(
                (replies.c.platform == platform) & (replies.c.in_reply_to == external)
                for platform, external in own
            ),
            replies.c.thread_key.in_(sorted(threads)),
        )
        for row in conn.execute(select(replies).where(targets)):
            values: dict[str, Any] = {
                "text": ERASED,
                "detail": scrub.text(row.detail) if row.detail else None,
            }
            if row.state in _UNSENT_REPLIES:  # never publish "[erased]"
                values.update(state="rejected", detail="not sent: the person's data was erased")
            conn.execute(update(replies).where(replies.c.id == row.id).values(**values))
            self.report.replies += 1
        self.replied = {int(r.id) for r in conn.execute(select(replies.c.id).where(targets))}

    def _rekey_threads(self, threads: dict[str, str]) -> None:
        conn = self.conn
        for old, new in threads.items():
            conn.execute(update(interactions).where(interactions.c.thread_key == old).values(thread_key=new))
            conn.execute(update(replies).where(replies.c.thread_key == old).values(thread_key=new))
            links = conn.execute(
                update(thread_links).where(thread_links.c.thread_key == old).values(thread_key=new)
            )
            self.report.thread_links += links.rowcount
            for row in list(conn.execute(select(local_tickets).where(local_tickets.c.thread_key == old))):
                conn.execute(
                    update(local_tickets)
                    .where(local_tickets.c.id == row.id)
                    .values(thread_key=new, external_key=new + row.external_key[len(old) :])
                )
                self.scrubbed_tickets.add(int(row.id))

    def _local_desk(self, own: list[Any]) -> None:
        conn, scrub = self.conn, self.scrub
        ids = [int(r.id) for r in own]
        if not ids:
            return
        entries = list(
            conn.execute(select(local_ticket_entries).where(local_ticket_entries.c.interaction_id.in_(ids)))
        )
        for entry in entries:
            conn.execute(
                update(local_ticket_entries)
                .where(local_ticket_entries.c.id == entry.id)
                .values(text=ERASED, author=ERASED if entry.author else None)
            )
        self.report.local_ticket_entries = len(entries)
        tickets = sorted({int(e.ticket_id) for e in entries})
        for row in conn.execute(select(local_tickets).where(local_tickets.c.id.in_(tickets))):
            explanation = row.explanation
            if explanation in self.own_triage:  # the ticket's explanation quotes their words
                explanation = _QUOTED.sub(ERASED, explanation)
            values = {
                "fields": scrub.json(row.fields),
                "explanation": explanation,
                "resolution": scrub.text(row.resolution) if row.resolution else row.resolution,
            }
            if any(values[k] != getattr(row, k) for k in values):
                conn.execute(update(local_tickets).where(local_tickets.c.id == row.id).values(**values))
                self.scrubbed_tickets.add(int(row.id))

    def _deletions(self, keys: list[str], handles: list[str]) -> None:
        conn, platform = self.conn, self.person.platform
        cache = conn.execute(identity_cache.delete().where(identity_cache.c.author_key.in_(keys)))
        self.report.identity_cache = cache.rowcount
        links = conn.execute(
            customer_identities.delete().where(
                customer_identities.c.platform == platform,
                or_(
                    (customer_identities.c.kind == "social_id")
                    & (customer_identities.c.value == self.person.user_id),
                    (customer_identities.c.kind == "handle")
                    & customer_identities.c.value.in_(sorted({normalize_handle(h) for h in handles})),
                ),
            )
        )
        self.report.local_customer_links = links.rowcount

    def _mentions_elsewhere(self) -> None:
        """Every other place that may name them: candidates found in SQL, scrubbed in Python."""
        scrub, report = self.scrub, self.report
        full, mentions = scrub.text, scrub.mentions
        report.raw_events += self._scan(
            raw_events, {"body": scrub.body, "headers": scrub.json, "summary": scrub.json}
        )
        # Other people's words lose only @mentions of them; their payload copies lose everything.
        report.mentioning_them += self._scan(interactions, {"raw": scrub.json}, {"text": mentions})
        report.replies += self._scan(replies, {"text": full, "detail": full}, skip=self.replied)
        report.status_changes += self._scan(status_changes, {"resolution": full})
        report.local_tickets += self._scan(
            local_tickets, {"fields": scrub.json, "resolution": full}, skip=self.scrubbed_tickets
        )
        report.local_ticket_entries += self._scan(local_ticket_entries, {}, {"text": mentions})
        report.audit_log += self._scan(audit_log, {"subject": full, "detail": scrub.json})
        report.jobs += self._scan(outbox, {"last_error": full}) + self._scan(dead_letters, {"error": full})
        self._state()

    def _scan(
        self,
        table: Table,
        columns: dict[str, Callable[[Any], Any]],
        mention_columns: dict[str, Callable[[str], str]] | None = None,
        skip: set[int] | None = None,
    ) -> int:
        """Scrub the rows that may mention them; return how many rows changed.

        ``columns`` are searched for anything of theirs, ``mention_columns`` (other
        people's own words) for their handle only.
        """
        mention_columns = mention_columns or {}
        candidates = [self.scrub.candidates(table.c[name]) for name in columns]
        candidates += [self.scrub.candidates(table.c[name], mentions_only=True) for name in mention_columns]
        fixes = {**columns, **mention_columns}
        changed = 0
        for row in list(self.conn.execute(select(table).where(or_(*candidates)))):
            if skip and int(row.id) in skip:
                continue
            values = {name: fix(getattr(row, name)) for name, fix in fixes.items() if getattr(row, name)}
            values = {name: value for name, value in values.items() if value != getattr(row, name)}
            if values:
                self.conn.execute(update(table).where(table.c.id == row.id).values(**values))
                changed += 1
        return changed

    def _state(self) -> None:
        """Connector state: entries keyed by them (caches such as follower counts) go, values are scrubbed."""
        conn, scrub = self.conn, self.scrub
        condition = or_(scrub.candidates(connector_state.c.key), scrub.candidates(connector_state.c.value))
        for row in list(conn.execute(select(connector_state).where(condition))):
            where = (connector_state.c.scope == row.scope) & (connector_state.c.key == row.key)
            if scrub.text(row.key) != row.key or scrub.mentions(row.key) != row.key:
                conn.execute(connector_state.delete().where(where))
                self.report.connector_state += 1
                continue
            value = scrub.json(row.value)
            if value != row.value:
                conn.execute(update(connector_state).where(where).values(value=value))
                self.report.connector_state += 1
