"""Injected trouble for the ServiceNow emulator: SOAP faults, latency and hostile answers, consumed in
order by the SOAP calls they match; and the non-SOAP bodies of 401s and injected HTTP errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

from tests.emulators.servicenow_soap_xml import HOSTILE_KINDS, SoapError

AUTH_HEADERS = {"WWW-Authenticate": 'Basic realm="Service-now"', "Content-Type": "application/json"}
UNAUTHORIZED_BODY = json.dumps(
    {
        "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
        "status": "failure",
    }
).encode()


@dataclass
class Injection:
    """Applies to the next ``remaining`` SOAP calls (None: every call until cleared) that match."""

    remaining: int | None
    operation: str | None = None
    table: str | None = None

    def matches(self, operation: str, table: str) -> bool:
        return (self.operation is None or self.operation == operation) and (
            self.table is None or self.table == table
        )


@dataclass
class FaultInjection(Injection):
    faultstring: str = "Injected fault"
    faultcode: str = "SOAP-ENV:Server"
    detail: str = ""

    def error(self) -> SoapError:
        return SoapError(self.faultstring, self.faultcode, self.detail)


@dataclass
class LatencyInjection(Injection):
    seconds: float = 0.0


@dataclass
class HostileInjection(Injection):
    kind: str = "not_xml"
    size: int = 50 * 1024 * 1024
    perform: bool = False  # carry out the operation before answering with the hostile body
    close_early: bool = False  # truncated: announce the full length, then hang up

    def __post_init__(self) -> None:
        if self.kind not in HOSTILE_KINDS:
            raise ValueError(f"unknown hostile kind {self.kind!r}; one of {HOSTILE_KINDS}")


InjectionT = TypeVar("InjectionT", bound=Injection)


def take(injections: list[InjectionT], operation: str, table: str) -> InjectionT | None:
    """Consume one use of the first injection matching the call (the caller holds the lock)."""
    for injection in injections:
        if injection.matches(operation, table):
            if injection.remaining is not None:
                injection.remaining -= 1
                if injection.remaining <= 0:
                    injections.remove(injection)
            return injection
    return None


def http_error_body(status: int, body: Any) -> tuple[bytes, dict[str, str]]:
    """An injected HTTP error: ``body`` as given (str/bytes as HTML, else JSON), or an HTML page."""
    if isinstance(body, bytes | str):
        raw = body.encode() if isinstance(body, str) else body
        return raw, {"Content-Type": "text/html;charset=UTF-8"}
    if body is not None:
        return json.dumps(body).encode(), {"Content-Type": "application/json"}
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    page = (  # HTML, not XML (unclosed <meta> and <br>), as a proxy or a hibernating instance sends
        f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{status} {reason}</title></head>"
        f"<body><h1>{status} {reason}</h1><br><p>The instance could not answer this request.</body></html>"
    )
    return page.encode(), {"Content-Type": "text/html;charset=UTF-8"}
