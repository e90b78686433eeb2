"""A local X (Twitter) API v2 over real HTTP(S), for tests of the X connector's outbound calls.

Wire behaviour follows docs/protocols.md B.5 and B.6: replies and DMs, mentions / user timelines /
lookups with fields and expansions, v2 problem bodies, real OAuth 1.0a (HMAC-SHA1) verification
and OAuth 2.0 bearer tokens, and enforced per-user rate limits with ``x-rate-limit-*`` headers.

    with XApiEmulator() as x:
        x.add_user_token("user-token")
        requests.post(f"{x.base_url}/2/tweets", json={"text": "hi"},
                      headers={"Authorization": "Bearer user-token"})
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.emulators.https_server import Fault, LoggedRequest, Reply, take_fault
from tests.emulators.local_emulator import BodyFault, LocalEmulator
from tests.emulators.tls import TlsMaterial
from tests.emulators.x_api_auth import Identity, OAuth1Credentials, OAuth1Verifier, RateLimiter
from tests.emulators.x_api_errors import (
    XApiError,
    about_blank,
    app_only_forbidden,
    not_found_route,
    too_many_requests_body,
    unauthorized,
)
from tests.emulators.x_api_routes import Api, match
from tests.emulators.x_api_store import DmEvent, Store, User


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """Seed data may come naive; X times are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class XApiEmulator(LocalEmulator):
    """A threaded HTTP (or, given TLS material, HTTPS) server on 127.0.0.1 speaking X API v2."""

    def __init__(
        self,
        tls: TlsMaterial | None = None,
        brand_user_id: str = "2244994945",
        brand_username: str = "AcmeSupport",
    ) -> None:
        super().__init__(tls)
        self.brand_user_id = brand_user_id
        self.brand_username = brand_username
        self.clock: Callable[[], datetime] = _utc_now
        self.store = Store()
        self.store.add_user(User(brand_user_id, brand_username, brand_username, followers_count=1000))
        self.limits = RateLimiter()
        self._oauth1 = OAuth1Verifier()
        self._user_tokens: dict[str, str] = {}
        self._app_tokens: set[str] = set()
        self._api = Api(self.store, lambda: _aware(self.clock()))

    # -- credentials -------------------------------------------------------------------------------

    def _known_user(self, user_id: str | None) -> str:
        user_id = user_id or self.brand_user_id
        if user_id not in self.store.users:
            raise KeyError(f"unknown user {user_id}: add_user() first")
        return user_id

    def add_user_token(self, token: str, user_id: str | None = None) -> None:
        """Accept ``Authorization: Bearer <token>`` as an OAuth 2.0 user token (default user: the brand)."""
        with self._lock:
            self._user_tokens[token] = self._known_user(user_id)

    def add_app_token(self, token: str) -> None:
        """Accept an app-only bearer token: fine for public lookups, 403 where user context is required."""
        with self._lock:
            self._app_tokens.add(token)

    def add_oauth1(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        user_id: str | None = None,
    ) -> None:
        """Accept OAuth 1.0a requests signed with these four secrets (default user: the brand)."""
        with self._lock:
            self._oauth1.add(
                OAuth1Credentials(
                    consumer_key,
                    consumer_secret,
                    access_token,
                    access_token_secret,
                    self._known_user(user_id),
                )
            )

    # -- data ----------------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        username: str,
        name: str = "",
        followers_count: int = 0,
        verified: bool = False,
        protected: bool = False,
    ) -> None:
        with self._lock:
            self.store.add_user(
                User(
                    user_id,
                    username,
                    name or username,
                    followers_count,
                    verified=verified,
                    protected=protected,
                )
            )

    def add_tweet(
        self,
        tweet_id: str,
        author_id: str,
        text: str,
        created_at: datetime,
        in_reply_to_tweet_id: str | None = None,
        lang: str = "en",
    ) -> None:
        """Seed a tweet; it shows in the mentions of every known user it @mentions (the brand included)."""
        with self._lock:
            self.store.add_tweet(tweet_id, author_id, text, _aware(created_at), in_reply_to_tweet_id, lang)

    def delete_tweet(self, tweet_id: str) -> None:
        """Mark a tweet deleted: lookups, timelines and reply attempts then treat it as gone."""
        with self._lock:
            self.store.tweets[tweet_id].deleted = True

    def add_dm(
        self, event_id: str, sender_id: str, recipient_id: str, text: str, created_at: datetime
    ) -> None:
        with self._lock:
            self.store.add_dm(DmEvent(event_id, sender_id, recipient_id, text, _aware(created_at)))

    def created_tweets(self) -> list[dict[str, Any]]:
        """Tweets created through ``POST /2/tweets``, oldest first."""
        with self._lock:
            return [
                {
                    "id": t.id,
                    "text": t.text,
                    "author_id": t.author_id,
                    "in_reply_to_tweet_id": t.in_reply_to_tweet_id,
                }
                for t in self.store.tweets.values()
                if t.via_api
            ]

    def sent_dms(self) -> list[dict[str, Any]]:
        """DMs sent through ``POST /2/dm_conversations/with/:participant_id/messages``, oldest first."""
        with self._lock:
            return [
                {
                    "dm_event_id": e.id,
                    "dm_conversation_id": e.conversation_id,
                    "participant_id": e.recipient_id,
                    "text": e.text,
                    "sender_id": e.sender_id,
                }
                for e in self.store.dms.values()
                if e.via_api
            ]

    # -- limits, faults and the log --------------------------------------------------------------

    def set_limit(self, endpoint: str, limit: int, window_s: int = 900) -> None:
        """Set an endpoint's per-user limit (keys as in ``x_api_auth.DEFAULT_LIMITS``); counting restarts."""
        with self._lock:
            self.limits.set_limit(endpoint, limit, window_s)

    # -- request handling (called by the HTTP handler) -------------------------------------------

    def serve(self, entry: LoggedRequest) -> Reply:
        """Log one request and answer it: drops, faults, routing, auth, rate limit, then the endpoint.

        A bug in the emulator answers 500 naming the exception, rather than a dropped connection
        that a client under test would retry as a network error.
        """
        try:
            return self._serve(entry)
        except Exception as error:
            detail = f"X emulator error: {error!r}"
            return Reply(
                500,
                {"title": "Internal Server Error", "detail": detail, "type": "about:blank", "status": 500},
            )

    def _serve(self, entry: LoggedRequest) -> Reply:
        with self._lock:
            self.request_log.append(entry)
            if take_fault(self._drops, entry.path):
                return Reply(0, drop=True)
            fault = take_fault(self._faults, entry.path)
            found = match(entry.method, entry.path)
            identity = self._authenticate(entry)
            now = _aware(self.clock()).timestamp()
            if fault is not None:
                headers = {}
                if found is not None and identity is not None:
                    headers = self.limits.peek(
                        found[0].key, identity.bucket, now, exhausted=fault.status == 429
                    )
                return Reply(fault.status, _fault_body(fault), headers)
            if found is None:
                return _error_reply(not_found_route())
            if identity is None:
                return _error_reply(unauthorized())
            route, path_params = found
            if route.user_context and identity.user_id is None:
                return _error_reply(app_only_forbidden())
            admitted, headers = self.limits.admit(route.key, identity.bucket, now)
            if not admitted:
                return Reply(429, too_many_requests_body(), headers)
            entry.counted = True
            try:
                status, body = self._api.dispatch(route, path_params, identity, entry)
            except XApiError as error:
                status, body = error.status, error.body
            return Reply(status, body, headers)

    def _authenticate(self, entry: LoggedRequest) -> Identity | None:
        authorization = entry.headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer":
            token = credentials.strip()
            if token in self._user_tokens:
                user_id = self._user_tokens[token]
                return Identity(user_id, f"user:{user_id}", "oauth2-user")
            if token in self._app_tokens:
                return Identity(None, f"app:{token}", "app")
            return None
        if scheme.lower() == "oauth":
            content_type = entry.headers.get("content-type", "").split(";")[0].strip().lower()
            form = (
                entry.raw_body.decode("utf-8", "replace")
                if content_type == "application/x-www-form-urlencoded"
                else None
            )
            scheme_name = "https" if self.tls else "http"
            url = f"{scheme_name}://{entry.headers.get('host', '')}{entry.path}"
            # Real time, not self.clock: requests_oauthlib stamps requests with the real clock.
            creds = self._oauth1.verify(entry.method, url, authorization, entry.query, form, time.time())
            if creds is None:
                return None
            return Identity(creds.user_id, f"user:{creds.user_id}", "oauth1")
        return None


def _error_reply(error: XApiError) -> Reply:
    return Reply(error.status, error.body)


def _fault_body(fault: Fault) -> Any:
    if isinstance(fault, BodyFault) and fault.body is not None:
        return fault.body
    if fault.status == 429:
        return too_many_requests_body()
    try:
        return about_blank(fault.status)
    except ValueError:  # not a registered HTTP status
        return {"title": "Error", "detail": "Error", "type": "about:blank", "status": fault.status}
