"""The SOAP connector: any WSDL-described desk (ServiceNow incidents shipped), driven by the mapping.

SOAP desks have no upsert, so creates are made idempotent by a lookup: before creating,
the thread key is searched in the key field (ServiceNow's ``correlation_id``); a retry,
a redelivered webhook or a crash between the create and our bookkeeping finds the
ticket instead of making a second one. Follow-ups are appended to a journal field with
an update; status comes back by polling the records changed since a watermark.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from connector.config import ConfigError
from connector.crm.base import (
    ConnectorError,
    FollowUp,
    IdentifyRequest,
    PermanentConnectorError,
    RecordFailure,
    TicketDraft,
)
from connector.crm.batching import chunked
from connector.crm.matching import followup_lines, wire_value
from connector.crm.soap_client import SCALAR, Row, SoapClient, text_of
from connector.crm.soap_customers import LOOKUP_CHUNK, SoapCustomerFinder
from connector.crm.soap_settings import SoapSettings
from connector.model import Customer, StatusChange, TicketRef
from connector.store import Store
from mappings import Mapping
from mappings.soap_spec import SoapSpec, fill

log = logging.getLogger("ventanilla.soap")
SYSTEM = "soap"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_PAGES = 400  # 100,000 changed tickets in one poll at 250 a page: stop and go on next poll
TEXT_LIMIT = 30_000


def journal_text(followup: FollowUp) -> str:
    """Who said what, where and when, ending with the marker line that names the interaction."""
    return "\n".join(followup_lines(followup, TEXT_LIMIT))


class SoapConnector:
    """One desk on one SOAP service; implements :class:`connector.crm.base.Connector`."""

    system = SYSTEM
    cacheable = True

    def __init__(
        self, store: Store, desk: str, mapping: Mapping, settings: SoapSettings, connection: str = "soap"
    ) -> None:
        target = mapping.target
        if mapping.soap is None or target is None or not target.key_field:
            raise ConfigError(f"desks.{desk}.mapping: {mapping.source} needs soap and target.key_field")
        if mapping.create_unmatched:
            raise ConfigError(f"desks.{desk}.mapping: create_unmatched is not available for soap desks")
        value = mapping.customer_value
        if value is not None and "." in value.field + (value.tier_field or ""):
            raise ConfigError(
                f"desks.{desk}.mapping: customer_value fields are read from the matched record on soap "
                "desks; related fields (with a dot) are not available"
            )
        self.store = store
        self.desk = desk
        self.mapping = mapping
        self.spec: SoapSpec = mapping.soap
        self.key_field: str = target.key_field
        self.status_field = target.status_field
        self.number_field = target.number_field
        self.followup = target.followup
        self.settings = settings
        self.identity_cache_ttl_s = settings.identity_cache_ttl_s
        self.client = SoapClient(
            settings, self.spec.services, store, f"soap:{settings.account_key}", connection
        )
        people = self.spec.operation("find_customer")
        self.customers = SoapCustomerFinder(
            self._find_people,
            mapping,
            store,
            desk,
            self.spec.record_id,
            self._find_people_in if people is not None and people.batched else None,
        )
        self.followups_scope = f"soap:{desk}:followups"
        self.zone = ZoneInfo(self.spec.time_zone)

    # --- calls ------------------------------------------------------------------------------

    def _call(
        self,
        role: str,
        values: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        *,
        idempotent: bool = True,
    ) -> list[Row]:
        operation = self.spec.operation(role)
        if operation is None:
            raise PermanentConnectorError(f"the mapping has no soap.operations.{role}")
        for name, value in (values or {}).items():
            if any(c in value for c in "^\r\n"):
                # "^" joins conditions in an encoded query and cannot be escaped there.
                raise PermanentConnectorError(f"{role}: {name} {value!r} contains '^' or a line break")
        params: dict[str, Any] = {name: fill(value, values or {}) for name, value in operation.params.items()}
        params.update(extra or {})
        return self.client.call(operation.service, operation.operation, params, idempotent=idempotent)

    def _find_people(self, field: str, value: str) -> list[Row]:
        return self._call("find_customer", {"field": field, "value": value})

    def _find_people_in(self, field: str, values: str) -> list[Row]:
        return self._call("find_customer", {"field": field, "values": values})

    # --- identify ---------------------------------------------------------------------------

    def find_customers(self, requests: Sequence[IdentifyRequest]) -> dict[str, Customer]:
        """Match authors strategy by strategy (one lookup per distinct value)."""
        if self.spec.operation("find_customer") is None:
            return {}
        return self.customers.find(requests)

    # --- tickets ----------------------------------------------------------------------------

    def upsert_tickets(self, drafts: Sequence[TicketDraft]) -> list[TicketRef | RecordFailure]:
        """Look every draft's key up first, then create the missing tickets (same order).

        A failure of the lookups or of the first create raises (the whole job is retried);
        later creates fail per record, so the tickets already made are recorded.
        """
        if not drafts:
            return []
        try:
            existing = self.find_tickets([d.external_key for d in drafts])
        except PermanentConnectorError as exc:
            return [RecordFailure(str(exc), permanent=True) for _ in drafts]
        results: list[TicketRef | RecordFailure] = []
        for index, draft in enumerate(drafts):
            try:
                found = existing.get(draft.external_key)
                row = found if found is not None else self._create(draft)
                existing[draft.external_key] = row
                results.append(self._ref(row))
            except PermanentConnectorError as exc:
                results.append(RecordFailure(str(exc), permanent=True))
            except ConnectorError as exc:
                if index == 0:
                    raise
                results.extend(RecordFailure(str(exc), permanent=False) for _ in drafts[index:])
                break
        return results

    def _create(self, draft: TicketDraft) -> Row:
        fields = {name: wire_value(value) for name, value in draft.fields.items() if value is not None}
        fields[self.key_field] = draft.external_key
        # Never retried in place: after an ambiguous failure the job's retry looks the key up first.
        answer = self._call("create", extra=fields, idempotent=False)
        row = answer[0] if answer else {}
        if SCALAR in row:  # an answer of one value (zeep unwraps it): the record id
            row = {self.spec.record_id: row.pop(SCALAR), **row}
        if not text_of(row.get(self.spec.record_id)):
            raise ConnectorError(
                f"create answered without {self.spec.record_id}; the retry will look {draft.external_key} up"
            )
        return {**row, self.key_field: draft.external_key}

    def find_tickets(self, keys: Sequence[str]) -> dict[str, Row]:
        """The record holding each key, by key: one call per 50 keys when the mapping uses {keys}."""
        operation = self.spec.operation("find_ticket")
        found: dict[str, Row] = {}
        if operation is not None and operation.batched:
            for chunk in chunked(list(dict.fromkeys(keys)), LOOKUP_CHUNK):
                rows = self._call("find_ticket", {"keys": ",".join(chunk)})
                found.update(self._by_key(rows, list(chunk)))
            return found
        for key in keys:
            found.update(self._by_key(self._call("find_ticket", {"key": key}), [key]))
        return found

    def find_ticket(self, key: str) -> Row | None:
        """The record whose key field holds ``key`` (the oldest, if a desk user copied it)."""
        return self.find_tickets([key]).get(key)

    def _by_key(self, rows: list[Row], keys: list[str]) -> dict[str, Row]:
        """Rows of the asked keys; answers carrying none of them mean the query was ignored."""
        asked = set(keys)
        mine: dict[str, list[Row]] = {}
        for row in rows:
            key = text_of(row.get(self.key_field))
            if key in asked:
                mine.setdefault(key, []).append(row)
        lowered = {k.lower() for k in asked}
        if (
            rows
            and not mine
            and not any((text_of(r.get(self.key_field)) or "").lower() in lowered for r in rows)
        ):
            raise PermanentConnectorError(
                f"find_ticket answered {len(rows)} record(s) without the {self.key_field} asked for: "
                f"the desk ignored the condition (does {self.key_field} exist? is the query right?)"
            )
        found = {}
        for key, candidates in mine.items():
            if len(candidates) > 1:
                log.warning(
                    "%s: %d tickets carry %s=%s; using the oldest",
                    self.desk,
                    len(candidates),
                    self.key_field,
                    key,
                )
                candidates.sort(
                    key=lambda r: (
                        text_of(r.get("sys_created_on")) or "",
                        text_of(r.get(self.number_field)) or "",
                    )
                )
            found[key] = candidates[0]
        return found

    def _ref(self, row: Row) -> TicketRef:
        ticket_id = text_of(row.get(self.spec.record_id)) or ""
        desk_status = text_of(row.get(self.status_field))
        status = (self.mapping.status_for(desk_status) if desk_status is not None else None) or "open"
        return TicketRef(
            SYSTEM, ticket_id, text_of(row.get(self.number_field)), status, self.settings.url_for(ticket_id)
        )

    def ticket_number(self, ticket_id: str) -> str | None:
        """The number agents and customers quote (INC0010001), read with ``get``."""
        return text_of(self._get(ticket_id).get(self.number_field))

    def ticket_fields(self, ticket_id: str) -> dict[str, Any]:
        """The ticket's reply field, for the agent-written reply (empty when it has none)."""
        field = self.mapping.reply_field
        if not field:
            return {}
        value = text_of(self._get(ticket_id).get(field))
        return {field: value} if value else {}

    def _get(self, ticket_id: str) -> Row:
        if self.spec.operation("get") is None:
            return {}
        rows = self._call("get", extra={self.spec.record_id: ticket_id})
        return rows[0] if rows else {}

    # --- follow-ups and reopen --------------------------------------------------------------

    def append_followups(self, followups: Sequence[FollowUp]) -> list[RecordFailure | None]:
        """Append each follow-up to the journal field with an update, once.

        Journal fields are write-only, so "already appended" is remembered here: an intent
        before the call, done after it. Only a crash inside that one call can repeat it.
        """
        results: list[RecordFailure | None] = []
        for index, followup in enumerate(followups):
            item = followup.interaction
            key = str(item.id) if item.id is not None else f"{item.platform}:{item.external_id}"
            state = self.store.get_state(self.followups_scope, key)
            if isinstance(state, dict) and state.get("done") and state.get("ticket") == followup.ticket_id:
                results.append(None)
                continue
            if isinstance(state, dict):
                log.warning(
                    "%s: follow-up %s was being appended when interrupted; appending again", self.desk, key
                )
            fields = {name: wire_value(v) for name, v in self.followup.fields.items() if v is not None}
            fields[self.followup.body_field] = journal_text(followup)
            fields[self.spec.record_id] = followup.ticket_id
            self.store.set_state(self.followups_scope, key, {"ticket": followup.ticket_id, "done": False})
            try:
                self._call("update", extra=fields, idempotent=False)
            except PermanentConnectorError as exc:
                results.append(RecordFailure(str(exc), permanent=True))
                continue
            except ConnectorError as exc:
                if index == 0:
                    raise
                results.extend(RecordFailure(str(exc), permanent=False) for _ in followups[index:])
                break
            self.store.set_state(self.followups_scope, key, {"ticket": followup.ticket_id, "done": True})
            results.append(None)
        return results

    def reopen_tickets(self, ticket_ids: Sequence[str]) -> list[RecordFailure | None]:
        """Set the mapping's first open status (an update of one field, so idempotent)."""
        status = self.mapping.desk_status_for("open")
        results: list[RecordFailure | None] = []
        for ticket_id in ticket_ids:
            try:
                self._call("update", extra={self.spec.record_id: ticket_id, self.status_field: status})
            except PermanentConnectorError as exc:
                results.append(RecordFailure(str(exc), permanent=True))
                continue
            results.append(None)
        return results

    def link_to_incident(self, parent_ticket_id: str, child_ticket_ids: Sequence[str]) -> None:
        """Point each child at the crisis's parent (``target.parent_field``); an update, so idempotent."""
        field = self.mapping.target.parent_field if self.mapping.target else None
        if not field:
            log.info(
                "%s: no target.parent_field in the mapping; %d child(ren) not linked",
                self.desk,
                len(child_ticket_ids),
            )
            return
        for child in child_ticket_ids:
            try:
                self._call("update", extra={self.spec.record_id: child, field: parent_ticket_id})
            except PermanentConnectorError as exc:  # a child deleted meanwhile must not block the others
                log.warning("%s: cannot link %s to incident %s: %s", self.desk, child, parent_ticket_id, exc)

    # --- status back ------------------------------------------------------------------------

    def read_status_changes(self, since: datetime | None) -> list[StatusChange]:
        """Our tickets changed at or after ``since``, oldest first, page by page.

        Changes repeat across polls (``>=`` on a clock with one-second steps); their event
        ids dedupe them.
        """
        operation = self.spec.operation("changed_since")
        assert operation is not None  # required by the schema
        since_text = (since or EPOCH).astimezone(self.zone).strftime(self.spec.time_format)
        page = operation.page
        changes: dict[str, StatusChange] = {}
        first = 0
        for _ in range(MAX_PAGES):
            extra = {page.first_param: str(first), page.last_param: str(first + page.size)} if page else {}
            rows = self._call("changed_since", {"since": since_text}, extra)
            for row in rows:
                change = self._change(row, operation.updated_field)
                if change is not None:
                    changes[change.event_id] = change
            if page is None or len(rows) < page.size:
                break
            first += page.size
        else:
            log.warning(
                "%s: more than %d pages changed; the rest is read on the next poll", self.desk, MAX_PAGES
            )
        return sorted(changes.values(), key=lambda c: (c.occurred_at, c.ticket_id))

    def _change(self, row: Row, updated_field: str | None) -> StatusChange | None:
        ticket_id = text_of(row.get(self.spec.record_id))
        desk_status = text_of(row.get(self.status_field))
        raw = row.get(updated_field or "sys_updated_on")
        updated = text_of(raw)
        if not ticket_id or not text_of(row.get(self.key_field)) or desk_status is None or updated is None:
            return None  # not one of ours, or not readable: nothing to act on
        ours = self.mapping.status_for(desk_status)
        if ours is None:
            return None
        if isinstance(raw, datetime):  # an xsd:dateTime field, already parsed by zeep
            moment = raw if raw.tzinfo else raw.replace(tzinfo=self.zone)
        else:
            try:
                moment = datetime.strptime(updated, self.spec.time_format).replace(tzinfo=self.zone)
            except ValueError:
                log.warning(
                    "%s: %s %r does not fit time_format %r",
                    self.desk,
                    updated_field,
                    updated,
                    self.spec.time_format,
                )
                return None
        moment = moment.astimezone(UTC)
        return StatusChange(SYSTEM, ticket_id, None, ours, None, moment, f"poll:{ticket_id}:{updated}")
