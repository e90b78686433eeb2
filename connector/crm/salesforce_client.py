"""A thin, typed client over simple-salesforce: auth, retries, the circuit breaker, API usage.

Every request goes through :meth:`SalesforceClient.call`, and every failure through
:func:`translate_error`, the one place where HTTP statuses and Salesforce error codes
become our typed errors.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError

from connector.crm.base import ConnectorError, PermanentConnectorError, RecordFailure
from connector.crm.batching import (
    CircuitBreaker,
    RateLimitedError,
    RetryableError,
    StateStore,
    call_with_retries,
)
from connector.crm.salesforce_auth import Token, fetch_token
from connector.crm.salesforce_session import SalesforceSession, parse_limit_info
from connector.crm.salesforce_settings import SalesforceSettings
from connector.model import utcnow

T = TypeVar("T")
log = logging.getLogger("ventanilla.salesforce")
USAGE_WARNING_RATIO = 0.8


class SessionExpiredError(ConnectorError):
    """401 INVALID_SESSION_ID: the token expired or was revoked; re-authenticate once."""


class AmbiguousOutcomeError(RetryableError):
    """The request may have been applied (read timeout, dropped connection after sending)."""


def salesforce_errors(exc: SalesforceError) -> list[dict[str, Any]]:
    """The ``[{"message", "errorCode", "fields"}]`` body of a REST error, or one synthetic entry."""
    content = exc.content
    if isinstance(content, list) and all(isinstance(item, dict) for item in content):
        return content
    if isinstance(content, dict):
        return [content]
    return [{"message": str(content)[:300], "errorCode": f"HTTP_{exc.status}"}]


def translate_error(operation: str, exc: Exception) -> ConnectorError:
    """Map one failure to our error types; the only place that reads statuses and error codes."""
    where = f"salesforce {operation}"
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, SalesforceError):
        errors = salesforce_errors(exc)
        code = str(errors[0].get("errorCode", ""))
        text = "; ".join(f"{e.get('errorCode', '?')}: {e.get('message', '')}" for e in errors)
        fields = sorted({str(f) for e in errors for f in e.get("fields") or []})
        detail = f"{where}: {exc.status} {text}" + (f" (fields: {', '.join(fields)})" if fields else "")
        if exc.status == 401:
            return SessionExpiredError(detail)
        if exc.status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            return RateLimitedError(detail)
        if exc.status in (400, 300, 404):  # malformed, ambiguous or missing: the data is the problem
            return PermanentConnectorError(detail)
        if exc.status >= 500:
            return RetryableError(detail)
        return ConnectorError(detail)  # other refusals (permissions, API disabled): fixable by an admin
    if isinstance(exc, requests.exceptions.SSLError):
        return ConnectorError(f"{where}: TLS verification failed ({exc}); check ca_bundle")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RetryableError(f"{where}: connection timed out")
    if isinstance(exc, requests.exceptions.Timeout):
        return AmbiguousOutcomeError(f"{where}: timed out waiting for the answer")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return AmbiguousOutcomeError(f"{where}: connection failed ({type(exc).__name__})")
    if isinstance(exc, requests.RequestException | ValueError):
        return ConnectorError(f"{where}: {type(exc).__name__}: {exc}")
    raise exc


# Per-record codes that succeed on a later try (a lock held by another transaction, a
# rollback caused by another record); every other per-record error is about the data.
TRANSIENT_RECORD_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUEST_RUNNING_TOO_LONG",
        "SERVER_UNAVAILABLE",
        "QUERY_TIMEOUT",
        "REQUEST_LIMIT_EXCEEDED",
    }
)


def record_failure(result: dict[str, Any]) -> RecordFailure | None:
    """Turn one sObject Collections result into None (success) or a :class:`RecordFailure`."""
    if result.get("success"):
        return None
    errors = [e for e in result.get("errors") or [] if isinstance(e, dict)]
    if not errors:
        return RecordFailure("salesforce: the record was refused without a reason", permanent=False)
    codes = [str(e.get("statusCode") or e.get("errorCode") or "UNKNOWN") for e in errors]
    message = "; ".join(f"{code}: {e.get('message', '')}" for code, e in zip(codes, errors, strict=True))
    fields = tuple(dict.fromkeys(str(f) for e in errors for f in e.get("fields") or []))
    return RecordFailure(
        f"salesforce: {message}", permanent=not set(codes) & TRANSIENT_RECORD_CODES, fields=fields
    )


class SalesforceClient:
    """One authenticated simple-salesforce instance per connector, re-authenticated on demand."""

    def __init__(self, settings: SalesforceSettings, store: StateStore, scope: str) -> None:
        self.settings = settings
        self.store = store
        self.scope = scope
        self.session = SalesforceSession(settings.ca_bundle, settings.timeout_s)
        self.breaker = CircuitBreaker(store, scope, settings.pause_base_s, settings.pause_max_s)
        self._token: Token | None = None
        self._sf: Salesforce | None = None
        self._recorded_usage: str | None = None
        self._lock = threading.Lock()

    @property
    def instance_url(self) -> str:
        return self._connect()[1].instance_url.rstrip("/")

    def _connect(self) -> tuple[Salesforce, Token]:
        """The current simple-salesforce instance, authenticating first when there is none.

        Dispatcher threads share one connector, so the token is guarded by a lock.
        """
        with self._lock:
            if self._sf is None or self._token is None:
                token = fetch_token(self.settings, self.session)
                self._token = token
                self._sf = Salesforce(
                    instance_url=token.instance_url,
                    session_id=token.access_token,
                    version=self.settings.api_version,
                    session=self.session,
                )
            return self._sf, self._token

    def _forget(self, stale: Salesforce) -> None:
        """Drop an expired session, unless another thread already replaced it."""
        with self._lock:
            if self._sf is stale:
                self._sf = self._token = None

    def call(self, operation: str, request: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run one REST request with the breaker, in-call retries and one re-authentication.

        Non-idempotent requests (creates) are not retried when they may have been applied;
        the caller's intent records settle those on the job's next attempt instead.
        """
        self.breaker.check()

        def attempt() -> T:
            try:
                return self._with_reauth(operation, request)
            except AmbiguousOutcomeError as exc:
                if idempotent:
                    raise
                raise ConnectorError(str(exc)) from exc

        try:
            result = call_with_retries(
                attempt,
                self.settings.retries,
                initial_s=self.settings.retry_initial_s,
                max_s=self.settings.retry_max_s,
            )
        except RateLimitedError as exc:
            raise self.breaker.trip(str(exc)) from None
        self.breaker.succeeded()
        return result

    def _with_reauth(self, operation: str, request: Callable[[Salesforce], T]) -> T:
        sf, _ = self._connect()
        try:
            return self._once(operation, request, sf)
        except SessionExpiredError:
            if self.settings.auth == "access_token":
                raise ConnectorError(
                    f"salesforce {operation}: the configured access token was rejected (expired?)"
                ) from None
            log.info("%s: session expired; authenticating again", self.scope)
            self._forget(sf)
        sf, _ = self._connect()
        try:
            return self._once(operation, request, sf)
        except SessionExpiredError as exc:
            raise ConnectorError(f"{exc} (even right after authenticating again)") from None

    @staticmethod
    def _once(operation: str, request: Callable[[Salesforce], T], sf: Salesforce) -> T:
        try:
            return request(sf)
        except Exception as exc:
            raise translate_error(operation, exc) from exc

    # --- requests the connector uses ---------------------------------------------------

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        """Run a SOQL query, following ``nextRecordsUrl`` until ``done``."""
        return self.call("query", lambda sf: list(sf.query_all_iter(soql)))

    def collection(
        self, method: str, path: str, records: list[dict[str, Any]], *, idempotent: bool = True
    ) -> list[dict[str, Any]]:
        """One sObject Collections request (≤ 200 records, allOrNone false): per-record results."""
        body = {"allOrNone": False, "records": records}
        answer = self.call(
            f"{method} {path}",
            lambda sf: sf.restful(path, method=method, json=body),
            idempotent=idempotent,
        )
        if not isinstance(answer, list) or len(answer) != len(records):
            raise ConnectorError(
                f"salesforce {method} {path}: unexpected answer for {len(records)} record(s)"
            )
        return answer

    def describe(self, sobject: str) -> dict[str, Any]:
        answer = self.call(f"describe {sobject}", lambda sf: sf.restful(f"sobjects/{sobject}/describe"))
        return answer if isinstance(answer, dict) else {}

    # --- API usage -----------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the requests of one contract call; record API usage once at the end."""
        try:
            yield
        finally:
            self.record_usage()

    def record_usage(self) -> None:
        """Store the latest ``Sforce-Limit-Info`` (once per batch) and warn past 80 %."""
        header = self.session.last_limit_info
        if not header or header == self._recorded_usage:
            return
        self._recorded_usage = header
        usage = parse_limit_info(header)
        self.store.set_state(self.scope, "api_usage", {**usage, "raw": header, "at": utcnow().isoformat()})
        daily = usage.get("api-usage")
        if daily and daily["total"] and daily["used"] / daily["total"] >= USAGE_WARNING_RATIO:
            log.warning(
                "%s: %d of %d daily API requests used (%.0f%%)",
                self.scope,
                daily["used"],
                daily["total"],
                100 * daily["used"] / daily["total"],
            )
