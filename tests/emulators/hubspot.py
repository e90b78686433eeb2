"""A local HubSpot CRM API over real HTTP(S), for tests that drive the official ``hubspot-api-client``.

Wire behaviour follows docs/protocols.md section C: CRM objects v3 (CRUD, search, batch read/create/
update/upsert/archive), associations v4, ticket pipelines, properties, HubSpot's JSON error bodies,
bearer-token auth, and enforced rate limits with ``X-HubSpot-RateLimit-*`` headers.

    with HubSpotEmulator() as emu:
        emu.add_token("pat-test")
        client = hubspot.HubSpot(access_token="pat-test", host=emu.base_url)
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote

from tests.emulators.https_server import LoggedRequest, Reply, take_fault
from tests.emulators.hubspot_associations import AssociationsApi, pipelines, properties
from tests.emulators.hubspot_errors import (
    ApiError,
    bad_request,
    fault_body,
    rate_limit_body,
    resource_not_found,
    unauthorized_body,
)
from tests.emulators.hubspot_limits import RateLimiter
from tests.emulators.hubspot_objects import Answer, ObjectsApi
from tests.emulators.hubspot_schema import ObjectDef, PropertyDef, association_type, default_association
from tests.emulators.hubspot_store import Portal, to_text
from tests.emulators.local_emulator import BodyFault, LocalEmulator
from tests.emulators.tls import TlsMaterial


class HubSpotEmulator(LocalEmulator):
    """A threaded HTTP (or, given TLS material, HTTPS) server on 127.0.0.1 speaking the HubSpot CRM API."""

    def __init__(
        self,
        tls: TlsMaterial | None = None,
        portal_id: int = 62515,
        burst_limit: int = 190,
        burst_window_s: float = 10.0,
        search_per_second: int = 5,
        daily_limit: int = 650_000,
    ) -> None:
        super().__init__(tls)
        self.portal_id = portal_id
        self.portal = Portal(portal_id)
        self.limits = RateLimiter(burst_limit, burst_window_s, search_per_second, daily_limit)
        self.tokens: set[str] = set()
        self.latency_s = 0.0
        self._objects = ObjectsApi(self.portal)
        self._associations = AssociationsApi(self.portal)

    # -- auth and limits -------------------------------------------------------------------------

    def add_token(self, token: str) -> None:
        """Accept ``Authorization: Bearer <token>`` (a private-app token or an OAuth access token)."""
        with self._lock:
            self.tokens.add(token)

    def rate_limited_next(self, n: int = 1, policy: str = "TEN_SECONDLY_ROLLING") -> None:
        """Answer the next ``n`` authenticated API calls with a 429 of this policy (not counted)."""
        with self._lock:
            self.limits.force(n, policy)

    def reset_limits(self) -> None:
        """Forget every burst window, the daily count and forced 429s."""
        with self._lock:
            self.limits.reset()

    # -- data ----------------------------------------------------------------------------------------

    @property
    def records(self) -> dict[str, dict[str, dict[str, str]]]:
        """Object type → id → properties (live records; all values strings, as on the wire)."""
        return self.portal.records

    def _object(self, object_type: str) -> ObjectDef:
        object_def = self.portal.resolve(object_type)
        if object_def is None:
            raise KeyError(f"unknown object type {object_type!r}")
        return object_def

    def _seed_values(
        self, object_def: ObjectDef, props: dict[str, Any], record_id: str | None
    ) -> dict[str, Any]:
        unknown = [name for name in props if name not in object_def.properties]
        if unknown:
            raise KeyError(f"{object_def.name} has no properties {unknown}")
        writable = {k: v for k, v in props.items() if not object_def.properties[k].read_only}
        current = None if record_id is None else self.portal.records[object_def.name][record_id]
        try:
            values = self.portal.validate(object_def, writable, current, record_id, seeding=True)
        except ApiError as error:
            raise ValueError(error.body["message"]) from None
        return values

    def add_record(self, object_type: str, properties: dict[str, Any]) -> str:
        """Seed a record as if it already existed (types, options and unique values are checked)."""
        with self._lock:
            object_def = self._object(object_type)
            return self.portal.insert(object_def, self._seed_values(object_def, properties, None))

    def update_record(self, object_type: str, record_id: str, properties: dict[str, Any]) -> None:
        """Change a record as a user in HubSpot would: ``hs_lastmodifieddate`` moves forward."""
        with self._lock:
            object_def = self._object(object_type)
            if record_id not in self.portal.records[object_def.name]:
                raise KeyError(f"no live {object_def.name} {record_id}")
            self.portal.modify(object_def, record_id, self._seed_values(object_def, properties, record_id))

    def find(self, object_type: str, **props: Any) -> list[dict[str, str]]:
        """Copies of the live records whose properties equal every keyword value (compared as strings)."""
        with self._lock:
            object_def = self._object(object_type)
            wanted = {k: to_text(v) for k, v in props.items()}
            return [
                dict(r)
                for r in self.portal.records[object_def.name].values()
                if all(r.get(k) == v for k, v in wanted.items())
            ]

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_id: int | None = None
    ) -> None:
        """Seed an association (both directions); ``type_id`` defaults to the pair's default type."""
        with self._lock:
            from_def, to_def = self._object(from_type), self._object(to_type)
            kind = (
                default_association(from_def.name, to_def.name)
                if type_id is None
                else association_type(type_id, from_def.name)
            )
            if kind is None or kind.to_type != to_def.name:
                raise KeyError(f"no association type {type_id} from {from_def.name} to {to_def.name}")
            self.portal.associate(from_def.name, from_id, to_id, kind)

    def associations(self, from_type: str, from_id: str, to_type: str) -> list[tuple[str, int]]:
        """``(to_id, associationTypeId)`` pairs stored from one record to an object type."""
        with self._lock:
            from_def, to_def = self._object(from_type), self._object(to_type)
            found = self.portal.associations_of(from_def.name, from_id, to_def.name)
            return [(to_id, kind.type_id) for to_id, kinds in found.items() for kind in kinds]

    def define_property(
        self,
        object_type: str,
        name: str,
        type: str = "string",
        unique: bool = False,
        options: list[str] | None = None,
    ) -> None:
        """Add (or replace) a custom property; validation, search and ``/crm/v3/properties`` see it."""
        with self._lock:
            prop = PropertyDef(name, type, unique, tuple(options or ()), hubspot_defined=False)
            self._object(object_type).add(prop)

    # -- faults and the log ----------------------------------------------------------------------

    def clear_faults(self) -> None:
        """Forget pending faults, dropped connections, forced 429s and latency."""
        with self._lock:
            self._faults.clear()
            self._drops.clear()
            self.limits.reset()
            self.latency_s = 0.0

    def api_calls(self) -> int:
        """Authenticated ``/crm/`` calls that were answered (not 401s, injected faults or 429s)."""
        with self._lock:
            return sum(1 for entry in self.request_log if entry.counted)

    def search_calls(self) -> int:
        with self._lock:
            return sum(1 for entry in self.request_log if entry.counted and _is_search(entry))

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
            if fault is not None:
                body = fault.body if isinstance(fault, BodyFault) and fault.body is not None else None
                return Reply(fault.status, body if body is not None else fault_body(fault.status))
            scheme, _, token = entry.headers.get("authorization", "").partition(" ")
            token = token.strip()
            if scheme.lower() != "bearer" or token not in self.tokens:
                return Reply(401, unauthorized_body())
            search = _is_search(entry)
            policy = self.limits.admit(token, search)
            if policy is not None:
                return Reply(429, rate_limit_body(policy), {} if search else self.limits.headers(token))
            entry.counted = entry.path.startswith("/crm/")
            try:
                if body_error is not None:
                    raise body_error
                status, body = self._route(entry)
            except ApiError as error:
                status, body = error.status, error.body
            return Reply(status, body, {} if search else self.limits.headers(token))

    def _route(self, entry: LoggedRequest) -> Answer:
        segments = [unquote(part) for part in entry.path.strip("/").split("/")]
        method, query, body = entry.method, entry.query, entry.body
        if segments[:3] == ["crm", "v3", "objects"]:
            return self._objects.dispatch(method, segments[3:], query, body)
        if segments[:2] == ["crm", "v4"]:
            return self._associations.dispatch(method, segments[2:], query, body)
        if segments[:3] == ["crm", "v3", "pipelines"]:
            return pipelines(self.portal, method, segments[3:])
        if segments[:3] == ["crm", "v3", "properties"]:
            return properties(self.portal, method, segments[3:])
        raise resource_not_found()

    # -- limits as attributes --------------------------------------------------------------------

    @property
    def burst_limit(self) -> int:
        return self.limits.burst_limit

    @burst_limit.setter
    def burst_limit(self, value: int) -> None:
        self.limits.burst_limit = value

    @property
    def burst_window_s(self) -> float:
        return self.limits.burst_window_s

    @burst_window_s.setter
    def burst_window_s(self, value: float) -> None:
        self.limits.burst_window_s = value

    @property
    def search_per_second(self) -> int:
        return self.limits.search_per_second

    @search_per_second.setter
    def search_per_second(self, value: int) -> None:
        self.limits.search_per_second = value

    @property
    def daily_limit(self) -> int:
        return self.limits.daily_limit

    @daily_limit.setter
    def daily_limit(self, value: int) -> None:
        self.limits.daily_limit = value


def _is_search(entry: LoggedRequest) -> bool:
    return entry.method == "POST" and entry.path.rstrip("/").endswith("/search")


def _parse_body(entry: LoggedRequest) -> ApiError | None:
    """Decode a JSON body into ``entry.body``; return the 400 HubSpot would answer if it cannot."""
    if not entry.raw_body:
        return None
    try:
        entry.body = json.loads(entry.raw_body)
    except json.JSONDecodeError as error:
        return bad_request(f"Invalid input JSON on line {error.lineno}, column {error.colno}: {error.msg}")
    except UnicodeDecodeError as error:
        return bad_request(f"Invalid input JSON: {error}")
    return None
