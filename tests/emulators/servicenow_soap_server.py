"""The ServiceNow emulator's HTTP(S) server: ``https_server``'s handler and request log, plus streamed
answers (a 50 MB field without holding it in memory, or a body cut short on a closed connection),
a ``SoapRequest`` log entry that knows the operation, and an optional fixed port for manual runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tests.emulators.https_server import LoggedRequest, Reply, _Handler
from tests.emulators.hubspot_server import LocalServer, _OptionalTlsServer


@dataclass
class SoapRequest(LoggedRequest):
    """One HTTP request, with what the emulator understood of it (empty strings when not SOAP)."""

    table: str = ""
    operation: str = ""
    params: dict[str, str | list[str]] = field(default_factory=dict)
    user: str = ""  # the authenticated user ("" when unauthenticated)
    soap_action: str = ""  # the SOAPAction header, quotes stripped

    def param(self, name: str) -> str | None:
        value = self.params.get(name)
        return value[-1] if isinstance(value, list) else value


@dataclass
class StreamReply(Reply):
    """A reply written chunk by chunk under a declared Content-Length (``close``: hang up afterwards)."""

    chunks: Iterator[bytes] = field(default_factory=lambda: iter(()))
    length: int = 0
    close: bool = False


class _SoapHandler(_Handler):
    entry_class = SoapRequest

    def write_reply(self, reply: Reply) -> None:
        if isinstance(reply, StreamReply):
            self._stream(reply)
        else:
            super().write_reply(reply)

    def _stream(self, reply: StreamReply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(reply.length))
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        for chunk in reply.chunks:
            self.wfile.write(chunk)
        self.wfile.flush()


class _SoapServer(_OptionalTlsServer):
    """The shared optional-TLS server with the streaming handler."""

    handler_class = _SoapHandler


class SoapServer(LocalServer):
    """Serve an emulator on ``http(s)://127.0.0.1:<port>`` (port 0: a free one), streaming answers."""

    server_class = _SoapServer
    poll_interval_s = 0.01
