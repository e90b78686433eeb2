"""Authentication and rate limits for the X emulator.

OAuth 1.0a signatures are verified for real with ``oauthlib`` (same base string rules X applies:
method, the URL as the client saw it, header + query + form parameters), so a client that signs the
wrong URL or forgets the query fails here as it would against api.x.com.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import signature, utils

OAUTH1_MAX_SKEW_S = 300  # X refuses timestamps more than 5 minutes away from its clock

# Defaults per docs/protocols.md B.6 (15-minute windows, per user; app-only uses the app's bucket).
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "POST /2/tweets": (100, 900),
    "POST /2/dm_conversations/with/:participant_id/messages": (200, 900),
    "GET /2/users/:id/mentions": (180, 900),
    "GET /2/users/:id/tweets": (900, 900),
    "GET /2/users/:id": (900, 900),
    "GET /2/users/by/username/:username": (900, 900),
    "GET /2/users/me": (75, 900),
    "GET /2/dm_conversations/with/:participant_id/dm_events": (300, 900),
    "GET /2/dm_events": (300, 900),
    "GET /2/tweets/:id": (900, 900),
}


@dataclass(frozen=True)
class Identity:
    """Who a request acts for: ``user_id`` None means OAuth 2.0 app-only (bearer) authentication."""

    user_id: str | None
    bucket: str  # rate-limit identity
    scheme: str  # "oauth2-user", "oauth1" or "app"


@dataclass(frozen=True)
class OAuth1Credentials:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    user_id: str


class OAuth1Verifier:
    """HMAC-SHA1 OAuth 1.0a user-context verification with timestamp and nonce checks."""

    def __init__(self) -> None:
        self.credentials: dict[tuple[str, str], OAuth1Credentials] = {}
        self._nonces: dict[tuple[str, str, str], int] = {}

    def add(self, credentials: OAuth1Credentials) -> None:
        self.credentials[(credentials.consumer_key, credentials.access_token)] = credentials

    def verify(
        self,
        method: str,
        url: str,
        authorization: str,
        query: dict[str, str],
        form_body: str | None,
        now: float,
    ) -> OAuth1Credentials | None:
        """The credentials the request was validly signed with, or None (answer 401)."""
        try:
            header = {k: utils.unescape(v) for k, v in utils.parse_authorization_header(authorization)}
            params: Any = signature.collect_parameters(  # a list of pairs; the stubs say dict
                uri_query=urlencode(query),
                body=form_body,
                headers={"Authorization": authorization},
            )
        except (ValueError, TypeError):
            return None
        creds = self.credentials.get((header.get("oauth_consumer_key", ""), header.get("oauth_token", "")))
        if creds is None or header.get("oauth_signature_method") != "HMAC-SHA1":
            return None
        if header.get("oauth_version", "1.0") != "1.0":
            return None
        timestamp, nonce = header.get("oauth_timestamp", ""), header.get("oauth_nonce", "")
        if not timestamp.isdigit() or abs(int(timestamp) - now) > OAUTH1_MAX_SKEW_S or not nonce:
            return None
        http_method: Any = method.upper()
        base = signature.signature_base_string(
            http_method, signature.base_string_uri(url), signature.normalize_parameters(params)
        )
        signer = Client(
            creds.consumer_key,
            client_secret=creds.consumer_secret,
            resource_owner_key=creds.access_token,
            resource_owner_secret=creds.access_token_secret,
        )
        expected = signature.sign_hmac_sha1_with_client(base, signer)
        if not hmac.compare_digest(expected.encode(), header.get("oauth_signature", "").encode()):
            return None
        self._forget_old_nonces(now)
        key = (creds.consumer_key, creds.access_token, nonce)
        if key in self._nonces:
            return None  # replayed request
        self._nonces[key] = int(timestamp)
        return creds

    def _forget_old_nonces(self, now: float) -> None:
        """A nonce only needs remembering while its timestamp would still pass the skew check."""
        for key, stamp in list(self._nonces.items()):
            if now - stamp > 2 * OAUTH1_MAX_SKEW_S:
                del self._nonces[key]


class RateLimiter:
    """Fixed windows per (endpoint, identity), opened by the first request after the previous one ends."""

    def __init__(self) -> None:
        self.limits: dict[str, tuple[int, int]] = dict(DEFAULT_LIMITS)
        self._windows: dict[tuple[str, str], list[float]] = {}  # [start, count]

    def set_limit(self, endpoint: str, limit: int, window_s: int = 900) -> None:
        """Change one endpoint's limit; its open windows close so the new limit applies at once."""
        if endpoint not in self.limits:
            raise KeyError(f"unknown endpoint key {endpoint!r}; one of {sorted(self.limits)}")
        self.limits[endpoint] = (limit, window_s)
        for key in [k for k in self._windows if k[0] == endpoint]:
            del self._windows[key]

    def reset(self) -> None:
        self._windows.clear()

    def _window(self, endpoint: str, bucket: str, now: float) -> list[float]:
        _, window_s = self.limits[endpoint]
        window = self._windows.get((endpoint, bucket))
        if window is None or now >= window[0] + window_s:
            window = self._windows[(endpoint, bucket)] = [now, 0]
        return window

    def admit(self, endpoint: str, bucket: str, now: float) -> tuple[bool, dict[str, str]]:
        """Count one request if the window has room; always return the headers to send."""
        limit, _ = self.limits[endpoint]
        window = self._window(endpoint, bucket, now)
        admitted = window[1] < limit
        if admitted:
            window[1] += 1
        return admitted, self._headers(endpoint, window)

    def peek(self, endpoint: str, bucket: str, now: float, exhausted: bool = False) -> dict[str, str]:
        """Headers for a reply that does not count (an injected fault); ``exhausted`` forces remaining 0."""
        headers = self._headers(endpoint, self._window(endpoint, bucket, now))
        if exhausted:
            headers["x-rate-limit-remaining"] = "0"
        return headers

    def _headers(self, endpoint: str, window: list[float]) -> dict[str, str]:
        limit, window_s = self.limits[endpoint]
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(limit - int(window[1]), 0)),
            "x-rate-limit-reset": str(math.ceil(window[0] + window_s)),
        }
