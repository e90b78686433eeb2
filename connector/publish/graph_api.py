"""A small client for Meta's Graph API: Page token, error codes, usage headers, paging.

Meta signals throttling with error codes (HTTP 400/403), never a 429 and never a
Retry-After; how long to wait is in ``X-Business-Use-Case-Usage``
(``estimated_time_to_regain_access``, minutes). protocols.md A.8 to A.9.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from connector.config import MetaSettings
from connector.http_session import ConfiguredSession
from connector.model import utcnow
from connector.publish.api_call import TransientError, call
from connector.publish.base import PermanentPublishError, RateLimitedError, WindowClosedError

log = logging.getLogger("ventanilla.meta")

THROTTLING_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014})
TRANSIENT_CODES = frozenset({1, 2})
WINDOW_SUBCODES = frozenset({2018278})
DEFAULT_THROTTLE_WAIT = timedelta(minutes=1)
USAGE_WARNING_PERCENT = 80


class GraphError(PermanentPublishError):
    """A Graph API error that retrying will not fix."""

    def __init__(self, status: int, code: int | None, subcode: int | None, message: str) -> None:
        super().__init__(f"Graph API error {code}/{subcode} (HTTP {status}): {message}")
        self.status = status
        self.code = code
        self.subcode = subcode


_pauses: dict[str, datetime] = {}
_pauses_lock = threading.Lock()


class GraphClient:
    """Calls ``{graph_base_url}/{api_version}/...`` with a Page (or Instagram) token."""

    def __init__(self, settings: MetaSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.base = f"{settings.graph_base_url.rstrip('/')}/{settings.api_version}"
        self.session = session or ConfiguredSession(settings.ca_bundle, settings.timeout_s)
        self._scope = urlsplit(settings.graph_base_url).netloc

    def token(self, instagram: bool = False) -> str:
        secret = (
            self.settings.instagram_access_token if instagram else None
        ) or self.settings.page_access_token
        if secret is None:
            raise PermanentPublishError(
                "platforms.meta.page_access_token is not set: Ventanilla cannot call the Graph API"
            )
        return secret.get_secret_value()

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, instagram: bool = False) -> Any:
        """GET, retried in place on throttling with a short reset and on transient failures."""
        return call(
            lambda: self._request("GET", path, params=params, instagram=instagram),
            idempotent=True,
            attempts=self.settings.max_retries,
        )

    def post(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        instagram: bool = False,
        idempotent: bool = False,
    ) -> Any:
        """POST; a create is not retried in place after a failure that may have reached Meta."""
        return call(
            lambda: self._request(
                "POST", path, params=params, data=data, json_body=json_body, instagram=instagram
            ),
            idempotent=idempotent,
            attempts=self.settings.max_retries,
        )

    def pages(
        self, path: str, params: Mapping[str, Any], *, max_items: int, instagram: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Yield up to ``max_items`` objects of a paged edge, following ``paging.cursors.after``."""
        query = dict(params)
        seen = 0
        while True:
            page = self.get(path, query, instagram=instagram)
            for item in page.get("data") or []:
                if seen >= max_items:
                    return
                seen += 1
                yield item
            paging = page.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return
            query["after"] = after

    # -- one request ------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        instagram: bool = False,
    ) -> Any:
        self._check_pause()
        url = f"{self.base}/{path.lstrip('/')}"
        headers = {"Authorization": f"Bearer {self.token(instagram)}"}
        try:
            response = self.session.request(
                method, url, params=params, data=data, json=json_body, headers=headers
            )
        except requests.RequestException as exc:
            raise TransientError(f"Graph API {method} /{path}: {type(exc).__name__}") from None
        regain = self._note_usage(response.headers)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code < 400 and not (isinstance(body, dict) and "error" in body):
            return body if body is not None else {}
        self._raise(method, path, response.status_code, body, regain)

    def _raise(self, method: str, path: str, status: int, body: Any, regain: timedelta | None) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            if status >= 500:
                raise TransientError(f"Graph API {method} /{path}: HTTP {status}")
            raise GraphError(status, None, None, f"HTTP {status} without a Graph error body")
        code = _int(error.get("code"))
        subcode = _int(error.get("error_subcode"))
        message = str(error.get("message") or "")
        if code in THROTTLING_CODES:
            retry_at = utcnow() + (regain or DEFAULT_THROTTLE_WAIT)
            self._pause_until(retry_at)
            raise RateLimitedError(f"Graph API throttled us (code {code}): {message}", retry_at)
        if code in TRANSIENT_CODES or error.get("is_transient") or status >= 500:
            raise TransientError(f"Graph API {method} /{path}: code {code}: {message}")
        if subcode in WINDOW_SUBCODES or (code == 10 and "window" in message.lower()):
            raise WindowClosedError(message or "outside the allowed messaging window")
        raise GraphError(status, code, subcode, message)

    # -- usage headers -----------------------------------------------------------------------

    def _note_usage(self, headers: Mapping[str, str]) -> timedelta | None:
        """Read X-App-Usage / X-Business-Use-Case-Usage; return Meta's own wait when it gives one."""
        highest = 0
        regain_minutes = 0.0
        for name in ("X-App-Usage", "X-Page-Usage"):
            usage = _json_header(headers.get(name))
            if isinstance(usage, dict):
                highest = max(highest, *(_int(v) or 0 for v in usage.values()), 0)
        business = _json_header(headers.get("X-Business-Use-Case-Usage"))
        if isinstance(business, dict):
            for entries in business.values():
                for entry in entries if isinstance(entries, list) else []:
                    if not isinstance(entry, dict):
                        continue
                    for key in ("call_count", "total_cputime", "total_time"):
                        highest = max(highest, _int(entry.get(key)) or 0)
                    regain_minutes = max(
                        regain_minutes, float(entry.get("estimated_time_to_regain_access") or 0)
                    )
        if highest >= USAGE_WARNING_PERCENT:
            log.warning("Meta API usage at %d%% of the limit", highest)
        if highest >= 100 and regain_minutes > 0:
            self._pause_until(utcnow() + timedelta(minutes=regain_minutes))
        return timedelta(minutes=regain_minutes) if regain_minutes > 0 else None

    def _pause_until(self, until: datetime) -> None:
        with _pauses_lock:
            if _pauses.get(self._scope, until) <= until:
                _pauses[self._scope] = until

    def _check_pause(self) -> None:
        with _pauses_lock:
            until = _pauses.get(self._scope)
        if until is not None and until > utcnow():
            raise RateLimitedError("Meta API usage limit reached; waiting for Meta's reset", until)


def reset_pauses() -> None:
    """Forget every pause (tests, and a restart after the limit has passed)."""
    with _pauses_lock:
        _pauses.clear()


def _json_header(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
