"""Salesforce emulator: the org's records and the DML rules every write goes through."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from tests.emulators.salesforce_api import ApiError, RecordError, not_found
from tests.emulators.salesforce_schema import (
    CLOCK_START,
    NUMBER_TYPES,
    STRING_TYPES,
    FieldDef,
    SObjectDef,
    format_datetime,
    make_id,
    normalize_id,
    parse_date,
    parse_datetime,
)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _utf16_length(text: str) -> int:
    # Salesforce lengths are Java string lengths: characters outside the BMP count twice.
    return len(text.encode("utf-16-le")) // 2


def _parser_error(field_def: FieldDef, value: Any) -> ApiError:
    token = "VALUE_STRING" if isinstance(value, str) else f"VALUE_{type(value).__name__.upper()}"
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {field_def.type} from {token} value {value} "
        "or request may be missing a required field",
    )


def coerce_value(field_def: FieldDef, value: Any) -> Any:
    """Deserialize one JSON value for a field; raise JSON_PARSER_ERROR when it cannot be."""
    kind = field_def.type
    if value is None:
        return False if kind == "boolean" else None
    if isinstance(value, (dict, list)):
        raise _parser_error(field_def, value)
    if kind in STRING_TYPES:
        if isinstance(value, bool):
            raise _parser_error(field_def, value)
        text = value if isinstance(value, str) else str(value)
        return text or None  # the API stores empty text as null
    if kind in ("id", "reference"):
        if not isinstance(value, str):
            raise _parser_error(field_def, value)
        return (normalize_id(value) or value) if value else None  # 15-character ids become 18
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _parser_error(field_def, value)
        return value
    if kind in NUMBER_TYPES:
        if isinstance(value, bool):
            raise _parser_error(field_def, value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _parser_error(field_def, value) from None
        return int(number) if kind == "int" else number
    if kind == "datetime":
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None:
            raise _parser_error(field_def, value)
        return format_datetime(moment)
    if kind == "date":
        day = parse_date(value) if isinstance(value, str) else None
        if day is None:
            raise _parser_error(field_def, value)
        return day.isoformat()
    return value


class Org:
    """Records by sObject type, a controllable clock, and create/update/upsert/delete rules."""

    def __init__(self, schema: dict[str, SObjectDef]) -> None:
        self.schema = schema
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in schema}
        self.deleted: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in schema}
        self.clock = CLOCK_START
        self._serial = 0
        self._case_number = 1000

    # -- lookups -------------------------------------------------------------------------------

    def sobject(self, name: str) -> SObjectDef | None:
        """Find an sObject type case-insensitively."""
        if name in self.schema:
            return self.schema[name]
        return next((s for key, s in self.schema.items() if key.lower() == name.lower()), None)

    def require_sobject(self, name: str) -> SObjectDef:
        sdef = self.sobject(name)
        if sdef is None:
            raise not_found()
        return sdef

    def type_of_id(self, record_id: str) -> SObjectDef | None:
        return next((s for s in self.schema.values() if s.key_prefix == record_id[:3]), None)

    def lookup(self, record_id: str) -> tuple[SObjectDef, dict[str, Any]] | None:
        """Return the live (not deleted) record with this 15- or 18-character id."""
        full = normalize_id(record_id)
        sdef = self.type_of_id(full) if full else None
        if full is None or sdef is None:
            return None
        record = self.records[sdef.name].get(full)
        return (sdef, record) if record is not None else None

    def related(
        self, record: Mapping[str, Any], lookup: FieldDef
    ) -> tuple[SObjectDef, dict[str, Any]] | None:
        """Follow a lookup field to the parent record, if it exists."""
        value = record.get(lookup.name)
        found = self.lookup(value) if isinstance(value, str) else None
        if found is None or found[0].name not in lookup.reference_to:
            return None
        return found

    def match_external(self, sdef: SObjectDef, field_def: FieldDef, value: Any) -> list[str]:
        """Ids of live records whose external-id field equals ``value``."""
        wanted = str(value) if field_def.case_sensitive else str(value).casefold()
        matches = []
        for record_id, record in self.records[sdef.name].items():
            stored = record.get(field_def.name)
            if stored is None:
                continue
            stored_text = str(stored) if field_def.case_sensitive else str(stored).casefold()
            if stored_text == wanted:
                matches.append(record_id)
        return matches

    # -- state ---------------------------------------------------------------------------------

    def tick(self) -> str:
        """Return the current timestamp and advance the clock one second."""
        stamp = format_datetime(self.clock)
        self.clock += timedelta(seconds=1)
        return stamp

    def new_id(self, prefix: str) -> str:
        self._serial += 1
        return make_id(prefix, 0x2A0000 + self._serial)

    def snapshot(self) -> tuple[Any, ...]:
        return copy.deepcopy((self.records, self.deleted, self.clock, self._serial, self._case_number))

    def restore(self, state: tuple[Any, ...]) -> None:
        """Roll back to a snapshot, in place, so references to ``records`` stay valid."""
        records, deleted, self.clock, self._serial, self._case_number = state
        for live, saved in ((self.records, records), (self.deleted, deleted)):
            for name in live:
                live[name].clear()
                live[name].update(saved.get(name, {}))

    # -- validation ----------------------------------------------------------------------------

    def coerce(self, sdef: SObjectDef, body: Mapping[str, Any]) -> dict[str, Any]:
        """Deserialize a JSON record: canonical field names and typed values (request-level errors)."""
        values: dict[str, Any] = {}
        for key, value in body.items():
            if key == "attributes":
                continue
            field_def = sdef.field(key)
            if field_def is None:
                raise ApiError(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {sdef.name}")
            values[field_def.name] = coerce_value(field_def, value)
        return values

    def check_create(self, sdef: SObjectDef, values: dict[str, Any]) -> None:
        locked = [name for name in values if not sdef.fields[name].createable]
        if locked:
            raise _not_writable(locked)
        missing = [f.name for f in sdef.fields.values() if f.required and values.get(f.name) is None]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        self._check_values(sdef, values, None)

    def check_update(self, sdef: SObjectDef, record_id: str, values: dict[str, Any]) -> None:
        locked = [name for name in values if not sdef.fields[name].updateable]
        if locked:
            raise _not_writable(locked)
        cleared = [n for n, v in values.items() if v is None and not sdef.fields[n].nillable]
        if cleared:
            raise RecordError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(cleared)}]", cleared
            )
        self._check_values(sdef, values, record_id)

    def _check_values(self, sdef: SObjectDef, values: dict[str, Any], own_id: str | None) -> None:
        for name, value in list(values.items()):
            field_def = sdef.fields[name]
            if value is None:
                continue
            if field_def.type == "picklist" and field_def.restricted and value not in field_def.picklist:
                raise RecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{field_def.label}: bad value for restricted picklist field: {value}",
                    [name],
                )
            if (
                field_def.type in STRING_TYPES
                and field_def.length
                and _utf16_length(value) > field_def.length
            ):
                raise RecordError(
                    "STRING_TOO_LONG",
                    f"{field_def.label}: data value too large: {value} (max length={field_def.length})",
                    [name],
                )
            if field_def.type == "email" and not _EMAIL.fullmatch(value):
                raise RecordError(
                    "INVALID_EMAIL_ADDRESS", f"{field_def.label}: invalid email address: {value}", [name]
                )
            if field_def.type == "reference":
                values[name] = self._check_reference(field_def, value)
            if field_def.unique:
                self._check_unique(sdef, field_def, value, own_id)

    def _check_reference(self, field_def: FieldDef, value: str) -> str:
        full = normalize_id(value)
        target = self.type_of_id(full) if full else None
        if full is None or target is None or target.name not in field_def.reference_to:
            raise RecordError(
                "MALFORMED_ID", f"{field_def.label}: id value of incorrect type: {value}", [field_def.name]
            )
        if full not in self.records[target.name]:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [field_def.name])
        return full

    def _check_unique(self, sdef: SObjectDef, field_def: FieldDef, value: Any, own_id: str | None) -> None:
        for other in self.match_external(sdef, field_def, value):
            if other != own_id:
                raise RecordError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {field_def.name} duplicates value on record with id: {other}",
                )

    # -- writes --------------------------------------------------------------------------------

    def insert(self, sdef: SObjectDef, values: dict[str, Any], *, validate: bool = True) -> str:
        """Create a record; ``validate=False`` is for test seeding (any field, no DML rules)."""
        if validate:
            self.check_create(sdef, values)
        seeded_id = values.get("Id") if not validate else None  # tests may seed a fixed id
        record_id = seeded_id if isinstance(seeded_id, str) else self.new_id(sdef.key_prefix)
        values["Id"] = record_id
        record: dict[str, Any] = {"Id": record_id, "IsDeleted": False}
        for field_def in sdef.fields.values():
            if field_def.default is not None:
                record[field_def.name] = field_def.default
        record.update(values)
        stamp = self.tick()
        for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
            record.setdefault(name, stamp)
        if sdef.name == "Case" and "CaseNumber" not in values:
            self._case_number += 1
            record["CaseNumber"] = f"{self._case_number:08d}"
        _derive(sdef, record)
        self.records[sdef.name][record_id] = record
        return record_id

    def modify(
        self, sdef: SObjectDef, record_id: str, values: dict[str, Any], *, validate: bool = True
    ) -> None:
        """Update a live record (the caller has checked it exists)."""
        if validate:
            self.check_update(sdef, record_id, values)
        record = self.records[sdef.name][record_id]
        record.update(values)
        stamp = self.tick()
        if "LastModifiedDate" not in values:
            record["LastModifiedDate"] = stamp
        record["SystemModstamp"] = record["LastModifiedDate"]
        _derive(sdef, record)

    def remove(self, sdef: SObjectDef, record_id: str) -> None:
        """Move a record to the recycle bin (still visible to queryAll)."""
        record = self.records[sdef.name].pop(record_id)
        record["IsDeleted"] = True
        record["SystemModstamp"] = record["LastModifiedDate"] = self.tick()
        self.deleted[sdef.name][record_id] = record

    def live_id(self, sdef: SObjectDef, raw_id: Any) -> str:
        """Resolve an id given for an update/delete of ``sdef``; raise the per-record error otherwise."""
        full = normalize_id(raw_id) if isinstance(raw_id, str) else None
        if full is None or full[:3] != sdef.key_prefix:
            raise RecordError(
                "MALFORMED_ID", f"{sdef.label} ID: id value of incorrect type: {raw_id}", ["Id"]
            )
        if full in self.deleted[sdef.name]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        if full not in self.records[sdef.name]:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        return full


def _not_writable(names: list[str]) -> RecordError:
    return RecordError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {', '.join(names)}. Please check the security settings of this "
        "field and verify that it is read/write for your profile or permission set.",
        names,
    )


def _derive(sdef: SObjectDef, record: dict[str, Any]) -> None:
    """Recompute formula-like fields after every write."""
    for field_def in sdef.fields.values():
        if field_def.type == "boolean" and record.get(field_def.name) is None:
            record[field_def.name] = False
    if sdef.name == "Case":
        # IsClosed follows the Status value's "closed" flag; only "Closed" is closed here.
        record["IsClosed"] = record.get("Status") == "Closed"
    if sdef.name == "Contact":
        record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p) or None
