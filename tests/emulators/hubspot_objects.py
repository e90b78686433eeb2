"""HubSpot emulator: ``/crm/v3/objects/{objectType}``: basic CRUD, search, and the five batch endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.emulators.hubspot_errors import (
    ApiError,
    bad_request,
    missing_fields,
    not_found_in_batch,
    object_not_found,
    resource_not_found,
)
from tests.emulators.hubspot_schema import ObjectDef, association_type, format_time
from tests.emulators.hubspot_search import search
from tests.emulators.hubspot_store import Portal

MAX_BATCH = 100
MAX_BATCH_WITH_HISTORY = 50
MAX_PAGE = 100
Answer = tuple[int, Any]
Outcome = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # results, errors


def split_list(text: str | None) -> list[str] | None:
    """``a,b`` (repeated query parameters arrive joined by commas) → ``["a", "b"]``."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _inputs(body: Any, limit: int = MAX_BATCH) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise missing_fields(["inputs"])
    inputs: list[dict[str, Any]] = body["inputs"]
    if len(inputs) > limit:
        raise bad_request(
            f"Batch input limit exceeded: {len(inputs)} inputs were sent; the limit is {limit}."
        )
    if not all(isinstance(item, dict) for item in inputs):
        raise bad_request("Invalid input JSON: every input must be an object")
    return inputs


def _no_duplicates(keys: list[str]) -> None:
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise bad_request(
            f"Duplicate IDs found in batch input: [{', '.join(duplicates)}]. IDs must be unique"
        )


class ObjectsApi:
    """Routes below ``/crm/v3/objects/``."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    def dispatch(self, method: str, segments: list[str], query: dict[str, str], body: Any) -> Answer:
        if not segments:
            raise resource_not_found()
        object_def = self.portal.object_def(segments[0])
        rest = segments[1:]
        if not rest:
            if method == "GET":
                return 200, self.list_page(object_def, query)
            if method == "POST":
                return 201, self.create(object_def, body)
        elif rest == ["search"] and method == "POST":
            return 200, search(self.portal, object_def, body)
        elif len(rest) == 2 and rest[0] == "batch" and method == "POST":
            return self.batch(object_def, rest[1], query, body)
        elif len(rest) == 1 and method in ("GET", "PATCH", "DELETE"):
            return self.single(object_def, method, rest[0], query, body)
        raise resource_not_found()

    # -- single records ------------------------------------------------------------------------

    def single(
        self, object_def: ObjectDef, method: str, key: str, query: dict[str, str], body: Any
    ) -> Answer:
        portal = self.portal
        if method == "DELETE":
            record_id = portal.locate(object_def, key, query.get("idProperty"))
            if record_id is not None:
                portal.archive(object_def, record_id)
            return 204, None
        if method == "PATCH":
            record_id = portal.locate(object_def, key, query.get("idProperty"))
            if record_id is None:
                raise object_not_found(key)
            properties = body.get("properties") if isinstance(body, dict) else None
            if properties is None:
                raise missing_fields(["properties"])
            record = portal.records[object_def.name][record_id]
            portal.modify(object_def, record_id, portal.validate(object_def, properties, record, record_id))
            return 200, portal.serialize(object_def, record_id, list(record))
        archived = query.get("archived", "false").lower() == "true"
        if archived:
            store = portal.archived[object_def.name]
            record_id = key if key in store else None
        else:
            record_id = portal.locate(object_def, key, query.get("idProperty"))
        if record_id is None:
            raise object_not_found(key)
        return 200, self.read(object_def, record_id, query)

    def read(self, object_def: ObjectDef, record_id: str, query: dict[str, str]) -> dict[str, Any]:
        """A record with the ``properties``, ``propertiesWithHistory`` and ``associations`` asked for."""
        body = self.portal.serialize(
            object_def,
            record_id,
            split_list(query.get("properties")),
            split_list(query.get("propertiesWithHistory")),
        )
        associations: dict[str, Any] = {}
        for name in split_list(query.get("associations")) or []:
            to_def = self.portal.resolve(name)
            if to_def is None:
                continue
            found = self.portal.associations_of(object_def.name, record_id, to_def.name)
            results = [{"id": to_id, "type": kind.name} for to_id, kinds in found.items() for kind in kinds]
            if results:
                associations[to_def.name] = {"results": results}
        if associations:
            body["associations"] = associations
        return body

    def list_page(self, object_def: ObjectDef, query: dict[str, str]) -> dict[str, Any]:
        try:
            limit = min(int(query.get("limit", "10")), MAX_PAGE)
            offset = int(query.get("after", "0") or 0)
        except ValueError:
            raise bad_request("limit and after must be integers") from None
        archived = query.get("archived", "false").lower() == "true"
        store = (self.portal.archived if archived else self.portal.records)[object_def.name]
        ids = list(store)[offset : offset + limit]
        page: dict[str, Any] = {"results": [self.read(object_def, record_id, query) for record_id in ids]}
        if offset + limit < len(store):
            page["paging"] = {"next": {"after": str(offset + limit)}}
        return page

    def create(self, object_def: ObjectDef, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise missing_fields(["properties"])
        with self._atomic():
            record_id = self._create_one(object_def, body)
        return self.portal.serialize(
            object_def, record_id, list(self.portal.records[object_def.name][record_id])
        )

    def _create_one(self, object_def: ObjectDef, item: dict[str, Any]) -> str:
        portal = self.portal
        links = self._association_inputs(object_def, item.get("associations") or [])
        record_id = portal.insert(object_def, portal.validate(object_def, item.get("properties") or {}))
        for to_id, kind_id in links:
            kind = association_type(kind_id, object_def.name)
            if kind is not None:
                portal.associate(object_def.name, record_id, to_id, kind)
        return record_id

    def _association_inputs(self, object_def: ObjectDef, associations: Any) -> list[tuple[str, int]]:
        """Check ``associations`` of a create input: ``[{to: {id}, types: [{associationTypeId}]}]``."""
        if not isinstance(associations, list):
            raise bad_request("associations must be an array")
        links: list[tuple[str, int]] = []
        for association in associations:
            to = association.get("to") if isinstance(association, dict) else None
            types = association.get("types") if isinstance(association, dict) else None
            if not isinstance(to, dict) or "id" not in to or not isinstance(types, list) or not types:
                raise missing_fields(["to", "types"])
            to_id = str(to["id"])
            for spec in types:
                type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
                kind = association_type(type_id, object_def.name) if isinstance(type_id, int) else None
                if kind is None:
                    raise bad_request(
                        f"{type_id} is not a valid association type id from {object_def.name}",
                        context={"associationTypeId": [str(type_id)]},
                    )
                if to_id not in self.portal.records[kind.to_type]:
                    raise bad_request(
                        f"One or more associations are invalid: {kind.to_type} {to_id} does not exist",
                        context={"id": [to_id]},
                    )
                links.append((to_id, kind.type_id))
        return links

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        """Undo every insert and update of a request that fails part-way (batches are all or nothing)."""
        portal = self.portal
        records = {
            name: {rid: dict(rec) for rid, rec in recs.items()} for name, recs in portal.records.items()
        }
        stamps, links = dict(portal.stamps), dict(portal.links)
        clock, next_id = portal.clock, portal.next_id
        try:
            yield
        except ApiError:
            for name, saved in records.items():  # in place: callers may hold emulator.records
                portal.records[name].clear()
                portal.records[name].update(saved)
            portal.stamps.clear()
            portal.stamps.update(stamps)
            portal.links.clear()
            portal.links.update(links)
            portal.clock, portal.next_id = clock, next_id
            raise

    # -- batches -------------------------------------------------------------------------------

    def batch(self, object_def: ObjectDef, operation: str, query: dict[str, str], body: Any) -> Answer:
        started = format_time(self.portal.clock)
        if operation == "archive":
            for item in _inputs(body):
                record_id = self.portal.locate(object_def, str(item.get("id")), None)
                if record_id is not None:
                    self.portal.archive(object_def, record_id)
            return 204, None
        handlers = {
            "read": self._read,
            "create": self._create,
            "update": self._update,
            "upsert": self._upsert,
        }
        handler = handlers.get(operation)
        if handler is None:
            raise resource_not_found()
        results, errors = handler(object_def, query, body)
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            answer["numErrors"] = len(errors)
            answer["errors"] = errors
        answer["startedAt"] = started
        answer["completedAt"] = format_time(self.portal.clock)
        if errors:
            return 207, answer
        return (201 if operation == "create" else 200), answer

    def _read(self, object_def: ObjectDef, query: dict[str, str], body: Any) -> Outcome:
        history = body.get("propertiesWithHistory") if isinstance(body, dict) else None
        inputs = _inputs(body, MAX_BATCH_WITH_HISTORY if history else MAX_BATCH)
        id_property = body.get("idProperty") or None
        properties = body.get("properties") or None
        archived = query.get("archived", "false").lower() == "true"
        results: list[dict[str, Any]] = []
        missing: list[str] = []
        seen: set[str] = set()
        for item in inputs:
            key = str(item.get("id"))
            if archived:
                record_id = key if key in self.portal.archived[object_def.name] else None
            else:
                record_id = self.portal.locate(object_def, key, id_property)
            if record_id is None:
                missing.append(key)
            elif record_id not in seen:
                seen.add(record_id)
                results.append(self.portal.serialize(object_def, record_id, properties, history))
        return results, ([not_found_in_batch(object_def.upper, missing)] if missing else [])

    def _create(self, object_def: ObjectDef, query: dict[str, str], body: Any) -> Outcome:
        inputs = _inputs(body)
        results: list[dict[str, Any]] = []
        with self._atomic():
            for item in inputs:
                if not isinstance(item.get("properties"), dict):
                    raise missing_fields(["properties"])
                record_id = self._create_one(object_def, item)
                results.append(self._written(object_def, record_id, item))
        return results, []

    def _update(self, object_def: ObjectDef, query: dict[str, str], body: Any) -> Outcome:
        inputs = _inputs(body)
        _no_duplicates([str(item.get("id")) for item in inputs])
        portal = self.portal
        results: list[dict[str, Any]] = []
        missing: list[str] = []
        with self._atomic():
            for item in inputs:
                key = str(item.get("id"))
                record_id = portal.locate(object_def, key, item.get("idProperty"))
                if record_id is None:
                    missing.append(key)
                    continue
                record = portal.records[object_def.name][record_id]
                values = portal.validate(object_def, item.get("properties") or {}, record, record_id)
                portal.modify(object_def, record_id, values)
                results.append(self._written(object_def, record_id, item))
        return results, ([not_found_in_batch(object_def.upper, missing)] if missing else [])

    def _upsert(self, object_def: ObjectDef, query: dict[str, str], body: Any) -> Outcome:
        inputs = _inputs(body)
        portal = self.portal
        for item in inputs:
            id_property = item.get("idProperty")
            prop = object_def.properties.get(str(id_property))
            if not id_property or prop is None or not prop.unique:
                raise bad_request(
                    f"idProperty {id_property} is not a unique value property of {object_def.name}; "
                    "upsert needs a unique idProperty"
                )
        _no_duplicates([str(item.get("id")) for item in inputs])
        results: list[dict[str, Any]] = []
        with self._atomic():
            for item in inputs:
                key, id_property = str(item.get("id")), str(item["idProperty"])
                properties = dict(item.get("properties") or {})
                record_id = portal.find_unique(object_def, id_property, key)
                if record_id is None:
                    properties[id_property] = key
                    record_id = portal.insert(object_def, portal.validate(object_def, properties))
                    created = True
                else:
                    record = portal.records[object_def.name][record_id]
                    portal.modify(
                        object_def, record_id, portal.validate(object_def, properties, record, record_id)
                    )
                    created = False
                result = self._written(object_def, record_id, item)
                result["new"] = created
                results.append(result)
        return results, []

    def _written(self, object_def: ObjectDef, record_id: str, item: dict[str, Any]) -> dict[str, Any]:
        result = self.portal.serialize(
            object_def, record_id, list(self.portal.records[object_def.name][record_id])
        )
        if item.get("objectWriteTraceId") is not None:
            result["objectWriteTraceId"] = item["objectWriteTraceId"]
        return result
