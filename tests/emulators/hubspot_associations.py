"""HubSpot emulator: associations v4, and the read-only pipelines and properties endpoints."""

from __future__ import annotations

from typing import Any

from tests.emulators.hubspot_errors import ApiError, bad_request, missing_fields, resource_not_found
from tests.emulators.hubspot_objects import MAX_BATCH, Answer
from tests.emulators.hubspot_schema import (
    ASSOCIATION_TYPES,
    AssociationType,
    ObjectDef,
    association_type,
    default_association,
    describe_pipeline,
    describe_stage,
    format_time,
)
from tests.emulators.hubspot_store import Portal

DEFAULT_PAGE = 500


def _spec(kind: AssociationType) -> dict[str, Any]:
    return {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": kind.type_id}


def _type_with_label(kind: AssociationType) -> dict[str, Any]:
    return {"category": "HUBSPOT_DEFINED", "typeId": kind.type_id, "label": kind.label}


def _batch(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], started: str, done: str
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    body["startedAt"] = started
    body["completedAt"] = done
    return body


class AssociationsApi:
    """Routes below ``/crm/v4/``."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal

    def dispatch(self, method: str, segments: list[str], query: dict[str, str], body: Any) -> Answer:
        # objects/{from}/{id}/associations/...
        if len(segments) >= 4 and segments[0] == "objects" and segments[3] == "associations":
            from_def = self.portal.object_def(segments[1])
            from_id, rest = segments[2], segments[4:]
            if len(rest) == 3 and rest[0] == "default" and method == "PUT":
                to_def = self.portal.object_def(rest[1])
                return 200, self.associate_default([(from_id, rest[2])], from_def, to_def, both=True)
            if len(rest) == 2 and method == "PUT":
                return 201, self.associate_labeled(
                    from_def, from_id, self.portal.object_def(rest[0]), rest[1], body
                )
            if len(rest) == 2 and method == "DELETE":
                self.portal.unlink(from_def.name, from_id, self.portal.object_def(rest[0]).name, rest[1])
                return 204, None
            if len(rest) == 1 and method == "GET":
                return 200, self.page(from_def, from_id, self.portal.object_def(rest[0]), query)
        # associations/{from}/{to}/batch/{op} and associations/{from}/{to}/labels
        if len(segments) >= 4 and segments[0] == "associations":
            from_def, to_def = self.portal.object_def(segments[1]), self.portal.object_def(segments[2])
            rest = segments[3:]
            if rest == ["labels"] and method == "GET":
                kinds = [
                    k for k in ASSOCIATION_TYPES if (k.from_type, k.to_type) == (from_def.name, to_def.name)
                ]
                return 200, {"results": [_type_with_label(k) for k in kinds]}
            if len(rest) >= 2 and rest[0] == "batch" and method == "POST":
                return self.batch("/".join(rest[1:]), from_def, to_def, body)
        raise resource_not_found()

    def _require(self, object_def: ObjectDef, record_id: str) -> None:
        if record_id not in self.portal.records[object_def.name]:
            raise bad_request(
                f"One or more associations are invalid: {object_def.singular} {record_id} does not exist",
                context={"id": [record_id]},
            )

    def associate_default(
        self, pairs: list[tuple[str, str]], from_def: ObjectDef, to_def: ObjectDef, both: bool
    ) -> dict[str, Any]:
        kind = default_association(from_def.name, to_def.name)
        if kind is None:
            raise bad_request(f"No default association type exists from {from_def.name} to {to_def.name}")
        inverse = default_association(to_def.name, from_def.name)
        started = format_time(self.portal.clock)
        for from_id, to_id in pairs:
            self._require(from_def, from_id)
            self._require(to_def, to_id)
        results: list[dict[str, Any]] = []
        for from_id, to_id in pairs:
            self.portal.associate(from_def.name, from_id, to_id, kind)
            results.append({"from": {"id": from_id}, "to": {"id": to_id}, "associationSpec": _spec(kind)})
            if both and inverse is not None:
                results.append(
                    {"from": {"id": to_id}, "to": {"id": from_id}, "associationSpec": _spec(inverse)}
                )
        return _batch(results, [], started, format_time(self.portal.clock))

    def _labeled_pair(
        self, from_def: ObjectDef, from_id: str, to_def: ObjectDef, to_id: str, specs: Any
    ) -> dict[str, Any]:
        if not isinstance(specs, list) or not specs:
            raise missing_fields(["associationCategory", "associationTypeId"])
        kinds: list[AssociationType] = []
        for spec in specs:
            type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
            kind = association_type(type_id, from_def.name) if isinstance(type_id, int) else None
            if kind is None or kind.to_type != to_def.name:
                raise bad_request(
                    f"{type_id} is not a valid association type id from {from_def.name} to {to_def.name}"
                )
            kinds.append(kind)
        self._require(from_def, from_id)
        self._require(to_def, to_id)
        for kind in kinds:
            self.portal.associate(from_def.name, from_id, to_id, kind)
        labels = [k.label for k in kinds if k.label]
        return {
            "fromObjectTypeId": from_def.type_id,
            "fromObjectId": int(from_id),
            "toObjectTypeId": to_def.type_id,
            "toObjectId": int(to_id),
            "labels": labels,
        }

    def associate_labeled(
        self, from_def: ObjectDef, from_id: str, to_def: ObjectDef, to_id: str, body: Any
    ) -> dict[str, Any]:
        return self._labeled_pair(from_def, from_id, to_def, to_id, body)

    def _associated(self, from_def: ObjectDef, from_id: str, to_def: ObjectDef) -> list[dict[str, Any]]:
        found = self.portal.associations_of(from_def.name, from_id, to_def.name)
        return [
            {"toObjectId": int(to_id), "associationTypes": [_type_with_label(k) for k in kinds]}
            for to_id, kinds in found.items()
        ]

    def page(
        self, from_def: ObjectDef, from_id: str, to_def: ObjectDef, query: dict[str, str]
    ) -> dict[str, Any]:
        try:
            limit = int(query.get("limit", str(DEFAULT_PAGE)))
            offset = int(query.get("after", "0") or 0)
        except ValueError:
            raise bad_request("limit and after must be integers") from None
        everything = self._associated(from_def, from_id, to_def)
        body: dict[str, Any] = {"results": everything[offset : offset + limit]}
        if offset + limit < len(everything):
            body["paging"] = {"next": {"after": str(offset + limit)}}
        return body

    def batch(self, operation: str, from_def: ObjectDef, to_def: ObjectDef, body: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise missing_fields(["inputs"])
        inputs = body["inputs"]
        if len(inputs) > MAX_BATCH:
            raise bad_request(
                f"Batch input limit exceeded: {len(inputs)} inputs were sent; the limit is {MAX_BATCH}."
            )
        started = format_time(self.portal.clock)
        try:
            if operation == "associate/default":
                pairs = [(str(i["from"]["id"]), str(i["to"]["id"])) for i in inputs]
                return 200, self.associate_default(pairs, from_def, to_def, both=False)
            if operation == "create":
                results = [
                    self._labeled_pair(
                        from_def, str(i["from"]["id"]), to_def, str(i["to"]["id"]), i.get("types")
                    )
                    for i in inputs
                ]
                return 201, _batch(results, [], started, format_time(self.portal.clock))
            if operation == "archive":
                for item in inputs:
                    for to in item.get("to") or []:
                        self.portal.unlink(from_def.name, str(item["from"]["id"]), to_def.name, str(to["id"]))
                return 204, None
            if operation == "read":
                return self.batch_read(from_def, to_def, [str(i["id"]) for i in inputs], started)
        except (KeyError, TypeError):
            raise missing_fields(["from", "to"] if operation != "read" else ["id"]) from None
        raise resource_not_found()

    def batch_read(self, from_def: ObjectDef, to_def: ObjectDef, ids: list[str], started: str) -> Answer:
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for from_id in ids:
            found = self._associated(from_def, from_id, to_def)
            if found:
                results.append({"from": {"id": from_id}, "to": found})
            else:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                        "context": {"fromObjectId": [from_id]},
                        "message": f"No {to_def.singular} is associated with {from_def.singular} {from_id}.",
                    }
                )
        return (207 if errors else 200), _batch(results, errors, started, format_time(self.portal.clock))


def pipelines(portal: Portal, method: str, segments: list[str]) -> Answer:
    """``GET /crm/v3/pipelines/{objectType}[/{pipelineId}[/stages[/{stageId}]]]``."""
    if method != "GET" or not segments:
        raise resource_not_found()
    object_def = portal.object_def(segments[0])
    found = portal.pipelines.get(object_def.name, [])
    if len(segments) == 1:
        return 200, {"results": [describe_pipeline(p, i) for i, p in enumerate(found)]}
    pipeline = portal.pipeline(object_def.name, segments[1])
    if pipeline is None:
        raise ApiError(404, f"Unable to find pipeline {segments[1]}", "OBJECT_NOT_FOUND")
    if len(segments) == 2:
        return 200, describe_pipeline(pipeline, found.index(pipeline))
    if segments[2] == "stages" and len(segments) == 3:
        return 200, {"results": [describe_stage(s, i) for i, s in enumerate(pipeline.stages)]}
    if segments[2] == "stages" and len(segments) == 4:
        for index, stage in enumerate(pipeline.stages):
            if stage.id == segments[3]:
                return 200, describe_stage(stage, index)
        raise ApiError(404, f"Unable to find stage {segments[3]}", "OBJECT_NOT_FOUND")
    raise resource_not_found()


def properties(portal: Portal, method: str, segments: list[str]) -> Answer:
    """``GET /crm/v3/properties/{objectType}[/{propertyName}]`` from the registry validation uses."""
    if method != "GET" or not segments or len(segments) > 2:
        raise resource_not_found()
    object_def = portal.object_def(segments[0])
    described = [p.describe(object_def.singular, i) for i, p in enumerate(object_def.properties.values())]
    if len(segments) == 1:
        return 200, {"results": described}
    for entry in described:
        if entry["name"] == segments[1]:
            return 200, entry
    raise ApiError(404, f"Property {segments[1]} does not exist", "OBJECT_NOT_FOUND")
