"""The HTTPS plumbing of local API emulators: TLS per connection thread, a request log, faults.

An emulator implements ``serve(entry) -> Reply``; the server reads the request (keep-alive,
HTTP/1.1), hands it over, and writes the reply (JSON unless ``raw`` is given).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit


@dataclass
class LoggedRequest:
    """One HTTP request an emulator answered (status 0: connection dropped on purpose)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    raw_body: bytes
    body: Any = None  # parsed JSON or form, when the emulator could parse it
    status: int = 0
    counted: bool = False  # counted against the vendor's API request limit

    @property
    def json(self) -> Any:
        return self.body


@dataclass
class Reply:
    status: int
    body: Any = None  # serialised as JSON
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    raw: bytes | None = None  # a non-JSON payload (set Content-Type in headers)


@dataclass
class Fault:
    """An injected failure for the next ``remaining`` requests whose path contains ``path_contains``."""

    remaining: int
    status: int = 0
    error_code: str = ""
    message: str = ""
    path_contains: str | None = None


def take_fault(faults: list[Fault], path: str) -> Fault | None:
    """Consume one use of the first fault matching ``path``."""
    for fault in faults:
        if fault.path_contains is None or fault.path_contains in path:
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.remove(fault)
            return fault
    return None


class Emulator(Protocol):
    def serve(self, entry: LoggedRequest) -> Reply: ...


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that does the TLS handshake in each connection's own thread."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        emulator: Emulator,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(address, handler)
        self.emulator = emulator
        self.context = context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            connection = self.context.wrap_socket(request, server_side=True)
        except OSError:  # includes ssl.SSLError: a client that gave up during the handshake
            return
        with self._connections_lock:
            self._connections.add(connection)
        try:
            _Handler(connection, client_address, self)
        except OSError:
            pass
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            connection.close()

    def close_connections(self) -> None:
        """Unblock keep-alive connections still waiting for a next request."""
        with self._connections_lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-request is not a test failure


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes; avoid 40 ms delayed ACKs
    server: _Server
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # What each request is logged as; an emulator with a richer log entry names its own.
    entry_class: type[LoggedRequest] = LoggedRequest

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        entry = self.entry_class(self.command, parts.path, query, headers, raw)
        reply = self.server.emulator.serve(entry)
        if reply.drop:
            self.close_connection = True
            return
        entry.status = reply.status
        self.write_reply(reply)

    def write_reply(self, reply: Reply) -> None:
        payload = (
            reply.raw
            if reply.raw is not None
            else (b"" if reply.body is None else json.dumps(reply.body, indent=2).encode())
        )
        self.send_response(reply.status)
        if reply.raw is None and reply.body is not None:
            self.send_header("Content-Type", "application/json;charset=UTF-8")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_GET
