"""Salesforce emulator: the REST resources below ``/services/data/vXX.X/``."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Protocol

from tests.emulators import salesforce_composite
from tests.emulators.salesforce_api import (
    ApiError,
    ApiRequest,
    ApiResponse,
    RecordError,
    not_found,
)
from tests.emulators.salesforce_query import QueryEngine
from tests.emulators.salesforce_schema import FieldDef, SObjectDef, make_id, normalize_id
from tests.emulators.salesforce_soql import SoqlError
from tests.emulators.salesforce_store import Org, coerce_value

_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_NO_COLUMN = (
    "No such column '{name}' on entity '{entity}'. If you are attempting to use a custom field, be sure to "
    "append the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
UPSERT_CREATED_SINCE = 46.0  # API version that added "created" and 200-with-body for upsert updates


class RestSettings(Protocol):
    query_page_size: int
    limit: int
    api_used: int


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    page_size: int
    endpoint: str


def allow(req: ApiRequest, *methods: str) -> None:
    """Raise 405 unless the request uses one of ``methods``."""
    if req.method not in methods:
        allowed = ",".join(
            ["GET", "HEAD", *[m for m in methods if m != "GET"]] if "GET" in methods else methods
        )
        raise ApiError(
            405, "METHOD_NOT_ALLOWED", f"HTTP Method '{req.method}' not allowed. Allowed are {allowed}"
        )


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from a non-object value"
        )
    return body


def render_record(
    sdef: SObjectDef, record: dict[str, Any], version: str, fields: list[FieldDef] | None = None
) -> dict[str, Any]:
    """A record as GET returns it: ``attributes`` first, then the fields in describe order."""
    url = f"/services/data/v{version}/sobjects/{sdef.name}/{record['Id']}"
    out: dict[str, Any] = {"attributes": {"type": sdef.name, "url": url}}
    for field_def in fields if fields is not None else sdef.fields.values():
        out[field_def.name] = record.get(field_def.name)
    return out


def requested_fields(sdef: SObjectDef, raw: str | None) -> list[FieldDef] | None:
    if raw is None:
        return None
    chosen = []
    for name in (n.strip() for n in raw.split(",") if n.strip()):
        field_def = sdef.field(name)
        if field_def is None:
            raise ApiError(400, "INVALID_FIELD", _NO_COLUMN.format(name=name, entity=sdef.name))
        chosen.append(field_def)
    return chosen


class RestApi:
    """Route and answer REST calls against one Org."""

    def __init__(self, org: Org, settings: RestSettings, versions: list[str]) -> None:
        self.org = org
        self.settings = settings
        self.versions = versions
        self.engine = QueryEngine(org)
        self.cursors: dict[str, _Cursor] = {}
        self._cursor_serial = 0

    def dispatch(self, req: ApiRequest) -> ApiResponse:
        """Answer one call; API errors become their documented status and error array."""
        if req.method == "HEAD":
            req = replace(req, method="GET")  # the server sends the headers without the body
        try:
            return self._route(req)
        except ApiError as error:
            return ApiResponse(error.status, error.body())
        except SoqlError as error:
            return ApiResponse(400, [{"message": error.message, "errorCode": error.code}])

    def _route(self, req: ApiRequest) -> ApiResponse:
        head = req.segments[0] if req.segments else ""
        if not req.segments:
            allow(req, "GET")
            base = f"/services/data/v{req.version}"
            names = ("sobjects", "query", "queryAll", "composite", "limits")
            return ApiResponse(200, {name: f"{base}/{name}" for name in names})
        if head == "limits" and len(req.segments) == 1:
            allow(req, "GET")
            return ApiResponse(200, self._limits())
        if head == "sobjects":
            return self._sobjects(req)
        if head in ("query", "queryAll") and len(req.segments) <= 2:
            return self._query(req)
        if head == "composite" and len(req.segments) == 1:
            return salesforce_composite.composite(self, req)
        if head == "composite" and req.segments[1:2] == ["sobjects"] and float(req.version) >= 42.0:
            return salesforce_composite.collections(self, req)
        raise not_found()

    def _limits(self) -> dict[str, Any]:
        limit, used = self.settings.limit, self.settings.api_used
        return {
            "DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "FileStorageMB": {"Max": 10240, "Remaining": 10240},
        }

    # -- sObject resources -------------------------------------------------------------------------

    def _sobjects(self, req: ApiRequest) -> ApiResponse:
        seg = req.segments
        if len(seg) == 1:
            allow(req, "GET")
            return ApiResponse(
                200,
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": 200,
                    "sobjects": [
                        {
                            "name": s.name,
                            "label": s.label,
                            "keyPrefix": s.key_prefix,
                            "urls": s.urls(req.version),
                            "queryable": True,
                            "createable": True,
                            "updateable": True,
                            "deletable": True,
                        }
                        for s in self.org.schema.values()
                    ],
                },
            )
        sdef = self.org.require_sobject(seg[1])
        if len(seg) == 2:
            allow(req, "GET", "POST")
            if req.method == "GET":
                info = {k: v for k, v in sdef.describe(req.version).items() if k != "fields"}
                return ApiResponse(200, {"objectDescribe": info, "recentItems": []})
            return self.create_one(sdef, req)
        if len(seg) == 3 and seg[2] == "describe":
            allow(req, "GET")
            return ApiResponse(200, sdef.describe(req.version))
        if len(seg) == 3:
            allow(req, "GET", "PATCH", "DELETE")
            return self._one_record(sdef, seg[2], req)
        if len(seg) == 4:
            allow(req, "GET", "PATCH", "DELETE")
            return self._by_external_id(sdef, seg[2], seg[3], req)
        raise not_found()

    def create_one(self, sdef: SObjectDef, req: ApiRequest) -> ApiResponse:
        values = self.org.coerce(sdef, json_object(req.body))
        try:
            record_id = self.org.insert(sdef, values)
        except RecordError as error:
            raise error.api_error() from None
        location = f"/services/data/v{req.version}/sobjects/{sdef.name}/{record_id}"
        return ApiResponse(201, {"id": record_id, "success": True, "errors": []}, {"Location": location})

    def _one_record(self, sdef: SObjectDef, raw_id: str, req: ApiRequest) -> ApiResponse:
        full = normalize_id(raw_id)
        if full is None or full[:3] != sdef.key_prefix:
            # Anything that is not an id of this type is read as an external-id field name.
            raise ApiError(
                404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {raw_id}"
            )
        if full in self.org.deleted[sdef.name]:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        record = self.org.records[sdef.name].get(full)
        if record is None:
            raise not_found()
        return self._record_op(sdef, full, record, req)

    def _record_op(
        self, sdef: SObjectDef, record_id: str, record: dict[str, Any], req: ApiRequest
    ) -> ApiResponse:
        if req.method == "GET":
            fields = requested_fields(sdef, req.query.get("fields"))
            return ApiResponse(200, render_record(sdef, record, req.version, fields))
        if req.method == "DELETE":
            self.org.remove(sdef, record_id)
            return ApiResponse(204)
        values = self.org.coerce(sdef, json_object(req.body))
        try:
            self.org.modify(sdef, record_id, values)
        except RecordError as error:
            raise error.api_error() from None
        return ApiResponse(204)

    def _by_external_id(
        self, sdef: SObjectDef, field_name: str, raw_value: str, req: ApiRequest
    ) -> ApiResponse:
        field_def = sdef.field(field_name)
        usable = field_def is not None and (
            field_def.external_id or (req.method == "GET" and field_def.id_lookup)
        )
        if field_def is None or not usable:
            raise ApiError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        matches = self.org.match_external(sdef, field_def, raw_value)
        if len(matches) > 1:
            return ApiResponse(
                300, [f"/services/data/v{req.version}/sobjects/{sdef.name}/{m}" for m in matches]
            )
        if req.method != "PATCH":
            if not matches:
                raise not_found()
            return self._record_op(sdef, matches[0], self.org.records[sdef.name][matches[0]], req)
        return self._upsert_one(sdef, field_def, raw_value, matches, req)

    def _upsert_one(
        self, sdef: SObjectDef, field_def: FieldDef, raw_value: str, matches: list[str], req: ApiRequest
    ) -> ApiResponse:
        values = self.org.coerce(sdef, json_object(req.body))
        for name in (field_def.name, "Id"):
            if name in values:
                # Documented: don't put Id or the external id field in the body of an upsert.
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"Field {name} is not allowed in the request body of an upsert by {field_def.name}",
                    [name],
                )
        modern = float(req.version) >= UPSERT_CREATED_SINCE
        try:
            if matches:
                self.org.modify(sdef, matches[0], values)
                if not modern:
                    return ApiResponse(204)
                return ApiResponse(200, {"id": matches[0], "success": True, "errors": [], "created": False})
            if req.query.get("updateOnly", "").lower() == "true":
                raise not_found()
            values[field_def.name] = coerce_value(field_def, raw_value)
            record_id = self.org.insert(sdef, values)
        except RecordError as error:
            raise error.api_error() from None
        body: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
        if modern:
            body["created"] = True
        location = f"/services/data/v{req.version}/sobjects/{sdef.name}/{record_id}"
        return ApiResponse(201, body, {"Location": location})

    # -- query -------------------------------------------------------------------------------------

    def _query(self, req: ApiRequest) -> ApiResponse:
        allow(req, "GET")
        endpoint = req.segments[0]
        if len(req.segments) == 2 and req.segments[1]:
            return self._next_page(endpoint, req.segments[1], req.version)
        text = req.query.get("q")
        if not text:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        result = self.engine.run(text, include_deleted=endpoint == "queryAll", version=req.version)
        if not result.records:
            return ApiResponse(200, {"totalSize": result.total_size, "done": True, "records": []})
        cursor = _Cursor(result.records, self._page_size(req), endpoint)
        self._cursor_serial += 1
        locator = make_id("01g", 0x3B0000 + self._cursor_serial)
        if len(result.records) > cursor.page_size:
            self.cursors[locator] = cursor
        return ApiResponse(200, self._page(locator, cursor, 0, req.version))

    def _page_size(self, req: ApiRequest) -> int:
        batch = 2000
        match = _BATCH_SIZE.search(req.headers.get("sforce-query-options", ""))
        if match:
            batch = min(max(int(match.group(1)), 200), 2000)
        return max(1, min(batch, self.settings.query_page_size))

    def _next_page(self, endpoint: str, locator: str, version: str) -> ApiResponse:
        cursor_id, _, offset = locator.rpartition("-")
        cursor = self.cursors.get(cursor_id)
        if cursor is None or cursor.endpoint != endpoint or not offset.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return ApiResponse(200, self._page(cursor_id, cursor, int(offset), version))

    @staticmethod
    def _page(locator: str, cursor: _Cursor, offset: int, version: str) -> dict[str, Any]:
        end = offset + cursor.page_size
        page: dict[str, Any] = {"totalSize": len(cursor.records), "done": end >= len(cursor.records)}
        if not page["done"]:
            page["nextRecordsUrl"] = f"/services/data/v{version}/{cursor.endpoint}/{locator}-{end}"
        page["records"] = cursor.records[offset:end]
        return page
