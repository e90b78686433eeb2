"""A thin, typed client over hubspot-api-client: limits, retries, the breaker, one error map.

The SDK builds and sends every request (auth header, host, CA bundle, the documented
paths and request models); we read the answers as the documented JSON
(``_preload_content=False``) instead of the SDK's response models, which reject answers
HubSpot really sends (a 207 error without ``links``, say). The SDK's ``Configuration`` has
no timeout, so :meth:`HubSpotClient.call` passes ``_request_timeout`` on every request.
Every request goes through that method, and every failure through :func:`translate_error`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import hubspot
import urllib3
from hubspot.crm.associations import v4 as associations_v4
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
)
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException
from urllib3.util.retry import Retry

from connector.crm.base import ConnectorError, PermanentConnectorError
from connector.crm.batching import (
    CircuitBreaker,
    RateLimitedError,
    RetryableError,
    StateStore,
    call_with_retries,
)
from connector.crm.hubspot_limits import DailyLimitError, HubSpotLimits
from connector.crm.hubspot_settings import HubSpotSettings, RateLimitSettings

log = logging.getLogger("ventanilla.hubspot")
#: Each SDK package raises its own ApiException class; these are the ones we call.
API_EXCEPTIONS: tuple[type[Exception], ...] = (
    ObjectsApiException,
    associations_v4.ApiException,
    PropertiesApiException,
)
LOCKED_WAIT_S = 2.0  # "423 Locked: wait at least 2 s" (protocols.md C.7)


class ThrottledError(RetryableError):
    """429 for a secondly or ten-secondly window: wait that window, then try again."""

    def __init__(self, message: str, retry_after_s: float, search: bool) -> None:
        super().__init__(message, retry_after_s)
        self.search = search


class RefusedError(PermanentConnectorError):
    """HubSpot refused the request itself (4xx); ``body`` is its error JSON."""

    def __init__(self, message: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AmbiguousOutcomeError(RetryableError):
    """The request may have been applied (read timeout, connection dropped after sending)."""


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """A batch endpoint's answer: per-record results, and the errors of a 207 (multi-status)."""

    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def error_text(body: Mapping[str, Any]) -> str:
    """``CATEGORY: message`` plus the messages of ``errors[]``, every field treated as optional."""
    category = str(body.get("category") or body.get("errorType") or "ERROR")
    message = str(body.get("message") or "").strip()
    details = [
        str(e.get("message")) for e in body.get("errors") or [] if isinstance(e, dict) and e.get("message")
    ]
    extra = [d for d in details if d not in message]
    return f"{category}: {message}" + (f" ({'; '.join(extra)})" if extra else "")


def _json_body(raw: Any) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        return {"message": str(raw)[:300]}
    return body if isinstance(body, dict) else {"message": str(body)[:300]}


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except ValueError:
                return None
    return None


def translate_error(operation: str, exc: BaseException, limits: RateLimitSettings) -> ConnectorError:
    """Map one failure to our error types; the only place that reads statuses and categories."""
    where = f"hubspot {operation}"
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, AttributeError) and isinstance(exc.__context__, API_EXCEPTIONS):
        # The SDK turns TLS failures into ApiException(status=0) and then trips over its
        # missing body while re-raising it: the ApiException is the real error.
        exc = exc.__context__
    if isinstance(exc, API_EXCEPTIONS):
        status = int(getattr(exc, "status", 0) or 0)
        headers = getattr(exc, "headers", None)
        if status == 0:  # raised before any answer: TLS or a request the SDK could not build
            reason = str(getattr(exc, "reason", "") or "").split("\n")[0]
            if "SSL" in reason:
                return ConnectorError(f"{where}: TLS verification failed ({reason}); check ca_bundle")
            return ConnectorError(f"{where}: {reason or 'request failed'}")
        body = _json_body(getattr(exc, "body", None))
        detail = f"{where}: {status} {error_text(body)}"
        if status == 429:
            policy = str(body.get("policyName") or "").upper()
            if policy == "DAILY":
                return DailyLimitError(detail)
            search = policy == "SECONDLY"
            window = limits.search_window_s if search else limits.burst_window_s
            return ThrottledError(detail, _retry_after(headers) or window, search)
        if status == 423:
            return RetryableError(detail, max(_retry_after(headers) or 0.0, LOCKED_WAIT_S))
        if status >= 500:
            return RetryableError(detail, _retry_after(headers))
        if status == 401:
            return ConnectorError(f"{where}: 401 the access token was rejected (expired or revoked?)")
        if status in (400, 404, 409, 413, 414, 422):  # the data or the request itself is the problem
            return RefusedError(detail, status, body)
        return ConnectorError(detail)  # 403 missing scopes and the like: fixable by an admin
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, urllib3.exceptions.SSLError):
        return ConnectorError(f"{where}: TLS verification failed ({exc}); check ca_bundle")
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError | urllib3.exceptions.NewConnectionError):
        return RetryableError(f"{where}: could not connect ({type(exc).__name__})")
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return AmbiguousOutcomeError(f"{where}: timed out waiting for the answer")
    if isinstance(exc, urllib3.exceptions.ProtocolError | urllib3.exceptions.HTTPError | ConnectionError):
        return AmbiguousOutcomeError(f"{where}: connection failed ({type(exc).__name__})")
    raise exc


#: A request: given the timeout, send it through the SDK and return the raw response.
Send = Callable[[float], urllib3.BaseHTTPResponse]


class HubSpotClient:
    """One SDK client per connector; every request limited, retried and translated the same way."""

    def __init__(self, settings: HubSpotSettings, store: StateStore, scope: str) -> None:
        self.settings = settings
        self.scope = scope
        self.limits = HubSpotLimits(settings, store, scope)
        self.breaker = CircuitBreaker(store, scope, settings.pause_base_s, settings.pause_max_s)

    @cached_property
    def sdk(self) -> hubspot.HubSpot:
        """The SDK client; its config keys become attributes of each API's ``Configuration``.

        ``retry`` stops urllib3's own retries (tenacity is our one retry layer), and
        ``client_side_validation`` lets request models leave optional fields out.
        """
        options: dict[str, Any] = {
            "access_token": self.settings.access_token.get_secret_value(),
            "host": self.settings.base_url,
            "retry": Retry(total=0, redirect=0, raise_on_status=False),
            "client_side_validation": False,
        }
        if self.settings.ca_bundle:
            options["ssl_ca_cert"] = self.settings.ca_bundle
        return hubspot.HubSpot(**options)

    # The SDK builds a new API client (and connection pool) on every attribute access:
    # build each one once.
    @cached_property
    def _batch(self) -> Any:
        return self.sdk.crm.objects.batch_api

    @cached_property
    def _search(self) -> Any:
        return self.sdk.crm.objects.search_api

    @cached_property
    def _associations(self) -> Any:
        return self.sdk.crm.associations.v4.batch_api

    @cached_property
    def _properties(self) -> Any:
        return self.sdk.crm.properties.core_api

    def call(self, operation: str, send: Send, *, search: bool = False, idempotent: bool = True) -> Any:
        """Send one request within the limits, retrying transient failures; the JSON answer.

        Non-idempotent requests (creates) are not retried when they may have been applied;
        the caller's intent records settle those on the job's next attempt instead.
        """
        self.breaker.check()

        def attempt() -> Any:
            self.limits.acquire(search)
            try:
                response = send(self.settings.timeout_s)
                data, headers = response.data, response.headers
                response.release_conn()
            except Exception as exc:
                error = translate_error(operation, exc, self.settings.rate_limit)
                if getattr(exc, "status", None):
                    self.limits.observe(getattr(exc, "headers", None))
                if isinstance(error, ThrottledError):
                    self.limits.drain(error.search)
                if isinstance(error, AmbiguousOutcomeError) and not idempotent:
                    raise ConnectorError(str(error)) from exc
                raise error from exc
            self.limits.observe(headers)
            return _json_body(data) if data else {}

        try:
            result = call_with_retries(
                attempt,
                self.settings.retries,
                initial_s=self.settings.retry_initial_s,
                max_s=self.settings.retry_max_s,
            )
        except DailyLimitError as exc:
            resets = exc.resets_at or self.limits.daily_exhausted("daily limit reached").resets_at
            raise self.breaker.trip(str(exc), resets) from None
        except (ThrottledError, RateLimitedError) as exc:  # still throttled after every retry
            raise self.breaker.trip(str(exc)) from None
        self.breaker.succeeded()
        return result

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the requests of one contract call; record API usage once at the end."""
        try:
            yield
        finally:
            self.limits.record()

    # --- requests the connector uses ---------------------------------------------------

    def batch_read(
        self, object_type: str, ids: Sequence[str], properties: Sequence[str], id_property: str | None = None
    ) -> BatchAnswer:
        """``POST /crm/v3/objects/{type}/batch/read`` (≤ 100 ids), by id or a unique property."""
        body = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids],
            properties=list(properties),
            properties_with_history=[],
            id_property=id_property,
        )
        answer = self.call(
            f"batch read {object_type}",
            lambda timeout: self._batch.read(
                object_type, body, archived=False, _request_timeout=timeout, _preload_content=False
            ),
        )
        return _batch_answer(answer)

    def search(self, object_type: str, request: PublicObjectSearchRequest) -> dict[str, Any]:
        """``POST /crm/v3/objects/{type}/search``: one page; within the search budget too."""
        answer: dict[str, Any] = self.call(
            f"search {object_type}",
            lambda timeout: self._search.do_search(
                object_type, request, _request_timeout=timeout, _preload_content=False
            ),
            search=True,
        )
        return answer

    def batch_upsert(self, object_type: str, inputs: list[Any]) -> BatchAnswer:
        """``POST /crm/v3/objects/{type}/batch/upsert`` (≤ 100 inputs, keyed by a unique property)."""
        body = BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs)
        answer = self.call(
            f"batch upsert {object_type}",
            lambda timeout: self._batch.upsert(
                object_type, body, _request_timeout=timeout, _preload_content=False
            ),
        )
        return _batch_answer(answer)

    def batch_create(self, object_type: str, inputs: list[Any]) -> BatchAnswer:
        """``POST /crm/v3/objects/{type}/batch/create`` (≤ 100); never retried when ambiguous."""
        body = BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)
        answer = self.call(
            f"batch create {object_type}",
            lambda timeout: self._batch.create(
                object_type, body, _request_timeout=timeout, _preload_content=False
            ),
            idempotent=False,
        )
        return _batch_answer(answer)

    def batch_update(self, object_type: str, inputs: list[Any]) -> BatchAnswer:
        """``POST /crm/v3/objects/{type}/batch/update`` (≤ 100 inputs by id)."""
        body = BatchInputSimplePublicObjectBatchInput(inputs=inputs)
        answer = self.call(
            f"batch update {object_type}",
            lambda timeout: self._batch.update(
                object_type, body, _request_timeout=timeout, _preload_content=False
            ),
        )
        return _batch_answer(answer)

    def associate(
        self, from_type: str, to_type: str, pairs: Sequence[tuple[str, str]], type_id: int | None
    ) -> BatchAnswer:
        """``POST /crm/v4/associations/{from}/{to}/batch/create`` with one HubSpot-defined type,
        or ``…/batch/associate/default`` (the unlabeled type) when ``type_id`` is None.

        Associating a pair twice changes nothing, so either call is retried like a read.
        """
        ids = [(associations_v4.PublicObjectId(id=a), associations_v4.PublicObjectId(id=b)) for a, b in pairs]
        body: Any
        if type_id is None:
            body = associations_v4.BatchInputPublicDefaultAssociationMultiPost(
                inputs=[associations_v4.PublicDefaultAssociationMultiPost(_from=f, to=t) for f, t in ids]
            )
            send, label = self._associations.create_default, f"associate {from_type} to {to_type} (default)"
        else:
            spec = associations_v4.AssociationSpec(
                association_category="HUBSPOT_DEFINED", association_type_id=type_id
            )
            body = associations_v4.BatchInputPublicAssociationMultiPost(
                inputs=[
                    associations_v4.PublicAssociationMultiPost(_from=f, to=t, types=[spec]) for f, t in ids
                ]
            )
            send, label = self._associations.create, f"associate {from_type} to {to_type}"
        answer = self.call(
            label,
            lambda timeout: send(from_type, to_type, body, _request_timeout=timeout, _preload_content=False),
        )
        return _batch_answer(answer)

    def read_associations(self, from_type: str, to_type: str, ids: Sequence[str]) -> BatchAnswer:
        """``POST /crm/v4/associations/{from}/{to}/batch/read``: associated ids per record."""
        body = associations_v4.BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[associations_v4.PublicFetchAssociationsBatchRequest(id=i) for i in ids]
        )
        answer = self.call(
            f"read {from_type} to {to_type} associations",
            lambda timeout: self._associations.get_page(
                from_type, to_type, body, _request_timeout=timeout, _preload_content=False
            ),
        )
        return _batch_answer(answer)

    def properties(self, object_type: str) -> list[dict[str, Any]]:
        """``GET /crm/v3/properties/{type}``: every property definition of an object."""
        answer = self.call(
            f"properties of {object_type}",
            lambda timeout: self._properties.get_all(
                object_type, archived=False, _request_timeout=timeout, _preload_content=False
            ),
        )
        return [p for p in answer.get("results") or [] if isinstance(p, dict)]


def _batch_answer(answer: Any) -> BatchAnswer:
    if not isinstance(answer, dict):
        return BatchAnswer()
    return BatchAnswer(
        [r for r in answer.get("results") or [] if isinstance(r, dict)],
        [e for e in answer.get("errors") or [] if isinstance(e, dict)],
    )
