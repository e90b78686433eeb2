"""Erase one person (right to erasure), keeping only the audit record that it happened.

The person is an author key ``platform:user_id``. In ONE transaction:

* their interactions: text ``[erased]``, author reduced to the platform and a pseudonym
  (``erased:`` + 16 hex digits of sha256 of the author key), ``author_key`` the
  pseudonymous key, ``raw`` emptied, permalink removed, triage kept with the terms it
  quoted from the text replaced; a direct-message thread keyed by their id is re-keyed by
  the pseudonym everywhere (interactions, thread links, replies, local tickets);
* the brand's messages and replies addressed to them (a reply to one of their
  interactions, or anything in their DM thread): text ``[erased]``; a reply not posted
  yet is rejected, so ``[erased]`` is never published; their unprocessed jobs are cancelled;
* raw events, other people's ``raw`` payloads, local ticket fields, resolution notes,
  reply details, audit details, job errors and connector state: every mention of their id,
  handle, name, links and texts (also JSON-escaped, and shortened copies such as X's
  140-character text or a ticket subject) becomes ``[erased]``; JSON stays JSON. Other
  people's texts only lose ``@handle`` mentions of them. Texts shorter than
  ``MIN_FRAGMENT`` are erased only inside their own payload objects, where they are known
  to be theirs, and user ids shorter than ``MIN_ID_IN_TEXT`` only where they are a whole value;
* their identity-cache rows are deleted; on the local desk, their ticket entries are
  anonymised and the social-id / handle links of a customer to them are deleted. The
  customer record itself belongs to the CRM (it came from the CRM import) and is not
  changed; outside desks (Salesforce, HubSpot) keep their own copies: erase them there.

A second run finds nothing and says so; one ``privacy.erased`` audit entry (counts only,
the pseudonym as subject) records each run that changed something.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Table, Text, cast, false, or_, select, update

from connector.crm.local import normalize_handle
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
from connector.store import JOB_PROCESS, Store
from connector.store_links import REPLY_RETRYABLE

ERASED = "[erased]"
#: Shorter texts (and lines of a text) are erased only inside their own payload objects.
MIN_FRAGMENT = 8
#: Shorter user ids are erased only where they are a whole value (an id field, a dict key).
MIN_ID_IN_TEXT = 6
#: A shortened copy of a text (a ticket subject, X's 140-character ``text``) shares this much.
MIN_PREFIX = 24
#: Inside their own payload objects these fields are theirs whatever their length.
_TEXT_KEYS = frozenset({"text", "message", "full_text", "caption", "name", "screen_name", "username"})
#: A payload object naming one of their interactions by one of these keys is theirs.
_OWN_ID_KEYS = ("id", "id_str", "external_id", "comment_id", "mid")
_UNSENT_REPLIES = frozenset({"intent", "sending", "awaiting_approval", *REPLY_RETRYABLE})
_URL = re.compile(r"https?://[^\s\]\)\"'<>]+")
_QUOTED = re.compile(r'"[^"]*"(?:, "[^"]*")*')
_WORD = re.compile(r"\w")


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
class _Person:
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


def _bounded(literal: str) -> str:
    """A regex for ``literal`` that does not match inside a longer word or number."""
    pattern = re.escape(literal)
    if _WORD.match(literal[0]):
        pattern = r"(?<!\w)" + pattern
    if _WORD.match(literal[-1]):
        pattern += r"(?!\w)"
    return pattern


class _Scrubber:
    """Finds and replaces one person's identifiers and texts in strings and JSON trees."""

    def __init__(
        self,
        person: _Person,
        handles: Iterable[str],
        names: Iterable[str],
        links: Iterable[str],
        texts: Iterable[str],
        threads: dict[str, str],
        own_raws: list[Any],
        own_ids: Iterable[str],
    ) -> None:
        self.person = person
        self.own_raws = own_raws
        self.own_ids = frozenset(own_ids)
        self.handles = {h.strip().lstrip("@").lower() for h in handles if h and h.strip().lstrip("@")}
        self.handles -= {"erased"}
        full_texts = {t.strip() for t in texts if len(t.strip()) >= MIN_FRAGMENT}
        fragments = {
            line.strip() for t in texts for line in t.splitlines() if len(line.strip()) >= MIN_FRAGMENT
        }
        links = {*links, *(url for t in texts for url in _URL.findall(t))}
        self.long_texts = sorted({t for t in full_texts | fragments if len(t) >= MIN_PREFIX}, key=len)
        self.exact: dict[str, str] = {person.user_id: ERASED, person.key: person.pseudonym_key, **threads}
        for value in {*full_texts, *fragments, *(n for n in names if n), *(u for u in links if u)}:
            self.exact.setdefault(value, ERASED)
        # (regex, replacement) alternatives, longest literal first so a thread key wins over the id.
        literals: list[tuple[str, str, str]] = [(old, _bounded(old), new) for old, new in threads.items()]
        literals.append((person.key, _bounded(person.key), person.pseudonym_key))
        if len(person.user_id) >= MIN_ID_IN_TEXT:
            literals.append((person.user_id, _bounded(person.user_id), ERASED))
        for value in self.exact:
            if self.exact[value] == ERASED and value != person.user_id:
                literals.append((value, _bounded(value), ERASED))
                escaped = html.escape(value, quote=False)
                if escaped != value:
                    literals.append((escaped, _bounded(escaped), ERASED))
        literals += [(h, self._handle_pattern(h), ERASED) for h in self.handles]
        literals.sort(key=lambda item: len(item[0]), reverse=True)
        self.replacements = [new for _, _, new in literals]
        self.pattern = self._compile(pattern for _, pattern, _ in literals)
        self.mention_pattern = self._compile(self._handle_pattern(h) for h in self.handles)
        # Their id always: a short one is still erased where it is a whole value (X's numeric "id").
        self.like_forms = self._forms([person.user_id, *(literal for literal, _, _ in literals)])
        self.mention_forms = self._forms(self.handles)

    @staticmethod
    def _handle_pattern(handle: str) -> str:
        return r"(?i:(?<![\w.@])@?" + re.escape(handle) + r"(?!\w))"

    @staticmethod
    def _compile(patterns: Iterable[str]) -> re.Pattern[str] | None:
        alternatives = [f"(?P<g{i}>{p})" for i, p in enumerate(patterns)]
        return re.compile("|".join(alternatives)) if alternatives else None

    @staticmethod
    def _forms(literals: Iterable[str]) -> list[str]:
        """What to look for in SQL: each literal (a text by its prefix) as stored and JSON-escaped."""
        forms: set[str] = set()
        for literal in literals:
            short = literal[:MIN_PREFIX]
            for form in (short, json.dumps(short)[1:-1], json.dumps(short, ensure_ascii=False)[1:-1]):
                forms.update((form, form.replace("/", "\\/")))
        return sorted(f for f in forms if f)

    # --- strings ------------------------------------------------------------------------

    def text(self, value: str) -> str:
        """Replace every identifier, link and text (or shortened copy) of theirs in ``value``."""
        if self.pattern is not None:
            value = self.pattern.sub(self._replace, value)
        for text in self.long_texts:
            while text[:MIN_PREFIX] in value:
                low, high = MIN_PREFIX, len(text)
                while low < high:  # the longest prefix of the text present in value
                    middle = (low + high + 1) // 2
                    low, high = (middle, high) if text[:middle] in value else (low, middle - 1)
                value = value.replace(text[:low], ERASED)
        return value

    def _replace(self, match: re.Match[str]) -> str:
        return self.replacements[int((match.lastgroup or "g0")[1:])]

    def mentions(self, value: str) -> str:
        """Replace only ``@handle`` mentions of them (for other people's own words)."""
        return value if self.mention_pattern is None else self.mention_pattern.sub(ERASED, value)

    def _exact(self, value: str) -> str | None:
        found = self.exact.get(value) or self.exact.get(value.strip())
        if found is None and value.strip().lstrip("@").lower() in self.handles:
            return ERASED
        return found

    def json(self, value: Any, key: str | None = None, own: bool = False) -> Any:
        """Scrub a JSON tree; inside their own payload objects every text-like field is erased."""
        if isinstance(value, dict):
            own = own or self._is_theirs(value)
            return {self._exact(k) or self.text(k): self.json(v, k, own) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(item, key, own) for item in value]
        if isinstance(value, str):
            if own and value and (key or "").lower() in _TEXT_KEYS:
                return ERASED
            exact = self._exact(value)
            return exact if exact is not None else self.text(value)
        id_like = key is not None and (key == "id" or key.endswith(("_id", "_id_str")))
        if isinstance(value, int) and not isinstance(value, bool) and id_like:
            return ERASED if str(value) == self.person.user_id else value
        return value

    def _is_theirs(self, value: dict[str, Any]) -> bool:
        """Their stored payload, or an object carrying one of their interaction ids (a quoted tweet)."""
        named = (value.get(key) for key in _OWN_ID_KEYS)
        return any(str(v) in self.own_ids for v in named if v is not None) or value in self.own_raws

    def body(self, value: str) -> str:
        """A raw event body: scrubbed as JSON when it is JSON (and stays JSON), else as text."""
        try:
            data = json.loads(value)
        except ValueError:
            return self.text(value)
        cleaned = self.json(data)
        return value if cleaned == data else json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"))

    # --- SQL ------------------------------------------------------------------------------

    def candidates(self, column: Column[Any], mentions_only: bool = False) -> ColumnElement[bool]:
        """Rows whose ``column`` may mention them (a superset; the scrub decides)."""
        forms = self.mention_forms if mentions_only else self.like_forms
        text = column if isinstance(column.type, Text) else cast(column, Text)
        return or_(false(), *(text.icontains(form, autoescape=True) for form in forms))


def erase_person(store: Store, platform: str, user_id: str, actor: str = "cli") -> ErasureReport:
    """Anonymise everything stored about ``platform:user_id`` in one transaction; see the module doc."""
    if not platform.strip() or not user_id.strip():
        raise ValueError(
            "erasing needs a platform and a user id (an empty id would match every unknown author)"
        )
    person = _Person(platform.strip(), user_id.strip())
    report = ErasureReport(person.platform, person.user_id, person.pseudonym)
    with store.write() as conn:
        _Erasure(conn, person, report).run()
        if report.touched:
            store.audit(conn, actor, "privacy.erased", person.pseudonym, report.counts())
        else:
            report.erased_before = conn.execute(
                select(audit_log.c.at)
                .where(audit_log.c.action == "privacy.erased", audit_log.c.subject == person.pseudonym)
                .order_by(audit_log.c.id)
                .limit(1)
            ).scalar()
    return report


class _Erasure:
    """The steps of one erasure, sharing the connection, the person and the report."""

    def __init__(self, conn: Connection, person: _Person, report: ErasureReport) -> None:
        self.conn = conn
        self.person = person
        self.report = report
        self.own_triage: set[str] = set()  # the explanations triage wrote for their interactions
        self.replied: set[int] = set()  # replies to them, already erased
        self.scrubbed_tickets: set[int] = set()  # local tickets holding their entries, already scrubbed

    def run(self) -> None:
        person, conn = self.person, self.conn
        own = list(conn.execute(select(interactions).where(interactions.c.author_key == person.key)))
        handles = {r.author.get("handle") for r in own} - {None}
        keys = [person.key, *(f"{person.platform}:username:{h}" for h in handles)]
        if len(keys) > 1:  # an Instagram mention author known by username only is the same person
            own = list(conn.execute(select(interactions).where(interactions.c.author_key.in_(keys))))
        subjects = {f"{r.platform}:{r.external_id}" for r in own}
        edits = [
            row
            for row in conn.execute(
                select(audit_log).where(
                    audit_log.c.action == "interaction.edited", audit_log.c.subject.in_(sorted(subjects))
                )
            )
        ]
        texts = [r.text for r in own] + [
            str(row.detail.get(k) or "") for row in edits for k in ("old_text", "new_text")
        ]
        threads = self._own_threads()
        self.scrub = _Scrubber(
            person,
            handles=[str(h) for h in handles],
            names=[str(r.author.get("display_name") or "") for r in own],
            # Not permalinks: a Facebook permalink is the brand's post, shared by every commenter
            # (an X permalink holds their handle, which is erased anyway).
            links=[str(r.author.get("profile_url") or "") for r in own],
            texts=texts,
            threads=threads,
            own_raws=[r.raw for r in own if r.raw],
            own_ids=[r.external_id for r in own],
        )
        self._own_interactions(own)
        self._addressed_to_them({(r.platform, r.external_id) for r in own}, threads)
        self._rekey_threads(threads)
        self._local_desk(own)
        self._deletions(keys, [str(h) for h in handles])
        self.report.local_tickets = len(self.scrubbed_tickets)
        for row in edits:
            detail = {**row.detail, "old_text": ERASED, "new_text": ERASED}
            conn.execute(update(audit_log).where(audit_log.c.id == row.id).values(detail=detail))
            self.report.audit_log += 1
        self._mentions_elsewhere()

    def _own_threads(self) -> dict[str, str]:
        """Their direct-message threads (keyed by their id) → the same key with the pseudonym."""
        platform, user_id = self.person.platform, self.person.user_id
        rows = self.conn.execute(
            select(interactions.c.thread_key, interactions.c.brand_account_id)
            .where(interactions.c.platform == platform, interactions.c.thread_key.endswith(f":{user_id}"))
            .distinct()
        )
        return {
            row.thread_key: f"{platform}:{row.brand_account_id}:{self.person.pseudonym}"
            for row in rows
            if row.thread_key == f"{platform}:{row.brand_account_id}:{user_id}"
        }

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
