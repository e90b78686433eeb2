"""Batch writes with per-record outcomes, and notes created exactly once.

HubSpot refuses a whole batch (400 VALIDATION_ERROR) when one input is invalid. The
message lists each bad property with its value, so :func:`write_batch` blames the inputs
carrying them, fails those alone with HubSpot's message and sends the rest again; when
nothing can be blamed it splits the batch in halves. Successful inputs are matched to
their results by ``objectWriteTraceId``.

Notes have no unique property to upsert on, so each note's intent is stored before the
create call and its id after it. A note whose intent has no id (a crash or an ambiguous
timeout in between) is looked for among its ticket's notes, by the marker ending its
body, before anything is posted again.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hubspot.crm.objects import AssociationSpec, PublicAssociationsForObject, PublicObjectId
from hubspot.crm.objects import SimplePublicObjectBatchInputForCreate as NoteInput

from connector.crm.base import RecordFailure
from connector.crm.batching import chunked
from connector.crm.hubspot_client import BatchAnswer, HubSpotClient, RefusedError
from connector.store import Store

log = logging.getLogger("ventanilla.hubspot")
_MARKER = re.compile(r"\[ventanilla:[^\]\s<>]+\]")
_NOT_VALID = "Property values were not valid: "
# Property errors whose message does not quote the value: every input setting the property is at fault.
_PROPERTY_ERRORS = frozenset({"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE"})
#: Outcome of one input: its result record, or why it failed.
Outcome = dict[str, Any] | RecordFailure


def last_marker(body: str) -> str | None:
    """The last ``[ventanilla:<platform>:<external id>]`` in a note body (HTML or not)."""
    found = _MARKER.findall(body or "")
    return found[-1] if found else None


def _entries(error: RefusedError) -> list[dict[str, Any]]:
    """The per-property entries HubSpot embeds in a "Property values were not valid" message."""
    message = str(error.body.get("message") or "")
    if not message.startswith(_NOT_VALID):
        return []
    try:
        entries = json.loads(message[len(_NOT_VALID) :])
    except ValueError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _quotes(entry: dict[str, Any], value: str) -> bool:
    """Does the entry's message name this value as the bad one (not merely list it as an option)?"""
    head = str(entry.get("message", "")).split(": [")[0]
    return re.search(rf"(^|\s){re.escape(value)}(\s|$)", head) is not None


def blame(error: RefusedError, inputs: Sequence[Any]) -> dict[str, RecordFailure]:
    """The inputs (by trace id) a batch refusal is about, each with HubSpot's own messages."""
    entries = _entries(error)
    required = (error.body.get("context") or {}).get("properties") or []
    blamed: dict[str, RecordFailure] = {}
    for item in inputs:
        properties: dict[str, Any] = item.properties or {}
        hits = [
            e
            for e in entries
            if e.get("name") in properties
            and (e.get("error") in _PROPERTY_ERRORS or _quotes(e, str(properties[e["name"]])))
        ]
        messages = [str(e.get("message")) for e in hits]
        fields = [str(e["name"]) for e in hits]
        missing = [str(p) for p in required if not properties.get(str(p))]
        if missing:
            messages.append(str(error.body.get("message") or "required properties missing"))
            fields += missing
        if messages:
            text = "; ".join(dict.fromkeys(messages))
            blamed[item.object_write_trace_id] = RecordFailure(
                f"hubspot: {text}", True, tuple(dict.fromkeys(fields))
            )
    return blamed


def write_batch(send: Callable[[list[Any]], BatchAnswer], inputs: Sequence[Any]) -> dict[str, Outcome]:
    """Send inputs (with unique ``object_write_trace_id``) and return the outcome per trace id.

    Only refusals of the data (400, 409) are isolated; transient errors, and a 404 for
    the endpoint itself, propagate to the caller. Each round removes at least one input
    or halves the batch, within a budget of calls: a refusal no input explains (the
    mapping's fault) leaves the inputs it did not settle as transient failures.
    """
    outcome: dict[str, Outcome] = {}
    queue: list[list[Any]] = [list(inputs)] if inputs else []
    budget = 2 * math.ceil(math.log2(max(len(inputs), 2))) + 4
    refusal = "hubspot: the batch was refused"
    while queue and budget > 0:
        batch = queue.pop()
        budget -= 1
        try:
            answer = send(batch)
        except RefusedError as exc:
            if exc.status == 404:
                raise
            refusal = str(exc)
            if len(batch) == 1:
                fields = tuple(f for e in _entries(exc) if (f := str(e.get("name", ""))))
                outcome[batch[0].object_write_trace_id] = RecordFailure(str(exc), True, fields)
                continue
            blamed = blame(exc, batch)
            outcome.update(blamed)
            rest = [i for i in batch if i.object_write_trace_id not in blamed]
            if blamed and rest:
                queue.append(rest)
            elif not blamed:
                middle = len(batch) // 2
                queue += [batch[middle:], batch[:middle]]
            continue
        outcome.update(match_results(batch, answer))
    unsettled = RecordFailure(f"{refusal} (this record could not be isolated from its batch)", False)
    return {i.object_write_trace_id: outcome.get(i.object_write_trace_id, unsettled) for i in inputs}


def match_results(batch: list[Any], answer: BatchAnswer) -> dict[str, Outcome]:
    """Results by trace id; inputs a 207 error names (``context.ids``) fail with its message."""
    traced: dict[str, Outcome] = {
        str(r["objectWriteTraceId"]): r for r in answer.results if r.get("objectWriteTraceId") is not None
    }
    if not traced and len(answer.results) == len(batch):  # no trace ids echoed: the answer is in order
        traced = {item.object_write_trace_id: r for item, r in zip(batch, answer.results, strict=True)}
    for error in answer.errors:
        context = error.get("context") or {}
        named = {str(i) for key in ("ids", "id") for i in context.get(key) or []}
        text = f"hubspot: {error.get('category') or 'ERROR'}: {error.get('message') or 'refused'}"
        for item in batch:
            if {item.object_write_trace_id, str(getattr(item, "id", None))} & named:
                traced.setdefault(item.object_write_trace_id, RecordFailure(text, permanent=True))
    reasons = "; ".join(str(e.get("message") or e.get("category")) for e in answer.errors)
    missing = RecordFailure(
        f"hubspot: no result for this record ({reasons or 'no reason given'})", permanent=False
    )
    return {item.object_write_trace_id: traced.get(item.object_write_trace_id, missing) for item in batch}


# --- notes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewNote:
    """A note to create once: ``key`` names the intent, ``marker`` finds it again."""

    key: str
    ticket_id: str
    properties: dict[str, str]
    marker: str


class NoteWriter:
    """Creates notes associated to their tickets, with intent records kept in the store."""

    def __init__(
        self, client: HubSpotClient, store: Store, scope: str, body_field: str, association_type_id: int
    ) -> None:
        self.client = client
        self.store = store
        self.scope = scope
        self.body_field = body_field
        self.association_type_id = association_type_id

    def create_once(self, notes: Sequence[NewNote]) -> list[RecordFailure | None]:
        """Create every note not created before; the answer per note, in order."""
        outcome: dict[str, RecordFailure | None] = {}
        unique = list({n.key: n for n in notes}.values())
        states = self.store.get_states(self.scope, [n.key for n in unique])
        uncertain, to_create = [], []
        for note in unique:
            state = states.get(note.key)
            if isinstance(state, dict) and state.get("id"):
                outcome[note.key] = None  # created before: nothing to do
            elif isinstance(state, dict) and not state.get("failed"):
                uncertain.append(note)
            else:
                to_create.append(note)
        to_create += self._settle_uncertain(uncertain, outcome)
        self._post(to_create, outcome)
        return [outcome[n.key] for n in notes]

    def _settle_uncertain(
        self, uncertain: list[NewNote], outcome: dict[str, RecordFailure | None]
    ) -> list[NewNote]:
        """Find notes posted before an interruption; return those that really are missing."""
        if not uncertain:
            return []
        existing = self.find_markers(sorted({n.ticket_id for n in uncertain}))
        found = {
            n.key: {"ticket": n.ticket_id, "id": existing[n.marker]}
            for n in uncertain
            if n.marker in existing
        }
        self.store.set_states(self.scope, found)
        outcome.update(dict.fromkeys(found))
        if found:
            log.info(
                "%s: %d note(s) were created before an interruption; not posted again", self.scope, len(found)
            )
        return [n for n in uncertain if n.key not in found]

    def find_markers(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        """Marker → note id of the notes on these tickets (associations, then the notes' bodies)."""
        note_ids: list[str] = []
        for chunk in chunked(ticket_ids, self.client.settings.batch_size):
            for result in self.client.read_associations("tickets", "notes", chunk).results:
                note_ids += [
                    str(t["toObjectId"]) for t in result.get("to") or [] if t.get("toObjectId") is not None
                ]
        found: dict[str, str] = {}
        for chunk in chunked(sorted(set(note_ids)), self.client.settings.batch_size):
            for note in self.client.batch_read("notes", chunk, [self.body_field]).results:
                marker = last_marker(str((note.get("properties") or {}).get(self.body_field) or ""))
                if marker:
                    found.setdefault(marker, str(note["id"]))
        return found

    def _post(self, notes: list[NewNote], outcome: dict[str, RecordFailure | None]) -> None:
        if not notes:
            return
        self.store.set_states(self.scope, {n.key: {"ticket": n.ticket_id, "id": None} for n in notes})
        spec = AssociationSpec(
            association_category="HUBSPOT_DEFINED", association_type_id=self.association_type_id
        )
        inputs = [
            NoteInput(
                properties=n.properties,
                associations=[PublicAssociationsForObject(to=PublicObjectId(id=n.ticket_id), types=[spec])],
                object_write_trace_id=n.key,
            )
            for n in notes
        ]
        for chunk in chunked(inputs, self.client.settings.batch_size):
            results = write_batch(lambda batch: self.client.batch_create("notes", batch), chunk)
            states: dict[str, dict[str, Any]] = {}
            for note in (n for n in notes if n.key in results):
                result = results[note.key]
                if isinstance(result, RecordFailure):
                    outcome[note.key] = result
                    # Refused, so certainly not created: the next try posts at once.
                    states[note.key] = {"ticket": note.ticket_id, "id": None, "failed": result.permanent}
                else:
                    outcome[note.key] = None
                    states[note.key] = {"ticket": note.ticket_id, "id": str(result["id"])}
            self.store.set_states(self.scope, states)
