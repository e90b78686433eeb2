"""What every API emulator shares: the server's lifecycle, injected faults and the request log.

Subclasses implement ``serve(entry) -> Reply`` and consume ``self._faults`` / ``self._drops``
(with ``take_fault``) in the order their vendor would answer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Self

from tests.emulators.https_server import Fault, LoggedRequest, Reply
from tests.emulators.hubspot_server import LocalServer
from tests.emulators.tls import TlsMaterial


@dataclass
class BodyFault(Fault):
    """An injected answer, with the vendor's default error body when ``body`` is None."""

    body: Any = None


class LocalEmulator:
    """An emulator served over HTTP, or HTTPS when given TLS material, on 127.0.0.1."""

    def __init__(self, tls: TlsMaterial | None = None) -> None:
        self.tls = tls
        self.ca_path: str | None = tls.ca_path if tls else None
        self.base_url = ""
        self.request_log: list[LoggedRequest] = []
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._drops: list[Fault] = []
        self._server: LocalServer | None = None

    def serve(self, entry: LoggedRequest) -> Reply:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = LocalServer(self, self.tls.server_context() if self.tls else None)
        self.base_url = self._server.url
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults and the log ------------------------------------------------------------------

    def fail_next(self, n: int, status: int, body: Any = None, path_contains: str | None = None) -> None:
        """Answer the next ``n`` matching requests with ``status`` (default: the vendor's error body)."""
        with self._lock:
            self._faults.append(BodyFault(n, status, path_contains=path_contains, body=body))

    def drop_connection_next(self, n: int = 1, path_contains: str | None = None) -> None:
        """Close the connection without answering the next ``n`` matching requests."""
        with self._lock:
            self._drops.append(Fault(n, path_contains=path_contains))

    def requests_to(self, path_contains: str, method: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [
                entry
                for entry in self.request_log
                if path_contains in entry.path and (method is None or entry.method == method.upper())
            ]

    def reset_log(self) -> None:
        with self._lock:
            self.request_log.clear()
