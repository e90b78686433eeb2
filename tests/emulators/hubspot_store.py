"""HubSpot emulator: the portal's records and associations, and the rules every write goes through."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from tests.emulators.hubspot_errors import ApiError, bad_request, invalid_property, validation_error
from tests.emulators.hubspot_schema import (
    CLOCK_START,
    DEFAULT_TICKET_PIPELINE,
    AssociationType,
    ObjectDef,
    Pipeline,
    PropertyDef,
    association_type,
    default_objects,
    format_time,
    inverse_association,
    parse_time,
)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
Link = tuple[str, str, str, str, int]  # from type, from id, to type, to id, association type id


def to_text(value: Any) -> str | None:
    """A JSON property value as HubSpot stores it: a string, or None to clear the property."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = value if isinstance(value, str) else str(value)
    return text if text != "" else None


class Portal:
    """One HubSpot account: object types, records (all values strings), archived records, associations."""

    def __init__(self, portal_id: int) -> None:
        self.portal_id = portal_id
        self.objects: dict[str, ObjectDef] = default_objects()
        self.pipelines: dict[str, list[Pipeline]] = {"tickets": [DEFAULT_TICKET_PIPELINE]}
        self.records: dict[str, dict[str, dict[str, str]]] = {name: {} for name in self.objects}
        self.archived: dict[str, dict[str, dict[str, str]]] = {name: {} for name in self.objects}
        self.stamps: dict[str, tuple[str, str]] = {}  # id → (createdAt, updatedAt)
        self.links: dict[Link, None] = {}  # an ordered set
        self.clock = CLOCK_START
        self.next_id = 100_001

    # -- types and clock -----------------------------------------------------------------------

    def resolve(self, name: str) -> ObjectDef | None:
        """Accept the path name (``contacts``), the singular (``contact``) or the type id (``0-1``)."""
        lowered = name.lower()
        for object_def in self.objects.values():
            if lowered in (object_def.name, object_def.singular, object_def.type_id):
                return object_def
        return None

    def object_def(self, name: str) -> ObjectDef:
        object_def = self.resolve(name)
        if object_def is None:
            raise bad_request(f"Unable to infer object type from: {name}")
        return object_def

    def tick(self) -> str:
        """The time of this write; the clock then moves one second forward."""
        stamp = format_time(self.clock)
        self.clock += timedelta(seconds=1)
        return stamp

    def pipeline(self, object_name: str, pipeline_id: str) -> Pipeline | None:
        return next((p for p in self.pipelines.get(object_name, []) if p.id == pipeline_id), None)

    # -- validation ----------------------------------------------------------------------------

    def _check_value(
        self, object_def: ObjectDef, prop: PropertyDef, value: str, pipeline_id: str
    ) -> tuple[str | None, dict[str, Any] | None]:
        """Return the stored form of ``value``, or the "not valid" entry describing what is wrong."""

        def invalid(error: str, message: str) -> tuple[None, dict[str, Any]]:
            return None, invalid_property(prop.name, error, message, self.portal_id)

        if prop.type == "number":
            try:
                float(value)
            except ValueError:
                return invalid("INVALID_FLOAT", f"{value} was not a valid number.")
            return value, None
        if prop.type in ("datetime", "date"):
            moment = parse_time(value)
            if moment is None:
                return invalid(
                    "INVALID_DATE", f"{value} was not a valid date or epoch millisecond timestamp."
                )
            return format_time(moment), None
        if prop.type == "enumeration":
            options = list(prop.options)
            if prop.name == "hs_pipeline":
                options = [p.id for p in self.pipelines.get(object_def.name, [])]
            elif prop.name == "hs_pipeline_stage":
                pipeline = self.pipeline(object_def.name, pipeline_id)
                options = pipeline.stage_ids() if pipeline else []
            if value not in options:
                return invalid(
                    "INVALID_OPTION", f"{value} was not one of the allowed options: [{', '.join(options)}]"
                )
            return value, None
        if prop.name == "email":
            if not _EMAIL.fullmatch(value):
                return invalid("INVALID_EMAIL", f"Email address {value} is invalid")
            return value.lower(), None  # HubSpot keeps email addresses in lower case
        return value, None

    def validate(
        self,
        object_def: ObjectDef,
        properties: Mapping[str, Any],
        current: Mapping[str, str] | None = None,
        record_id: str | None = None,
        seeding: bool = False,
    ) -> dict[str, str | None]:
        """Check property names, read-only flags, types, options, required values and unique values.

        ``current`` is None on create. ``seeding`` (test data) skips the required-value check.
        Returns the values to store (None clears a property).
        """
        if not isinstance(properties, Mapping):
            raise bad_request("Invalid input JSON: properties must be an object")
        creating = current is None
        current = current or {}
        pipeline_id = to_text(properties.get("hs_pipeline")) or current.get("hs_pipeline") or "0"
        entries: list[dict[str, Any]] = []
        values: dict[str, str | None] = {}
        for name, raw in properties.items():
            prop = object_def.properties.get(name)
            if prop is None:
                message = f'Property "{name}" does not exist'
                entries.append(invalid_property(name, "PROPERTY_DOESNT_EXIST", message, self.portal_id))
                continue
            if prop.read_only:
                message = f"{name} is a read only property; its value cannot be set."
                entries.append(invalid_property(name, "READ_ONLY_VALUE", message, self.portal_id))
                continue
            text = to_text(raw)
            if text is None:
                values[name] = None
                continue
            stored, entry = self._check_value(object_def, prop, text, pipeline_id)
            if entry is not None:
                entries.append(entry)
            else:
                values[name] = stored
        if entries:
            raise validation_error(entries)
        if creating:
            if object_def.name == "tickets" and not values.get("hs_pipeline"):
                # The tickets guide: "If a pipeline isn't specified, the default pipeline will be used."
                values["hs_pipeline"] = "0"
            missing = [
                p.name for p in object_def.properties.values() if p.required and not values.get(p.name)
            ]
            if missing and not seeding:
                raise ApiError(
                    400,
                    f"Error creating {object_def.upper}. Some required properties were not set.",
                    "VALIDATION_ERROR",
                    context={"properties": missing},
                )
        self._check_unique(object_def, values, record_id)
        return values

    def _check_unique(
        self, object_def: ObjectDef, values: Mapping[str, str | None], record_id: str | None
    ) -> None:
        for name, value in values.items():
            if value is None or not object_def.properties[name].unique:
                continue
            existing = self.find_unique(object_def, name, value)
            if existing is not None and existing != record_id:
                raise ApiError(
                    409, f"{object_def.singular.title()} already exists. Existing ID: {existing}", "CONFLICT"
                )

    # -- records -------------------------------------------------------------------------------

    def insert(self, object_def: ObjectDef, values: Mapping[str, str | None]) -> str:
        record_id = str(self.next_id)
        self.next_id += 1
        stamp = self.tick()
        record = {k: v for k, v in values.items() if v is not None}
        record.setdefault(object_def.created_property, stamp)
        record["hs_object_id"] = record_id
        record[object_def.modified_property] = stamp
        self.records[object_def.name][record_id] = record
        self.stamps[record_id] = (stamp, stamp)
        return record_id

    def modify(self, object_def: ObjectDef, record_id: str, values: Mapping[str, str | None]) -> None:
        record = self.records[object_def.name][record_id]
        for name, value in values.items():
            if value is None:
                record.pop(name, None)
            else:
                record[name] = value
        stamp = self.tick()
        record[object_def.modified_property] = stamp
        self.stamps[record_id] = (self.stamps[record_id][0], stamp)

    def archive(self, object_def: ObjectDef, record_id: str) -> None:
        record = self.records[object_def.name].pop(record_id, None)
        if record is None:
            return
        self.stamps[record_id] = (self.stamps[record_id][0], self.tick())
        self.archived[object_def.name][record_id] = record
        for link in [link for link in self.links if record_id in (link[1], link[3])]:
            self.links.pop(link)

    def find_unique(self, object_def: ObjectDef, name: str, value: str) -> str | None:
        wanted = value.lower() if name == "email" else value
        for record_id, record in self.records[object_def.name].items():
            stored = record.get(name)
            if stored is not None and (stored.lower() if name == "email" else stored) == wanted:
                return record_id
        return None

    def locate(self, object_def: ObjectDef, key: str, id_property: str | None) -> str | None:
        """The id of the live record ``key`` names: its id, or its value of the unique ``id_property``."""
        if id_property and id_property != "hs_object_id":
            prop = object_def.properties.get(id_property)
            if prop is None or not prop.unique:
                raise bad_request(f"{id_property} is not a unique property of {object_def.name}")
            return self.find_unique(object_def, id_property, key)
        return key if key in self.records[object_def.name] else None

    def serialize(
        self,
        object_def: ObjectDef,
        record_id: str,
        properties: Iterable[str] | None = None,
        with_history: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """The documented record shape; requested properties without a value come back as null."""
        archived = record_id not in self.records[object_def.name]
        record = (self.archived if archived else self.records)[object_def.name][record_id]
        names = list(object_def.default_properties) if properties is None else list(properties)
        names += [name for name in object_def.always() if name not in names]
        created_at, updated_at = self.stamps[record_id]
        body: dict[str, Any] = {
            "id": record_id,
            "properties": {n: record.get(n) for n in names if n in object_def.properties},
            "createdAt": created_at,
            "updatedAt": updated_at,
            "archived": archived,
        }
        if archived:
            body["archivedAt"] = updated_at
        history = [n for n in (with_history or []) if n in object_def.properties]
        if history:
            body["propertiesWithHistory"] = {
                n: [
                    {"value": record[n], "timestamp": updated_at, "sourceType": "API", "sourceId": "emulator"}
                ]
                if n in record
                else []
                for n in history
            }
        return body

    # -- associations --------------------------------------------------------------------------

    def associate(self, from_type: str, from_id: str, to_id: str, kind: AssociationType) -> None:
        """Store the association and its inverse (HubSpot keeps both directions)."""
        self.links[(from_type, from_id, kind.to_type, to_id, kind.type_id)] = None
        inverse = inverse_association(kind)
        if inverse is not None:
            self.links[(kind.to_type, to_id, from_type, from_id, inverse.type_id)] = None

    def unlink(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        for link in list(self.links):
            if link[:4] in ((from_type, from_id, to_type, to_id), (to_type, to_id, from_type, from_id)):
                self.links.pop(link)

    def associations_of(self, from_type: str, from_id: str, to_type: str) -> dict[str, list[AssociationType]]:
        """Associated ids of ``to_type`` in creation order, each with its association types."""
        found: dict[str, list[AssociationType]] = {}
        for link_from, link_id, link_to, to_id, type_id in self.links:
            if (link_from, link_id, link_to) == (from_type, from_id, to_type):
                kind = association_type(type_id, from_type)
                if kind is not None:
                    found.setdefault(to_id, []).append(kind)
        return found
