"""A local ServiceNow SOAP direct web service over real HTTP(S), for tests that drive zeep.

Wire behaviour follows docs/protocols.md section E: ``GET /<table>.do?WSDL`` serves the table's WSDL
(``mappings/servicenow/<table>.wsdl``, its ``soap:address`` pointed here), ``POST /<table>.do?SOAP``
answers document/literal SOAP 1.1 (insert, update, get, getRecords, getKeys, deleteRecord), HTTP Basic
auth answers 401 before any SOAP processing, and errors are SOAP 1.1 Faults with HTTP 500.

    with ServiceNowSoapEmulator() as emu:
        emu.add_user("integration.user", "secret")
        session = requests.Session(); session.auth = HTTPBasicAuth("integration.user", "secret")
        client = zeep.Client("mappings/servicenow/incident.wsdl", transport=Transport(session=session))
        svc = client.create_service(
            "{http://www.service-now.com/incident}ServiceNowSoap", emu.soap_url("incident"))

Run by hand: ``python -m tests.emulators.servicenow_soap --port 8081 --user admin:secret``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Self

from tests.emulators.https_server import LoggedRequest, Reply, take_fault
from tests.emulators.local_emulator import BodyFault, LocalEmulator
from tests.emulators.servicenow_soap_faults import (
    AUTH_HEADERS,
    UNAUTHORIZED_BODY,
    FaultInjection,
    HostileInjection,
    LatencyInjection,
    http_error_body,
    take,
)
from tests.emulators.servicenow_soap_ops import Options, execute
from tests.emulators.servicenow_soap_schema import TableDef, load_table
from tests.emulators.servicenow_soap_server import SoapRequest, SoapServer, StreamReply
from tests.emulators.servicenow_soap_store import Instance, JournalEntry, utc
from tests.emulators.servicenow_soap_xml import ResponseStyle, SoapError, fault, hostile, parse_request
from tests.emulators.tls import TlsMaterial

XML_HEADERS = {"Content-Type": "text/xml;charset=UTF-8"}
_TABLE_PATH = re.compile(r"^/([A-Za-z0-9_]+)\.do$")


class ServiceNowSoapEmulator(LocalEmulator):
    """A threaded HTTP (or, given TLS material, HTTPS) server on 127.0.0.1 speaking ServiceNow SOAP."""

    def __init__(
        self,
        tls: TlsMaterial | None = None,
        tables: Iterable[str | TableDef] = ("incident", "sys_user"),
        users: Mapping[str, str] | None = None,
        *,
        wsdl_requires_auth: bool = False,
        response_style: ResponseStyle = "prefixed",
        unqualified_responses: bool = False,
        max_rows: int = 250,
        hard_row_cap: bool = False,
        invalid_query_returns_no_rows: bool = False,
        now: datetime | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(tls)
        defs = [load_table(t) if isinstance(t, str) else t for t in tables]
        self.tables: dict[str, TableDef] = {t.name: t for t in defs}
        self.users: dict[str, str] = dict(users or {})
        self.wsdl_requires_auth = wsdl_requires_auth
        self.response_style: ResponseStyle = "unqualified" if unqualified_responses else response_style
        self.max_rows = max_rows
        self.hard_row_cap = hard_row_cap
        self.invalid_query_returns_no_rows = invalid_query_returns_no_rows
        self.instance = Instance(defs, now or datetime.now(UTC))
        self.port = port
        self._soap_faults: list[FaultInjection] = []
        self._latencies: list[LatencyInjection] = []
        self._hostiles: list[HostileInjection] = []

    def start(self) -> Self:
        server = SoapServer(self, self.tls.server_context() if self.tls else None, self.port)
        self._server = server
        self.base_url = server.url
        server.start()
        return self

    def wsdl_url(self, table: str = "incident") -> str:
        return f"{self.base_url}/{table}.do?WSDL"

    def soap_url(self, table: str = "incident") -> str:
        return f"{self.base_url}/{table}.do?SOAP"

    # -- users, clock and configuration -------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        """Accept ``Authorization: Basic base64(name:password)``."""
        with self._lock:
            self.users[name] = password

    def require_fields(self, table: str, fields: Sequence[str]) -> None:
        """Make ``fields`` mandatory on ``table``: a write leaving one empty is answered with a Fault."""
        with self._lock:
            definition = self.instance.table(table).table
            unknown = [f for f in fields if f not in definition.fields]
            if unknown:
                raise KeyError(f"table {table} has no fields {unknown}")
            definition.mandatory = list(fields)

    @property
    def now(self) -> datetime:
        """The instance clock (UTC, whole seconds); it moves only when a test sets or advances it."""
        with self._lock:
            return self.instance.now

    @now.setter
    def now(self, value: datetime) -> None:
        with self._lock:
            self.instance.now = utc(value)

    def advance(self, seconds: float = 1.0) -> None:
        with self._lock:
            self.instance.advance(seconds)

    def timestamp(self) -> str:
        """The clock in ServiceNow's ``YYYY-MM-DD HH:MM:SS`` form."""
        with self._lock:
            return self.instance.stamp()

    # -- records, as the people around the desk see them --------------------------------------------

    def add_record(self, table: str, fields: Mapping[str, Any], by: str = "admin") -> str:
        """Seed a record (system fields such as ``sys_created_on`` may be given); return its sys_id."""
        with self._lock:
            return self.instance.insert(table, _texts(fields), by, seeding=True)["sys_id"]

    def update_record(self, table: str, sys_id: str, fields: Mapping[str, Any], by: str = "admin") -> None:
        """Change a record as an agent would: stamps ``sys_updated_on`` from the clock, appends journals."""
        with self._lock:
            if sys_id not in self.instance.table(table).records:
                raise KeyError(f"no {table} record {sys_id}")
            self.instance.update(table, sys_id, _texts(fields), by, seeding=True)

    def delete_record(self, table: str, sys_id: str) -> bool:
        with self._lock:
            return self.instance.delete(table, sys_id)

    def records(self, table: str) -> list[dict[str, str]]:
        """Copies of every record of ``table``, in creation order."""
        with self._lock:
            return [dict(r) for r in self.instance.table(table).records.values()]

    def record(self, table: str, sys_id: str) -> dict[str, str] | None:
        with self._lock:
            found = self.instance.table(table).records.get(sys_id)
            return dict(found) if found is not None else None

    def find(self, table: str, **values: Any) -> list[dict[str, str]]:
        """Copies of the records whose fields equal every keyword value (compared as text)."""
        wanted = _texts(values)
        return [r for r in self.records(table) if all(r.get(k, "") == v for k, v in wanted.items())]

    def journal(self, table: str, sys_id: str, field: str) -> list[str]:
        """The texts appended to one journal field (``comments``, ``work_notes``), oldest first."""
        return [entry.text for entry in self.journal_entries(table, sys_id) if entry.field == field]

    def journal_entries(self, table: str, sys_id: str) -> list[JournalEntry]:
        with self._lock:
            return list(self.instance.table(table).journals.get(sys_id, []))

    # -- injected trouble and the log ----------------------------------------------------------------

    def fault_next(
        self,
        n: int,
        faultstring: str,
        operation: str | None = None,
        faultcode: str = "SOAP-ENV:Server",
        *,
        detail: str = "",
        table: str | None = None,
    ) -> None:
        """Answer the next ``n`` matching SOAP calls with a SOAP Fault (HTTP 500), without acting."""
        with self._lock:
            self._soap_faults.append(FaultInjection(n, operation, table, faultstring, faultcode, detail))

    def latency(
        self, seconds: float, operation: str | None = None, *, n: int | None = 1, table: str | None = None
    ) -> None:
        """Delay the next ``n`` matching SOAP calls (``n=None``: every one until ``clear_faults``)."""
        with self._lock:
            self._latencies.append(LatencyInjection(n, operation, table, seconds))

    def hostile_next(
        self,
        kind: str,
        operation: str | None = None,
        *,
        n: int = 1,
        table: str | None = None,
        size: int = 50 * 1024 * 1024,
        perform: bool = False,
        close_early: bool = False,
    ) -> None:
        """Answer the next ``n`` matching SOAP calls with a hostile or malformed HTTP 200 body.

        ``billion_laughs`` (a DTD of nested entities referenced in a field), ``external_entity`` (a DTD
        with ``<!ENTITY xxe SYSTEM "file:///etc/passwd">`` referenced in a field), ``huge`` (a well-formed
        answer with ``size`` bytes of text in a field, streamed), ``not_xml`` (an HTML page), ``truncated``
        (the answer cut inside its first field; ``close_early``: announce the full Content-Length and
        hang up). ``perform``: carry the operation out first (the client cannot tell that it happened).
        """
        with self._lock:
            self._hostiles.append(HostileInjection(n, operation, table, kind, size, perform, close_early))

    def clear_faults(self) -> None:
        """Forget pending HTTP errors, dropped connections, SOAP faults, latency and hostile answers."""
        with self._lock:
            for pending in (self._faults, self._drops, self._soap_faults, self._latencies, self._hostiles):
                pending.clear()

    def soap_log(self) -> list[SoapRequest]:
        with self._lock:
            return [entry for entry in self.request_log if isinstance(entry, SoapRequest)]

    def calls(self, operation: str, table: str | None = None) -> list[SoapRequest]:
        """SOAP calls of ``operation`` (on ``table``) that reached the emulator, faulted or not."""
        return [
            entry
            for entry in self.soap_log()
            if entry.operation == operation and (table is None or entry.table == table)
        ]

    # -- request handling (called by the HTTP handler) ----------------------------------------------

    def serve(self, entry: LoggedRequest) -> Reply:
        if not isinstance(entry, SoapRequest):
            raise TypeError("the ServiceNow emulator is served by its own handler")
        match = _TABLE_PATH.match(entry.path)
        entry.table = match.group(1) if match else ""
        entry.soap_action = entry.headers.get("soapaction", "").strip().strip('"')
        with self._lock:
            self.request_log.append(entry)
            if take_fault(self._drops, entry.path):
                return Reply(0, drop=True)
            http_fault = take_fault(self._faults, entry.path)
        if http_fault is not None:
            raw, headers = http_error_body(
                http_fault.status, http_fault.body if isinstance(http_fault, BodyFault) else None
            )
            return Reply(http_fault.status, raw=raw, headers=headers)
        keys = {key.upper() for key in entry.query}
        is_wsdl = entry.method in ("GET", "HEAD") and "WSDL" in keys
        entry.user = self._authenticate(entry.headers.get("authorization", "")) or ""
        if not entry.user and (self.wsdl_requires_auth or not is_wsdl):
            return Reply(401, raw=UNAUTHORIZED_BODY, headers=dict(AUTH_HEADERS))
        table = self.tables.get(entry.table)
        if table is None or not (is_wsdl or (entry.method == "POST" and "SOAP" in keys)):
            page = b"<html><body><h1>404 Not Found</h1></body></html>"
            return Reply(404, raw=page, headers={"Content-Type": "text/html;charset=UTF-8"})
        if is_wsdl:
            return Reply(200, raw=table.wsdl_for(self.base_url).encode(), headers=dict(XML_HEADERS))
        return self._soap(entry, table)

    def _authenticate(self, header: str) -> str | None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            name, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        with self._lock:
            return name if name and self.users.get(name) == password else None

    def _soap(self, entry: SoapRequest, table: TableDef) -> Reply:
        try:
            call = parse_request(entry.raw_body)
        except SoapError as error:
            return Reply(500, raw=fault(error), headers=dict(XML_HEADERS))
        entry.operation, entry.params = call.operation, call.params
        with self._lock:
            delay = take(self._latencies, call.operation, table.name)
            injected = take(self._soap_faults, call.operation, table.name)
            bad = None if injected else take(self._hostiles, call.operation, table.name)
        if delay is not None:
            time.sleep(delay.seconds)
        if injected is not None:
            return Reply(500, raw=fault(injected.error()), headers=dict(XML_HEADERS))
        normal: bytes | None = None
        status = 200
        if bad is None or bad.perform:
            try:
                with self._lock:
                    options = Options(
                        self.response_style,
                        self.max_rows,
                        self.hard_row_cap,
                        self.invalid_query_returns_no_rows,
                    )
                    normal = execute(self.instance, table, call, entry.user, options)
            except SoapError as error:
                normal, status = fault(error), 500
        if bad is None:
            return Reply(status, raw=normal, headers=dict(XML_HEADERS))
        body = hostile(
            bad.kind,
            call.operation,
            table.namespace,
            size=bad.size,
            normal=normal,
            close_early=bad.close_early,
        )
        headers = {"Content-Type": body.content_type}
        return StreamReply(200, headers=headers, chunks=body.chunks, length=body.length, close=body.close)


def _texts(values: Mapping[str, Any]) -> dict[str, str]:
    """Python values as wire text: booleans as ``true``/``false``, None as empty."""
    return {
        name: ("true" if v else "false") if isinstance(v, bool) else ("" if v is None else str(v))
        for name, v in values.items()
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the ServiceNow SOAP emulator until interrupted.")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--user", action="append", default=[], help="name:password (repeatable)")
    parser.add_argument("--table", action="append", default=[], help="table with a WSDL in mappings/")
    args = parser.parse_args(argv)
    users = dict(u.partition(":")[::2] for u in args.user) or {"admin": "admin"}
    emulator = ServiceNowSoapEmulator(
        tables=args.table or ("incident", "sys_user"), users=users, port=args.port
    )
    with emulator:
        for name in emulator.tables:
            print(f"{name}: {emulator.wsdl_url(name)}  (SOAP {emulator.soap_url(name)})", flush=True)
        print(f"users: {', '.join(users)}; Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
