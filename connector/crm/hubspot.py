"""The HubSpot connector: contacts matched, tickets batch-upserted and associated, notes appended.

Everything is batched for the API budget (a burst of 1,000 interactions costs about 30
requests): contacts read by unique properties or searched in shared ``IN`` requests,
tickets upserted on a unique property holding the thread key (≤ 100 a call), new tickets
associated to their contact and company in batch association calls, follow-ups posted
as notes associated inline. Lifecycle decisions stay in the pipeline; this module only
runs idempotent operations keyed by what the pipeline chose.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hubspot.crm.objects import (
    AssociationSpec,
    Filter,
    FilterGroup,
    PublicAssociationsForObject,
    PublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
)

from connector.config import ConfigError
from connector.crm.base import (
    ConnectorError,
    FollowUp,
    IdentifyRequest,
    PermanentConnectorError,
    RecordFailure,
    TicketDraft,
)
from connector.crm.batching import RetryableError, chunked
from connector.crm.hubspot_client import HubSpotClient, RefusedError
from connector.crm.hubspot_customers import CustomerFinder
from connector.crm.hubspot_records import NewNote, NoteWriter, Outcome, match_results, write_batch
from connector.crm.hubspot_settings import HubSpotSettings
from connector.crm.matching import followup_lines, marker_for, wire_value
from connector.model import Customer, StatusChange, TicketRef, parse_datetime
from connector.store import Store
from mappings import Mapping
from mappings.loader import TargetSpec

log = logging.getLogger("ventanilla.hubspot")
SYSTEM = "hubspot"
TICKET_TYPE_ID = "0-5"  # tickets' object type id, in record URLs
NOTE_TO_TICKET = 228  # HUBSPOT_DEFINED note → ticket (protocols.md C.4; the mapping may say otherwise)
TICKET_TO_CONTACT, TICKET_TO_COMPANY = 16, 26
MODIFIED = "hs_lastmodifieddate"
PAGE_SIZE = 200  # the most a search page returns
SEARCH_CAP = 10_000  # results one search query can page through
# hs_note_body holds 65,536 characters; escaped HTML is at most 6 times the text.
TEXT_LIMIT = 10_000


def note_body(followup: FollowUp) -> str:
    """Who said what, where, as HTML paragraphs (notes are rich text), ending with the marker."""
    return "".join(
        f"<p>{html.escape(line).replace(chr(10), '<br>')}</p>"
        for line in followup_lines(followup, TEXT_LIMIT)
    )


def hubspot_time(moment: datetime) -> str:
    """``2026-11-23T09:00:00.000Z``: the form HubSpot writes datetimes in."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _named_ids(error: dict[str, Any]) -> set[str]:
    """The record ids an error body's ``context`` names (``id``, ``ids``, ``fromObjectId``…)."""
    context = error.get("context")
    if not isinstance(context, dict):
        return set()
    return {str(i) for values in context.values() if isinstance(values, list) for i in values}


class HubSpotConnector:
    """One desk on one HubSpot account; implements :class:`connector.crm.base.Connector`."""

    system = SYSTEM
    cacheable = True

    def __init__(self, store: Store, desk: str, mapping: Mapping, settings: HubSpotSettings) -> None:
        target = mapping.target
        if target is None or not target.key_field:
            raise ConfigError(f"desks.{desk}.mapping: {mapping.source} needs target.key_field for hubspot")
        self.store = store
        self.desk = desk
        self.mapping = mapping
        self.target: TargetSpec = target
        self.key_field: str = target.key_field
        self.object = mapping.object
        self.settings = settings
        self.identity_cache_ttl_s = settings.identity_cache_ttl_s
        self.client = HubSpotClient(settings, store, f"hubspot:{settings.account_key}")
        self.customers = CustomerFinder(self.client, mapping, store, desk)
        followup = target.followup
        self.notes = NoteWriter(
            self.client,
            store,
            f"hubspot:{desk}:notes",
            followup.body_field,
            followup.association_type_id or NOTE_TO_TICKET,
        )
        self.associations_scope = f"hubspot:{desk}:associations"
        self._create_first: bool | None = None  # known once the key property was checked

    # --- identify ------------------------------------------------------------------------

    def find_customers(self, requests: Sequence[IdentifyRequest]) -> dict[str, Customer]:
        """Match authors strategy by strategy, in batch reads and shared searches."""
        with self.client.batch():
            return self.customers.find(requests)

    # --- tickets -------------------------------------------------------------------------

    def upsert_tickets(self, drafts: Sequence[TicketDraft]) -> list[TicketRef | RecordFailure]:
        """Upsert tickets on the key property (≤ 100 a call); associate the new ones.

        When a later chunk fails after earlier ones went through, its drafts get a failure
        instead of an exception, so the tickets already made are linked.
        """
        if not drafts:
            return []
        outcome: dict[str, Outcome] = {}
        with self.client.batch():
            create_first = self._can_create_first()
            for index, chunk in enumerate(chunked(drafts, self.settings.batch_size)):
                created = self._create_with_associations(list(chunk)) if create_first else None
                if created is not None:
                    outcome.update(created)
                    continue
                inputs = [self._upsert_input(d) for d in chunk]
                try:
                    outcome.update(
                        write_batch(lambda batch: self.client.batch_upsert(self.object, batch), inputs)
                    )
                except ConnectorError as exc:
                    if index == 0:
                        raise
                    failure = RecordFailure(str(exc), permanent=isinstance(exc, PermanentConnectorError))
                    outcome.update((d.external_key, failure) for d in drafts if d.external_key not in outcome)
                    break
            self._associate(drafts, outcome)
        return [self._ref(outcome[d.external_key]) for d in drafts]

    def _can_create_first(self) -> bool:
        """Creates are only idempotent because the key property is unique: check it once.

        On a property without unique values a replayed thread would get a second ticket,
        so unless the portal confirms uniqueness (or cannot say: no schema scope), every
        ticket goes through the upsert, whose own refusal then names the problem.
        """
        if self._create_first is None:
            try:
                definitions = self.client.properties(self.object)
            except ConnectorError as exc:
                # An optimisation only: without the schema (no scope, no endpoint, a hiccup)
                # every ticket simply goes through the upsert. Retry the check next batch
                # unless the portal refused it outright.
                log.warning(
                    "%s: cannot read %s properties (%s); tickets are upserted", self.desk, self.object, exc
                )
                if not isinstance(exc, RetryableError):
                    self._create_first = False
                return False
            definition = next((p for p in definitions if p.get("name") == self.key_field), None)
            self._create_first = bool(definition and definition.get("hasUniqueValue"))
        return self._create_first

    def _create_with_associations(self, chunk: list[TicketDraft]) -> dict[str, Outcome] | None:
        """Create a chunk of new threads' tickets with their associations in ONE call.

        The usual case (every thread is new) then needs no association calls at all. The
        key property is unique, so a replayed thread makes HubSpot refuse the create; any
        refusal returns None and the chunk goes through the upsert path, which isolates
        per-record errors and finishes associations for tickets it creates.
        """
        inputs = [
            SimplePublicObjectBatchInputForCreate(
                properties=self._properties(draft),
                associations=self._associations_of(draft) or None,
                object_write_trace_id=draft.external_key,
            )
            for draft in chunk
        ]
        try:
            answer = self.client.batch_create(self.object, inputs)
        except RefusedError:
            return None
        results = match_results(inputs, answer)
        if any(isinstance(result, RecordFailure) for result in results.values()):
            return None  # partly created: the upsert finds the created ones (new: false)
        # Created together with their associations: nothing left for _associate to do.
        return {
            key: {**result, "new": True, "associated": True}
            for key, result in results.items()
            if isinstance(result, dict)
        }

    def _associations_of(self, draft: TicketDraft) -> list[PublicAssociationsForObject]:
        customer = draft.customer
        if customer is None or customer.system != SYSTEM or not customer.customer_id:
            return []
        targets = [(customer.customer_id, TICKET_TO_CONTACT), (customer.account_id, TICKET_TO_COMPANY)]
        return [
            PublicAssociationsForObject(
                to=PublicObjectId(id=str(target)),
                types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)],
            )
            for target, type_id in targets
            if target
        ]

    def _properties(self, draft: TicketDraft) -> dict[str, str]:
        properties = {name: wire_value(v) for name, v in draft.fields.items() if v is not None}
        properties[self.key_field] = draft.external_key
        return properties

    def _upsert_input(self, draft: TicketDraft) -> Any:
        return SimplePublicObjectBatchInputUpsert(
            id_property=self.key_field,
            id=draft.external_key,
            properties=self._properties(draft),
            object_write_trace_id=draft.external_key,
        )

    def _ref(self, result: Outcome) -> TicketRef | RecordFailure:
        if isinstance(result, RecordFailure):
            return result
        ticket_id = str(result["id"])
        stage = (result.get("properties") or {}).get(self.target.status_field)
        status = (self.mapping.status_for(str(stage)) if stage is not None else None) or "open"
        return TicketRef(
            SYSTEM, ticket_id, ticket_id, status, self.settings.record_url(TICKET_TYPE_ID, ticket_id)
        )

    def _associate(self, drafts: Sequence[TicketDraft], outcome: dict[str, Outcome]) -> None:
        """Associate new tickets (and any left half-done by a crash) to their contact and company.

        The intent is stored before the association calls and cleared after them, so a
        retry whose upsert answers ``new: false`` still completes what a crash cut short.
        """
        with_customer = {
            d.external_key: d.customer
            for d in drafts
            if d.customer is not None
            and d.customer.system == SYSTEM
            and d.customer.customer_id
            and not isinstance(outcome.get(d.external_key), RecordFailure)
        }
        if not with_customer:
            return
        pending = self.store.get_states(self.associations_scope, list(with_customer))
        todo: dict[str, dict[str, Any]] = {}
        for key, customer in with_customer.items():
            result = outcome[key]
            assert not isinstance(result, RecordFailure)
            state = pending.get(key)
            if (result.get("new") and not result.get("associated")) or (
                isinstance(state, dict) and not state.get("done")
            ):
                todo[key] = {
                    "ticket": str(result["id"]),
                    "contact": customer.customer_id,
                    "company": customer.account_id,
                    "done": False,
                }
        if not todo:
            return
        self.store.set_states(self.associations_scope, todo)
        for to_type, role, type_id in (
            ("contacts", "contact", TICKET_TO_CONTACT),
            ("companies", "company", TICKET_TO_COMPANY),
        ):
            pairs = [(t["ticket"], str(t[role])) for t in todo.values() if t[role]]
            for chunk in chunked(pairs, self.settings.batch_size):
                self._associate_chunk(to_type, type_id, list(chunk))
        self.store.set_states(self.associations_scope, {key: {**t, "done": True} for key, t in todo.items()})

    def _associate_chunk(self, to_type: str, type_id: int, pairs: list[tuple[str, str]]) -> None:
        """Associate pairs in one batch call, dropping (and auditing) those HubSpot refuses.

        A contact deleted meanwhile must not fail its ticket: the ticket stands without it.
        """
        while pairs:
            try:
                answer = self.client.associate(self.object, to_type, pairs, type_id)
            except RefusedError as exc:
                context = exc.body.get("context") or {}
                named = {str(i) for key in ("id", "ids") for i in context.get(key) or []}
                refused = [p for p in pairs if named & set(p)] or pairs
                self._association_failed(to_type, refused, str(exc))
                pairs = [p for p in pairs if p not in refused]
                continue
            for error in answer.errors:
                self._association_failed(to_type, [], str(error.get("message") or error))
            return

    def _association_failed(self, to_type: str, pairs: list[tuple[str, str]], error: str) -> None:
        log.warning("%s: %s associations refused %s: %s", self.desk, to_type, pairs, error)
        self.store.audit_event(
            SYSTEM,
            "ticket.association_failed",
            f"{SYSTEM}:{self.desk}",
            {"to": to_type, "pairs": [list(p) for p in pairs], "error": error},
        )

    # --- crises ------------------------------------------------------------------------------

    def link_to_incident(self, parent_ticket_id: str, child_ticket_ids: Sequence[str]) -> None:
        """Associate each child ticket to the crisis's parent with the default ticket → ticket type.

        HubSpot tickets have no parent field: the unlabeled association lists the children on
        the parent's record (and the parent on theirs). Associating twice changes nothing, so
        a retried job is harmless. A child HubSpot refuses (deleted meanwhile) is dropped and
        audited rather than blocking the others; a refused parent fails the call.
        """
        children = [c for c in dict.fromkeys(map(str, child_ticket_ids)) if c != parent_ticket_id]
        if not children:
            return
        refused = 0
        with self.client.batch():
            for chunk in chunked(children, self.settings.batch_size):
                refused += self._link_chunk(parent_ticket_id, list(chunk))
        log.info(
            "%s: %d child ticket(s) linked to incident %s, %d refused",
            self.desk,
            len(children) - refused,
            parent_ticket_id,
            refused,
        )

    def _link_chunk(self, parent: str, children: list[str]) -> int:
        """Associate one chunk of children to the parent in one call; return how many were refused."""
        refused: set[str] = set()
        while children:
            pairs = [(child, parent) for child in children]
            try:
                answer = self.client.associate(self.object, self.object, pairs, None)
            except RefusedError as exc:
                named = _named_ids(exc.body)
                if parent in named or not named & set(children):
                    raise  # the parent itself is refused, or the whole request: nothing to drop
                dropped = [p for p in pairs if p[0] in named]
                self._association_failed(self.object, dropped, str(exc))
                refused.update(child for child, _ in dropped)
                children = [c for c in children if c not in named]
                continue
            for error in answer.errors:
                named = _named_ids(error)
                dropped = [p for p in pairs if p[0] in named]
                self._association_failed(self.object, dropped, str(error.get("message") or error))
                refused.update(child for child, _ in dropped)
            break
        return len(refused)

    def ticket_number(self, ticket_id: str) -> str:
        """The ticket's record id: what HubSpot shows agents and customers can quote."""
        return ticket_id

    # --- follow-ups and reopen ---------------------------------------------------------------

    def append_followups(self, followups: Sequence[FollowUp]) -> list[RecordFailure | None]:
        """One note per follow-up, associated to its ticket, never twice."""
        if not followups:
            return []
        spec = self.target.followup
        notes = []
        for followup in followups:
            item = followup.interaction
            key = str(item.id) if item.id is not None else f"{item.platform}:{item.external_id}"
            properties = {name: wire_value(v) for name, v in spec.fields.items() if v is not None}
            properties[spec.body_field] = note_body(followup)
            properties["hs_timestamp"] = hubspot_time(item.created_at)
            notes.append(NewNote(key, followup.ticket_id, properties, marker_for(item)))
        with self.client.batch():
            return self.notes.create_once(notes)

    def reopen_tickets(self, ticket_ids: Sequence[str]) -> list[RecordFailure | None]:
        """Move each ticket to the mapping's first open stage (an update, so idempotent)."""
        if not ticket_ids:
            return []
        stage = self.mapping.desk_status_for("open")
        outcome: dict[str, Outcome] = {}
        with self.client.batch():
            for chunk in chunked(list(dict.fromkeys(ticket_ids)), self.settings.batch_size):
                inputs = [
                    SimplePublicObjectBatchInput(
                        id=ticket_id,
                        properties={self.target.status_field: stage},
                        object_write_trace_id=ticket_id,
                    )
                    for ticket_id in chunk
                ]
                outcome.update(
                    write_batch(lambda batch: self.client.batch_update(self.object, batch), inputs)
                )
        return [r if isinstance(r, RecordFailure) else None for r in (outcome[t] for t in ticket_ids)]

    # --- status back -----------------------------------------------------------------------

    def read_status_changes(self, since: datetime | None) -> list[StatusChange]:
        """Our tickets changed at or after ``since``, oldest first (the webhook's polling fallback).

        A search pages through at most 10,000 results; past that the query starts again
        from the last modification seen. Changes repeat across polls; their event ids dedupe.
        """
        changes: dict[str, StatusChange] = {}
        with self.client.batch():
            while True:
                seen, last = self._changes_since(since, changes)
                if seen < SEARCH_CAP or last is None or last == since:
                    break
                since = last
        return sorted(changes.values(), key=lambda c: (c.occurred_at, c.ticket_id))

    def _changes_since(
        self, since: datetime | None, changes: dict[str, StatusChange]
    ) -> tuple[int, datetime | None]:
        """Page through one search; return how many results it gave and the newest change."""
        filters = [Filter(property_name=self.key_field, operator="HAS_PROPERTY")]
        if since is not None:
            filters.append(
                Filter(property_name=MODIFIED, operator="GTE", value=str(int(since.timestamp() * 1000)))
            )
        properties = [self.target.status_field, self.key_field, MODIFIED]
        seen, last, after = 0, None, None
        while True:
            request = PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=filters)],
                sorts=[{"propertyName": MODIFIED, "direction": "ASCENDING"}],
                properties=properties,
                limit=PAGE_SIZE,
                after=after,
            )
            page = self.client.search(self.object, request)
            for row in page.get("results") or []:
                seen += 1
                change = self._change(row)
                if change is not None:
                    changes[change.event_id] = change
                    last = change.occurred_at
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after or seen + PAGE_SIZE > SEARCH_CAP:
                return seen, last

    def _change(self, row: dict[str, Any]) -> StatusChange | None:
        properties = row.get("properties") or {}
        ours = self.mapping.status_for(str(properties.get(self.target.status_field)))
        modified = properties.get(MODIFIED) or row.get("updatedAt")
        if ours is None or not modified or row.get("id") is None:
            return None  # a stage the mapping does not translate: not ours to act on
        ticket_id = str(row["id"])
        return StatusChange(
            SYSTEM, ticket_id, None, ours, None, parse_datetime(str(modified)), f"poll:{ticket_id}:{modified}"
        )

    def ticket_fields(self, ticket_id: str) -> dict[str, Any]:
        """The ticket's reply property, for the agent-written reply (empty when it has none)."""
        field = self.mapping.reply_field
        if not field:
            return {}
        with self.client.batch():
            results = self.client.batch_read(self.object, [ticket_id], [field]).results
        value = (results[0].get("properties") or {}).get(field) if results else None
        return {field: value} if value not in (None, "") else {}
