"""Create child records (CaseComments, SocialPosts) exactly once, in sObject Collections batches.

These objects have no external id to upsert on, so each record's intent is stored before
the create call and its Salesforce id after it. A record whose intent has no id (a crash
or an ambiguous timeout between the two) is looked for among its parent's existing
children (one query per batch) before anything is posted again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from connector.crm.base import RecordFailure
from connector.crm.batching import chunked
from connector.crm.salesforce_client import SalesforceClient, record_failure
from connector.crm.salesforce_soql import select_where_in
from connector.store import Store

log = logging.getLogger("ventanilla.salesforce")
#: Finds the markers of existing children of some parents: marker → record id.
Finder = Callable[[Sequence[str]], dict[str, str]]
_MARKER = re.compile(r"\[ventanilla:[^\]\s]+\]\s*$")


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A child record to create once: ``key`` names the intent, ``marker`` finds it again."""

    kind: str
    key: str
    parent_id: str
    record: dict[str, Any]
    marker: str


def body_marker(body: str) -> str | None:
    """The ``[ventanilla:<platform>:<external id>]`` marker ending a comment body, if any."""
    found = _MARKER.search(body or "")
    return found.group(0).strip() if found else None


class RecordWriter:
    """Posts :class:`NewRecord` batches with intent records kept in the store."""

    def __init__(
        self, client: SalesforceClient, store: Store, scope: str, finders: dict[str, Finder]
    ) -> None:
        self.client = client
        self.store = store
        self.scope = scope
        self.finders = finders

    def _scope(self, kind: str) -> str:
        return f"{self.scope}:{kind}"

    def create_once(self, items: Sequence[NewRecord]) -> list[RecordFailure | None]:
        """Create every record not created before; the answer per item, in order."""
        outcome: dict[tuple[str, str], RecordFailure | None] = {}
        unique = list({(i.kind, i.key): i for i in reversed(items)}.values())[::-1]
        by_kind: dict[str, list[NewRecord]] = {}
        for item in unique:
            by_kind.setdefault(item.kind, []).append(item)
        to_create: list[NewRecord] = []
        for kind, group in by_kind.items():
            states = self.store.get_states(self._scope(kind), [i.key for i in group])
            uncertain = []
            for item in group:
                state = states.get(item.key)
                if isinstance(state, dict) and state.get("id"):
                    outcome[(kind, item.key)] = None  # created before: nothing to do
                elif isinstance(state, dict) and not state.get("failed"):
                    uncertain.append(item)
                else:
                    to_create.append(item)
            to_create += self._settle_uncertain(kind, uncertain, outcome)
        self._post(to_create, outcome)
        return [outcome[(i.kind, i.key)] for i in items]

    def _settle_uncertain(
        self, kind: str, uncertain: list[NewRecord], outcome: dict[tuple[str, str], RecordFailure | None]
    ) -> list[NewRecord]:
        """Find records posted before a crash; return those that really are missing."""
        if not uncertain:
            return []
        existing = self.finders[kind](sorted({i.parent_id for i in uncertain}))
        found = {
            i.key: {"parent": i.parent_id, "id": existing[i.marker]}
            for i in uncertain
            if i.marker in existing
        }
        self.store.set_states(self._scope(kind), found)
        for key in found:
            outcome[(kind, key)] = None
        if found:
            log.info(
                "%s: %d %s record(s) were created before an interruption; not posted again",
                self.scope,
                len(found),
                kind,
            )
        return [i for i in uncertain if i.key not in found]

    def _post(self, items: list[NewRecord], outcome: dict[tuple[str, str], RecordFailure | None]) -> None:
        if not items:
            return
        for kind in {i.kind for i in items}:
            self.store.set_states(
                self._scope(kind),
                {i.key: {"parent": i.parent_id, "id": None} for i in items if i.kind == kind},
            )
        # Salesforce processes a mixed-type collection in chunks of one type; keep types together.
        ordered = sorted(items, key=lambda i: i.kind)
        for chunk in chunked(ordered, self.client.settings.batch_size):
            results = self.client.collection(
                "POST", "composite/sobjects", [i.record for i in chunk], idempotent=False
            )
            done: dict[str, dict[str, dict[str, Any]]] = {}
            for item, result in zip(chunk, results, strict=True):
                failure = record_failure(result)
                outcome[(item.kind, item.key)] = failure
                state: dict[str, Any] = {
                    "parent": item.parent_id,
                    "id": None if failure else str(result["id"]),
                }
                if failure is not None:
                    state["failed"] = True  # refused, so certainly not created: retry posts at once
                done.setdefault(item.kind, {})[item.key] = state
            for kind, states in done.items():
                self.store.set_states(self._scope(kind), states)


def comment_finder(
    client: SalesforceClient, sobject: str, parent_field: str, body_field: str, chunk: int
) -> Finder:
    """Markers of existing comments (CommentBody cannot be filtered in SOQL: read, then match)."""

    def find(parents: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for ids in chunked(parents, chunk):
            query = select_where_in(sobject, ["Id", parent_field, body_field], parent_field, ids)
            for row in client.query_all(query):
                marker = body_marker(str(row.get(body_field) or ""))
                if marker:
                    found.setdefault(marker, str(row["Id"]))
        return found

    return find


def social_post_finder(client: SalesforceClient, chunk: int) -> Finder:
    """Markers (``Provider:ExternalPostId``) of SocialPosts already on the Cases."""

    def find(parents: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for ids in chunked(parents, chunk):
            query = select_where_in(
                "SocialPost", ["Id", "ParentId", "Provider", "ExternalPostId"], "ParentId", ids
            )
            for row in client.query_all(query):
                found.setdefault(f"{row.get('Provider')}:{row.get('ExternalPostId')}", str(row["Id"]))
        return found

    return find
