"""A local Salesforce REST API over real HTTPS, for tests that drive simple-salesforce and requests.

Wire behaviour follows docs/protocols.md section D: OAuth token grants, versions, limits, describe,
SOQL query with nextRecordsUrl paging, sObject CRUD and upsert, sObject Collections, Composite,
JSON error arrays, and ``Sforce-Limit-Info`` on every REST response.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from tests.emulators.https_server import Fault, LoggedRequest, Reply, take_fault
from tests.emulators.hubspot_server import LocalServer
from tests.emulators.salesforce_api import ApiRequest, ApiResponse, not_found, split_data_path
from tests.emulators.salesforce_oauth import OAuthServer
from tests.emulators.salesforce_objects import default_schema
from tests.emulators.salesforce_rest import RestApi
from tests.emulators.salesforce_schema import SObjectDef, field_from_props
from tests.emulators.salesforce_store import Org
from tests.emulators.tls import TlsMaterial

TOKEN_PATH = "/services/oauth2/token"
_SEASONS = ("Winter", "Spring", "Summer")
DEFAULT_USERNAME = "integration@ventanilla.example"


def _release_label(version: str) -> str:
    offset = int(float(version)) - 59  # 59.0 is Winter '24
    return f"{_SEASONS[offset % 3]} '{24 + offset // 3:02d}"


class SalesforceEmulator:
    """A threaded HTTPS server on 127.0.0.1 speaking the Salesforce REST API."""

    def __init__(
        self,
        tls: TlsMaterial,
        org_id: str = "00D000000000001EAA",
        api_version: str = "59.0",
        limit: int = 100_000,
    ) -> None:
        self.tls = tls
        self.ca_path = tls.ca_path
        self.org_id = org_id
        self.api_version = api_version
        self.limit = limit
        self.api_used = 0
        self.query_page_size = 2000
        self.latency_s = 0.0
        self.versions = [f"{v}.0" for v in range(20, int(float(api_version)) + 1)]
        self.org = Org(default_schema())
        self.oauth = OAuthServer(org_id)
        self.rest = RestApi(self.org, self, self.versions)
        self.request_log: list[LoggedRequest] = []
        self.instance_url = ""
        self.token_url = ""
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._drops: list[Fault] = []
        self._server: LocalServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SalesforceEmulator:
        self._server = LocalServer(self, self.tls.server_context())
        self.instance_url = self._server.url
        self.token_url = self.instance_url + TOKEN_PATH
        self.oauth.instance_url = self.instance_url
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> SalesforceEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- data ----------------------------------------------------------------------------------------

    @property
    def records(self) -> dict[str, dict[str, dict[str, Any]]]:
        """sObject type → Id → fields (live records; deleted ones are in ``org.deleted``)."""
        return self.org.records

    def add_record(self, sobject: str, fields: dict[str, Any]) -> str:
        """Seed a record as if it already existed (no DML rules); return its 18-character id."""
        with self._lock:
            sdef = self._sobject(sobject)
            return self.org.insert(sdef, self.org.coerce(sdef, fields), validate=False)

    def update_record(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        """Change a record as an agent in the org would: LastModifiedDate moves forward."""
        with self._lock:
            sdef = self._sobject(sobject)
            if record_id not in self.org.records[sdef.name]:
                raise KeyError(f"no live {sdef.name} {record_id}")
            self.org.modify(sdef, record_id, self.org.coerce(sdef, fields), validate=False)

    def find(self, sobject: str, **equals: Any) -> list[dict[str, Any]]:
        """Copies of the live records whose fields equal every keyword value."""
        with self._lock:
            sdef = self._sobject(sobject)
            return [
                dict(r)
                for r in self.org.records[sdef.name].values()
                if all(r.get(k) == v for k, v in equals.items())
            ]

    def describe_field(self, sobject: str, name: str, **props: Any) -> None:
        """Add or change a field using describe names (``type``, ``length``, ``externalId``, …)."""
        with self._lock:
            sdef = self._sobject(sobject)
            existing = sdef.field(name)
            updated = field_from_props(existing.name if existing else name, existing, props)
            fields = sdef.fields
            if existing is None and "CreatedDate" in fields:  # keep the audit fields last
                tail = {k: fields.pop(k) for k in ("CreatedDate", "LastModifiedDate", "SystemModstamp")}
                fields[updated.name] = updated
                fields.update(tail)
            else:
                fields[updated.name] = updated

    def _sobject(self, name: str) -> SObjectDef:
        sdef = self.org.sobject(name)
        if sdef is None:
            raise KeyError(f"unknown sObject type {name!r}")
        return sdef

    # -- auth ----------------------------------------------------------------------------------------

    def add_user(self, username: str, password: str, security_token: str = "") -> str:
        with self._lock:
            return self.oauth.add_user(username, password, security_token)

    def register_client(self, client_id: str, client_secret: str, run_as: str | None = None) -> None:
        """Register a connected app; client_credentials runs as ``run_as`` (default integration user)."""
        with self._lock:
            if run_as is None:
                run_as = DEFAULT_USERNAME
                if run_as not in self.oauth.users:
                    self.oauth.add_user(run_as, "unused-password")
            self.oauth.register_client(client_id, client_secret, run_as)

    def register_jwt_key(self, client_id: str, public_key_pem: str | bytes) -> None:
        """Register the public key (or X.509 certificate) that verifies a client's JWT assertions."""
        with self._lock:
            self.oauth.register_jwt_key(client_id, public_key_pem)

    def issue_token(self, username: str = DEFAULT_USERNAME) -> str:
        """Return a valid access token without an OAuth round trip."""
        with self._lock:
            if username not in self.oauth.users:
                self.oauth.add_user(username, "unused-password")
            return self.oauth.issue(username).token

    def expire_sessions(self) -> None:
        """Invalidate every issued token: calls get 401 INVALID_SESSION_ID until clients re-authenticate."""
        with self._lock:
            self.oauth.expire_all()

    # -- faults and the log ----------------------------------------------------------------------

    def fail_next(
        self, n: int, status: int, error_code: str, message: str, path_contains: str | None = None
    ) -> None:
        """Answer the next ``n`` matching requests with this error (not counted as API calls)."""
        with self._lock:
            self._faults.append(Fault(n, status, error_code, message, path_contains))

    def drop_connection_next(self, n: int = 1, path_contains: str | None = None) -> None:
        """Close the connection without answering the next ``n`` matching requests."""
        with self._lock:
            self._drops.append(Fault(n, path_contains=path_contains))

    def clear_faults(self) -> None:
        """Forget pending fail_next / drop_connection_next faults and any latency."""
        with self._lock:
            self._faults.clear()
            self._drops.clear()
            self.latency_s = 0.0

    def api_calls(self) -> int:
        """REST calls in the log that Salesforce counts (not the token endpoint, not ``/services/data/``)."""
        with self._lock:
            return sum(1 for entry in self.request_log if entry.counted)

    def reset_log(self) -> None:
        with self._lock:
            self.request_log.clear()

    def requests_to(self, path_contains: str) -> Iterator[LoggedRequest]:
        with self._lock:
            entries = [e for e in self.request_log if path_contains in e.path]
        return iter(entries)

    # -- request handling (called by the HTTP handler) -------------------------------------------

    def serve(self, entry: LoggedRequest) -> Reply:
        """Log one HTTP request and produce its reply (called from the connection's thread)."""
        body_error = _parse_body(entry)
        with self._lock:
            self.request_log.append(entry)
            if take_fault(self._drops, entry.path):
                return Reply(0, drop=True)
            fault = take_fault(self._faults, entry.path)
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            if entry.path == TOKEN_PATH:
                return self._token(entry, fault)
            if entry.path.rstrip("/") == "/services/data":
                # The versions list needs no session and is not counted.
                body = self.versions_body() if entry.method == "GET" else not_found().body()
                return self._limited(Reply(200 if entry.method == "GET" else 404, body))
            split = split_data_path(entry.path)
            if split is None:
                return Reply(404, not_found().body())
            return self._data(entry, split, fault, body_error)

    def _token(self, entry: LoggedRequest, fault: Fault | None) -> Reply:
        if fault is not None:
            return Reply(fault.status, {"error": fault.error_code, "error_description": fault.message})
        if entry.method != "POST":
            return Reply(400, {"error": "invalid_request", "error_description": "must use HTTP POST"})
        form = dict(entry.query)
        if isinstance(entry.body, dict):
            form.update(entry.body)
        status, body = self.oauth.token(form, entry.headers.get("authorization"))
        return Reply(status, body, {"Cache-Control": "no-store"})

    def _data(
        self,
        entry: LoggedRequest,
        split: tuple[str, list[str]],
        fault: Fault | None,
        body_error: Reply | None,
    ) -> Reply:
        version, segments = split
        if fault is not None:
            return self._limited(
                Reply(fault.status, [{"message": fault.message, "errorCode": fault.error_code}])
            )
        authorization = entry.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or self.oauth.session_for(token.strip()) is None:
            return self._limited(
                Reply(
                    401,
                    [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
                    {"WWW-Authenticate": "Token"},
                )
            )
        if self.api_used >= self.limit:
            return self._limited(
                Reply(
                    403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
                )
            )
        self.api_used += 1
        entry.counted = True
        if version not in self.versions:
            return self._limited(Reply(404, not_found().body()))
        if body_error is not None:
            return self._limited(body_error)
        request = ApiRequest(entry.method, version, segments, entry.query, entry.headers, entry.body)
        response: ApiResponse = self.rest.dispatch(request)
        return self._limited(Reply(response.status, response.body, response.headers))

    def _limited(self, reply: Reply) -> Reply:
        reply.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.limit}"
        return reply

    def versions_body(self) -> list[dict[str, str]]:
        return [
            {"label": _release_label(v), "url": f"/services/data/v{v}", "version": v} for v in self.versions
        ]


def _parse_body(entry: LoggedRequest) -> Reply | None:
    """Decode the body: a form for the token endpoint, JSON elsewhere; return the error reply if it fails."""
    if not entry.raw_body:
        return None
    if entry.path == TOKEN_PATH:
        entry.body = dict(parse_qsl(entry.raw_body.decode("utf-8", "replace"), keep_blank_values=True))
        return None
    content_type = entry.headers.get("content-type", "")
    if content_type and "json" not in content_type.lower():
        message = f"Content type '{content_type}' is not supported by this emulator (JSON only)"
        return Reply(415, [{"message": message, "errorCode": "UNSUPPORTED_MEDIA_TYPE"}])
    try:
        entry.body = json.loads(entry.raw_body)
    except (ValueError, UnicodeDecodeError) as error:
        return Reply(400, [{"message": f"Unexpected character: {error}", "errorCode": "JSON_PARSER_ERROR"}])
    return None
