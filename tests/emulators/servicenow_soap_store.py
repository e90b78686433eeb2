"""The records behind the ServiceNow emulator: one store per table, a settable clock, journals, and the
few baseline business rules a client can observe.

Values are kept as their wire text (``true``/``false``, digits, ``YYYY-MM-DD HH:MM:SS`` in UTC). Every
write stamps ``sys_updated_on`` from the clock, which only moves when a test moves it, so two writes
have different ``sys_updated_on`` exactly when the clock was advanced between them. Journal fields
(``comments``, ``work_notes``) are never stored on the record: each write appends an entry.

Baseline rules kept for ``incident``: ``number`` INC0010001, INC0010002, ...; state 1 (New), impact
and urgency 3 by default; ``priority`` = impact + urgency - 1 (the 3x3 baseline matrix); ``opened_at``
on insert; ``active`` false once state is 7 (Closed) or 8 (Canceled); ``resolved_at`` / ``closed_at``
stamped when state first becomes 6 / 7. Any table with an ``active`` boolean defaults it to true.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.emulators.servicenow_soap_query import Params, Record, normalize, select
from tests.emulators.servicenow_soap_schema import SYSTEM_FIELDS, TableDef
from tests.emulators.servicenow_soap_xml import SoapError

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
NUMBER_PREFIXES = {"incident": "INC", "problem": "PRB", "change_request": "CHG", "sc_request": "REQ"}


@dataclass
class JournalEntry:
    field: str
    text: str
    time: str
    user: str


@dataclass
class TableData:
    table: TableDef
    records: dict[str, Record] = field(default_factory=dict)  # creation order
    journals: dict[str, list[JournalEntry]] = field(default_factory=dict)
    next_number: int = 10001


class Instance:
    """The tables of one emulated instance (callers hold the emulator's lock)."""

    def __init__(self, tables: Sequence[TableDef], now: datetime) -> None:
        self.data = {table.name: TableData(table) for table in tables}
        self.now = utc(now)

    def stamp(self) -> str:
        return self.now.strftime(TIME_FORMAT)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def table(self, name: str) -> TableData:
        if name not in self.data:
            raise KeyError(f"the emulator serves no table {name!r}; it has {sorted(self.data)}")
        return self.data[name]

    # -- writes -------------------------------------------------------------------------------------

    def insert(self, name: str, values: Mapping[str, str], user: str, seeding: bool = False) -> Record:
        data = self.table(name)
        table = data.table
        stamp = self.stamp()
        record: Record = {"sys_id": uuid.uuid4().hex, "sys_created_on": stamp}
        if "active" in table.fields and table.kind("active") == "boolean":
            record["active"] = "true"
        if name == "incident":
            record.update(state="1", impact="3", urgency="3", opened_at=stamp)
        journal = self._apply(table, record, values, seeding)
        if record["sys_id"] in data.records:
            raise SoapError(f"Duplicate sys_id {record['sys_id']} in {name}", "SOAP-ENV:Client")
        if "number" in table.fields and not record.get("number"):
            record["number"] = f"{NUMBER_PREFIXES.get(name, name[:3].upper())}{data.next_number:07d}"
            data.next_number += 1
        self._rules(table, record, {}, stamp)
        self._check_mandatory(table, record)
        record.setdefault("sys_updated_on", stamp)
        record.setdefault("sys_updated_by", user)
        data.records[record["sys_id"]] = record
        self._journal(data, record["sys_id"], journal, user, stamp)
        return record

    def update(
        self, name: str, sys_id: str, values: Mapping[str, str], user: str, seeding: bool = False
    ) -> Record:
        data = self.table(name)
        current = data.records.get(sys_id)
        if current is None:
            raise SoapError(
                f"Unable to update record: no {name} record with sys_id {sys_id}",
                detail=f"sys_id={sys_id} not found in table {name}",
            )
        stamp = self.stamp()
        record = dict(current)
        record.pop("sys_updated_on")
        record.pop("sys_updated_by", None)
        journal = self._apply(data.table, record, values, seeding)
        record["sys_id"] = sys_id  # a write cannot move a record
        self._rules(data.table, record, current, stamp)
        self._check_mandatory(data.table, record)
        record.setdefault("sys_updated_on", stamp)
        record.setdefault("sys_updated_by", user)
        data.records[sys_id] = record
        self._journal(data, sys_id, journal, user, stamp)
        return record

    def delete(self, name: str, sys_id: str) -> bool:
        data = self.table(name)
        data.journals.pop(sys_id, None)
        return data.records.pop(sys_id, None) is not None

    def query(
        self, name: str, params: Params, cap: int | None, invalid_returns_none: bool, hard_cap: bool
    ) -> list[Record]:
        data = self.table(name)
        rows = list(data.records.values())
        return select(
            rows, params, data.table, cap=cap, invalid_returns_none=invalid_returns_none, hard_cap=hard_cap
        )

    # -- helpers ------------------------------------------------------------------------------------

    def _apply(
        self, table: TableDef, record: Record, values: Mapping[str, str], seeding: bool
    ) -> list[tuple[str, str]]:
        """Write ``values`` into ``record``; return the journal entries (field, text) to append.

        Over SOAP, unknown elements and system fields are ignored, as ServiceNow does; seeding from
        Python may set system fields (``sys_id``, ``sys_created_on`` ...) and rejects unknown names.
        """
        journal: list[tuple[str, str]] = []
        for name, value in values.items():
            if name not in table.fields:
                if seeding and name not in SYSTEM_FIELDS:
                    raise KeyError(f"table {table.name} has no field {name!r}")
                continue
            if name == "sys_id":
                if seeding and value:
                    record["sys_id"] = value
                continue
            if name in SYSTEM_FIELDS and not seeding:
                continue
            if name in table.journal_fields:
                if value.strip():
                    journal.append((name, value))
                continue
            try:
                record[name] = normalize(value, table.kind(name))
            except ValueError:
                raise SoapError(
                    f"Invalid value for field {name}: {value!r} is not a valid {table.kind(name)}",
                    "SOAP-ENV:Client",
                ) from None
        return journal

    def _rules(self, table: TableDef, record: Record, before: Mapping[str, str], stamp: str) -> None:
        if table.name != "incident":
            return
        impact, urgency = record.get("impact", ""), record.get("urgency", "")
        if impact.isdigit() and urgency.isdigit():
            record["priority"] = str(min(max(int(impact) + int(urgency) - 1, 1), 5))
        state = record.get("state", "")
        if state != before.get("state"):
            if state in ("7", "8"):
                record["active"] = "false"
            elif state:
                record["active"] = "true"
            if state == "6" and not record.get("resolved_at"):
                record["resolved_at"] = stamp
            if state == "7" and not record.get("closed_at"):
                record["closed_at"] = stamp

    @staticmethod
    def _check_mandatory(table: TableDef, record: Record) -> None:
        missing = [name for name in table.mandatory if not record.get(name)]
        if missing:
            raise SoapError(
                f"Data Policy Exception: The following fields are mandatory: {', '.join(missing)}",
                "SOAP-ENV:Server",
                detail=f"Operation against table {table.name} was aborted: mandatory fields {missing}",
            )

    @staticmethod
    def _journal(data: TableData, sys_id: str, entries: list[tuple[str, str]], user: str, stamp: str) -> None:
        for name, text in entries:
            data.journals.setdefault(sys_id, []).append(JournalEntry(name, text, stamp, user))


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC to the second (a naive datetime is taken as UTC already)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.replace(microsecond=0)


def visible_fields(
    table: TableDef, record: Record, exclude: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """The columns ``get``/``getRecords`` return, in WSDL order: empty values and journals left out."""
    return [
        (name, record[name])
        for name in table.fields
        if name not in table.journal_fields and name not in exclude and record.get(name, "") != ""
    ]
