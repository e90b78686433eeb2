"""A small client for the X API v2 in user context (OAuth 2.0 user token or OAuth 1.0a).

Every response carries ``x-rate-limit-*``; over the limit X answers 429 with no
Retry-After, and the wait is ``x-rate-limit-reset`` (unix seconds). A window that a
success left at zero remaining is remembered, so the next call waits instead of
spending a request on a certain 429. protocols.md B.5 to B.6.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from requests_oauthlib import OAuth1

from connector.config import XSettings
from connector.http_session import ConfiguredSession
from connector.model import from_unix, utcnow
from connector.publish.api_call import TransientError, call
from connector.publish.base import PermanentPublishError, RateLimitedError

log = logging.getLogger("ventanilla.x")
DEFAULT_RESET_WAIT = timedelta(minutes=15)
DUPLICATE_CONTENT = "duplicate content"


class XApiError(PermanentPublishError):
    """An X API refusal that retrying will not fix."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"X API error (HTTP {status}): {detail}")
        self.status = status
        self.detail = detail

    @property
    def duplicate(self) -> bool:
        return self.status == 403 and DUPLICATE_CONTENT in self.detail.lower()


_exhausted: dict[tuple[str, str], datetime] = {}
_exhausted_lock = threading.Lock()


class XClient:
    """Calls ``{api_base_url}/2/...`` as the brand's user."""

    def __init__(self, settings: XSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.base = settings.api_base_url.rstrip("/")
        self.session = session or ConfiguredSession(settings.ca_bundle, settings.timeout_s)
        self._host = urlsplit(self.base).netloc

    @property
    def user_id(self) -> str:
        """The brand's own X user id (the first of ``platforms.x.brand_user_ids``)."""
        if not self.settings.brand_user_ids:
            raise PermanentPublishError(
                "platforms.x.brand_user_ids is empty: the brand's X user id is needed"
            )
        return self.settings.brand_user_ids[0]

    def _auth(self) -> tuple[dict[str, str], OAuth1 | None]:
        s = self.settings
        if s.access_token is None:
            raise PermanentPublishError(
                "platforms.x.access_token is not set: Ventanilla cannot call the X API"
            )
        if s.access_token_secret is not None:
            if s.consumer_key is None or s.consumer_secret is None:
                raise PermanentPublishError(
                    "OAuth 1.0a needs platforms.x.consumer_key and consumer_secret with the access token"
                )
            oauth = OAuth1(
                s.consumer_key.get_secret_value(),
                s.consumer_secret.get_secret_value(),
                s.access_token.get_secret_value(),
                s.access_token_secret.get_secret_value(),
            )
            return {}, oauth
        return {"Authorization": f"Bearer {s.access_token.get_secret_value()}"}, None

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return call(
            lambda: self._request("GET", path, params=params),
            idempotent=True,
            attempts=self.settings.max_retries,
        )

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST a create; not retried in place after a failure that may have reached X."""
        return call(
            lambda: self._request("POST", path, json_body=body),
            idempotent=False,
            attempts=self.settings.max_retries,
        )

    def _request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None
    ) -> Any:
        endpoint = _endpoint_key(method, path)
        self._check_exhausted(endpoint)
        headers, oauth = self._auth()
        try:
            response = self.session.request(
                method, f"{self.base}{path}", params=params, json=json_body, headers=headers, auth=oauth
            )
        except requests.RequestException as exc:
            raise TransientError(f"X API {method} {path}: {type(exc).__name__}") from None
        reset = _reset_time(response.headers)
        if response.status_code == 429:
            retry_at = reset or utcnow() + DEFAULT_RESET_WAIT
            self._mark_exhausted(endpoint, retry_at)
            raise RateLimitedError(f"X API rate limit on {endpoint}", retry_at)
        if response.headers.get("x-rate-limit-remaining") == "0" and reset is not None:
            self._mark_exhausted(endpoint, reset)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 500:
            raise TransientError(f"X API {method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise XApiError(response.status_code, _detail(body))
        return body if body is not None else {}

    def _mark_exhausted(self, endpoint: str, until: datetime) -> None:
        with _exhausted_lock:
            _exhausted[(self._host, endpoint)] = until

    def _check_exhausted(self, endpoint: str) -> None:
        with _exhausted_lock:
            until = _exhausted.get((self._host, endpoint))
        if until is not None and until > utcnow():
            raise RateLimitedError(f"X API rate limit on {endpoint} until its reset", until)


def reset_limits() -> None:
    """Forget remembered rate-limit windows (tests)."""
    with _exhausted_lock:
        _exhausted.clear()


def _endpoint_key(method: str, path: str) -> str:
    """The endpoint of a call with its ids replaced: X counts limits per endpoint."""
    parts = [":id" if part.isdigit() else part for part in path.split("?")[0].split("/")]
    return f"{method} {'/'.join(parts)}"


def _reset_time(headers: Mapping[str, str]) -> datetime | None:
    value = headers.get("x-rate-limit-reset")
    try:
        return from_unix(int(value)) if value else None
    except ValueError:
        return None


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        if body.get("detail"):
            return str(body["detail"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0].get("detail") or errors[0])
        if body.get("title"):
            return str(body["title"])
    return "no error detail"
