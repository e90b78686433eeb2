"""HubSpot emulator transport: the shared server and handler, over plain HTTP or HTTPS.

Composes ``https_server``: its handler and request log unchanged, with two additions the HubSpot
SDK needs. TLS is optional (the SDK is usually pointed at ``http://127.0.0.1:PORT``), and repeated
query parameters (the SDK sends ``properties=a&properties=b``) are joined as ``properties=a,b``,
the comma-separated form HubSpot also accepts, before the request is logged.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tests.emulators.https_server import Emulator, _Handler, _Server


def join_repeated_query(path: str) -> str:
    """``/x?a=1&a=2&b=3`` → ``/x?a=1%2C2&b=3``; a path without repeats comes back unchanged."""
    parts = urlsplit(path)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    names = [name for name, _ in pairs]
    if len(names) == len(set(names)):
        return path
    joined: dict[str, list[str]] = {}
    for name, value in pairs:
        joined.setdefault(name, []).append(value)
    query = urlencode({name: ",".join(values) for name, values in joined.items()})
    return urlunsplit(parts._replace(query=query))


class _JoiningHandler(_Handler):
    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok:
            self.path = join_repeated_query(self.path)
        return ok


class _OptionalTlsServer(_Server):
    """``https_server._Server`` with the TLS handshake made optional; subclasses may swap the handler."""

    handler_class: type[Any] = _JoiningHandler

    def __init__(self, emulator: Emulator, context: ssl.SSLContext | None, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), self.handler_class, emulator, cast(ssl.SSLContext, context))
        self.tls = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        connection = request
        if self.tls is not None:
            try:
                connection = self.tls.wrap_socket(request, server_side=True)
            except OSError:  # includes ssl.SSLError: a client that gave up during the handshake
                return
        with self._connections_lock:
            self._connections.add(connection)
        try:
            self.handler_class(connection, client_address, self)
        except OSError:
            pass  # includes a client hanging up in the middle of an answer
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            with contextlib.suppress(OSError):
                connection.close()


class LocalServer:
    """Serve an emulator on ``http(s)://127.0.0.1:<free port>``."""

    server_class: type[_OptionalTlsServer] = _OptionalTlsServer
    poll_interval_s = 0.05

    def __init__(self, emulator: Emulator, context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self._server = self.server_class(emulator, context, port)
        self.port = int(self._server.server_address[1])
        self.url = f"{'https' if context else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(self.poll_interval_s,),
            name=f"emulator-{self.port}",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
