"""Salesforce emulator: sObject Collections (≤ 200 records) and Composite (≤ 25 subrequests)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from tests.emulators.salesforce_api import (
    ApiError,
    ApiRequest,
    ApiResponse,
    RecordError,
    not_found,
    split_data_path,
)
from tests.emulators.salesforce_schema import SObjectDef, normalize_id
from tests.emulators.salesforce_store import coerce_value

if TYPE_CHECKING:
    from tests.emulators.salesforce_rest import RestApi

MAX_RECORDS = 200
MAX_CHUNKS = 10
MAX_SUBREQUESTS = 25
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": (
        "Record rolled back because not all records were valid and the request was using AllOrNone header"
    ),
    "fields": [],
}
HALTED = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed.",
    }
]
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_REFERENCE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

Result = dict[str, Any]


def _records_body(req: ApiRequest) -> tuple[list[Any], bool]:
    body = req.body
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be an object with a records array")
    records: list[Any] = body["records"]
    if len(records) > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
    inner = body.get("allOrNone", False)
    if not isinstance(inner, bool):
        raise ApiError(400, "JSON_PARSER_ERROR", "allOrNone must be a boolean")
    # An enclosing composite request with allOrNone=true overrides the collection's own flag.
    return records, inner or req.all_or_none


def _typed(api: RestApi, record: Any) -> SObjectDef:
    attributes = record.get("attributes") if isinstance(record, dict) else None
    type_name = attributes.get("type") if isinstance(attributes, dict) else None
    if not isinstance(type_name, str) or not type_name:
        raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
    sdef = api.org.sobject(type_name)
    if sdef is None:
        raise ApiError(400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
    return sdef


def _run(api: RestApi, work: list[Any], all_or_none: bool) -> list[Result]:
    """Apply each record's operation; with allOrNone, any failure rolls every record back."""
    state = api.org.snapshot()
    results: list[Result] = []
    for operation in work:
        try:
            results.append(operation())
        except RecordError as error:
            results.append({"success": False, "errors": [error.save_error()]})
    if all_or_none and not all(r["success"] for r in results):
        api.org.restore(state)
        results = [r if not r["success"] else {"success": False, "errors": [ROLLED_BACK]} for r in results]
    return results


def collections(api: RestApi, req: ApiRequest) -> ApiResponse:
    """``/composite/sobjects[/{type}[/{externalIdField}]]``."""
    seg = req.segments
    if len(seg) == 2:
        if req.method == "DELETE":
            return _delete(api, req)
        if req.method not in ("POST", "PATCH"):
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{req.method}' not allowed. Allowed are POST,PATCH,DELETE",
            )
        records, all_or_none = _records_body(req)
        typed = [(_typed(api, r), r) for r in records]
        if sum(1 for i, (s, _) in enumerate(typed) if i == 0 or typed[i - 1][0] is not s) > MAX_CHUNKS:
            raise ApiError(
                400,
                "EXCEEDED_MAX_TYPES_LIMIT",
                "Cannot have more than 10 chunks in a single "
                "operation. Please rearrange the data to reduce chunking.",
            )
        prepared = [(sdef, api.org.coerce(sdef, record)) for sdef, record in typed]
        work = [_creator(api, s, v) if req.method == "POST" else _updater(api, s, v) for s, v in prepared]
        return ApiResponse(200, _run(api, work, all_or_none))
    sdef = api.org.require_sobject(seg[2])
    if len(seg) == 3 and req.method in ("GET", "POST"):
        return _retrieve(api, sdef, req)
    if len(seg) == 4 and req.method == "PATCH" and float(req.version) >= 46.0:
        return _upsert(api, sdef, seg[3], req)
    raise not_found()


def _creator(api: RestApi, sdef: SObjectDef, values: dict[str, Any]) -> Any:
    def create() -> Result:
        if values.get("Id") is not None:
            raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        return {"id": api.org.insert(sdef, values), "success": True, "errors": []}

    return create


def _updater(api: RestApi, sdef: SObjectDef, values: dict[str, Any]) -> Any:
    def update() -> Result:
        raw_id = values.pop("Id", None)
        if raw_id is None:
            raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call")
        record_id = api.org.live_id(sdef, raw_id)
        api.org.modify(sdef, record_id, values)
        return {"id": record_id, "success": True, "errors": []}

    return update


def _upsert(api: RestApi, sdef: SObjectDef, field_name: str, req: ApiRequest) -> ApiResponse:
    field_def = sdef.field(field_name)
    if field_def is None or not field_def.external_id:
        raise not_found()
    records, all_or_none = _records_body(req)
    prepared = []
    for record in records:
        if _typed(api, record) is not sdef:
            raise ApiError(400, "INVALID_TYPE", f"All records must be of type {sdef.name}")
        prepared.append(api.org.coerce(sdef, record))
    keys = [str(v.get(field_def.name)).casefold() for v in prepared if v.get(field_def.name) is not None]

    def upserter(values: dict[str, Any]) -> Any:
        def upsert() -> Result:
            value = values.pop(field_def.name, None)
            if value is None:
                raise RecordError("MISSING_ARGUMENT", f"{field_def.name} not specified")
            if keys.count(str(value).casefold()) > 1:
                raise RecordError(
                    "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [field_def.name]
                )
            matches = api.org.match_external(sdef, field_def, value)
            if len(matches) > 1:
                raise RecordError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"more than one record found for external id field: [{', '.join(matches)}]",
                    [field_def.name],
                )
            if matches:
                api.org.modify(sdef, matches[0], values)
                return {"id": matches[0], "success": True, "errors": [], "created": False}
            record_id = api.org.insert(sdef, {**values, field_def.name: coerce_value(field_def, value)})
            return {"id": record_id, "success": True, "errors": [], "created": True}

        return upsert

    return ApiResponse(200, _run(api, [upserter(v) for v in prepared], all_or_none))


def _id_list(raw: Any) -> list[str]:
    ids = raw.split(",") if isinstance(raw, str) else raw if isinstance(raw, list) else None
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids parameter is required")
    if len(ids) > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
    return [str(i).strip() for i in ids]


def _retrieve(api: RestApi, sdef: SObjectDef, req: ApiRequest) -> ApiResponse:
    from tests.emulators.salesforce_rest import render_record, requested_fields

    source = req.body if req.method == "POST" and isinstance(req.body, dict) else req.query
    raw_fields = source.get("fields")
    if isinstance(raw_fields, list):
        raw_fields = ",".join(str(f) for f in raw_fields)
    if not raw_fields:
        raise ApiError(400, "MISSING_ARGUMENT", "fields parameter is required")
    fields = requested_fields(sdef, raw_fields)
    records: list[Any] = []
    for raw_id in _id_list(source.get("ids")):
        full = normalize_id(raw_id)
        record = api.org.records[sdef.name].get(full) if full else None
        records.append(render_record(sdef, record, req.version, fields) if record else None)
    return ApiResponse(200, records)


def _delete(api: RestApi, req: ApiRequest) -> ApiResponse:
    ids = _id_list(req.query.get("ids"))

    def deleter(raw_id: str) -> Any:
        def delete() -> Result:
            full = normalize_id(raw_id)
            sdef = api.org.type_of_id(full) if full else None
            if sdef is None:
                raise RecordError("MALFORMED_ID", f"malformed id {raw_id}")
            record_id = api.org.live_id(sdef, raw_id)
            api.org.remove(sdef, record_id)
            return {"id": record_id, "success": True, "errors": []}

        return delete

    all_or_none = req.query.get("allOrNone", "false").lower() == "true"
    return ApiResponse(200, _run(api, [deleter(i) for i in ids], all_or_none))


# -- Composite -------------------------------------------------------------------------------------


class _ReferenceError(Exception):
    pass


def _resolve(match: re.Match[str], refs: dict[str, Any]) -> Any:
    name, steps = match.group(1), match.group(2)
    if name not in refs:
        raise _ReferenceError(match.group(0)[2:-1])
    value = refs[name]
    for key, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", steps):
        if key and isinstance(value, dict) and key in value:
            value = value[key]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            raise _ReferenceError(match.group(0)[2:-1])
    if value is None:
        raise _ReferenceError(match.group(0)[2:-1])
    return value


def _substitute(value: Any, refs: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:
            return _resolve(whole, refs)
        return _REFERENCE.sub(lambda m: str(_resolve(m, refs)), value)
    if isinstance(value, dict):
        return {k: _substitute(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, refs) for v in value]
    return value


def _validate(body: Any) -> tuple[list[dict[str, Any]], bool]:
    subrequests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(subrequests, list) or not subrequests:
        raise ApiError(400, "JSON_PARSER_ERROR", "compositeRequest is required")
    if len(subrequests) > MAX_SUBREQUESTS:
        raise ApiError(
            400, "LIMIT_EXCEEDED", f"Composite request can contain up to {MAX_SUBREQUESTS} subrequests"
        )
    seen: set[str] = set()
    for sub in subrequests:
        ref = sub.get("referenceId") if isinstance(sub, dict) else None
        if (
            not isinstance(sub, dict)
            or not isinstance(sub.get("url"), str)
            or sub.get("method") not in ("GET", "POST", "PATCH", "PUT", "DELETE", "HEAD")
            or not isinstance(ref, str)
        ):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each subrequest needs method, url and referenceId")
        if not _REFERENCE_ID.fullmatch(ref) or ref in seen:
            raise ApiError(
                400, "INVALID_INPUT", f"Duplicate or invalid referenceId provided in the request: {ref}"
            )
        seen.add(ref)
    return subrequests, bool(body.get("allOrNone", False))


def _subrequest(
    api: RestApi, parent: ApiRequest, sub: dict[str, Any], refs: dict[str, Any], all_or_none: bool
) -> ApiResponse:
    try:
        url = _substitute(sub["url"], refs)
        body = _substitute(sub.get("body"), refs)
    except _ReferenceError as error:
        ref = str(error).split(".")[0].split("[")[0]
        return ApiResponse(
            400,
            [
                {
                    "errorCode": "PROCESSING_HALTED",
                    "message": f"Invalid reference specified. No value for {error} found in {ref}.",
                }
            ],
        )
    parts = urlsplit(url)
    split = split_data_path(parts.path)
    if split is None or split[1] == ["composite"]:
        return ApiResponse(
            400, [{"errorCode": "INVALID_INPUT", "message": f"Unsupported subrequest url: {url}"}]
        )
    version, segments = split
    if version not in api.versions:
        return ApiResponse(404, not_found().body())
    req = ApiRequest(
        sub["method"], version, segments, dict(parse_qsl(parts.query)), parent.headers, body, all_or_none
    )
    return api.dispatch(req)


def _partly_failed(response: ApiResponse) -> bool:
    """A collection subrequest answers 200 even when some of its records failed."""
    body = response.body
    return isinstance(body, list) and any(isinstance(r, dict) and r.get("success") is False for r in body)


def composite(api: RestApi, req: ApiRequest) -> ApiResponse:
    """``POST /composite``: run subrequests in order with ``@{ref.path}`` references."""
    if req.method != "POST":
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. Allowed are POST")
    subrequests, all_or_none = _validate(req.body)
    state = api.org.snapshot()
    refs: dict[str, Any] = {}
    results: list[Result] = []
    failed_at: int | None = None
    for index, sub in enumerate(subrequests):
        if failed_at is not None:
            results.append(
                {"body": HALTED, "httpHeaders": {}, "httpStatusCode": 400, "referenceId": sub["referenceId"]}
            )
            continue
        response = _subrequest(api, req, sub, refs, all_or_none)
        results.append(
            {
                "body": response.body,
                "httpHeaders": response.headers,
                "httpStatusCode": response.status,
                "referenceId": sub["referenceId"],
            }
        )
        if response.status < 400:
            refs[sub["referenceId"]] = response.body
        if all_or_none and (response.status >= 400 or _partly_failed(response)):
            failed_at = index
    if failed_at is not None:
        api.org.restore(state)
        for index in range(failed_at):
            results[index] = {
                "body": HALTED,
                "httpHeaders": {},
                "httpStatusCode": 400,
                "referenceId": subrequests[index]["referenceId"],
            }
    return ApiResponse(200, {"compositeResponse": results})
