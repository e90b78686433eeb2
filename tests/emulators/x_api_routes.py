"""The X API v2 endpoints the emulator answers, matched by path template and handled against a ``Store``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.emulators.https_server import LoggedRequest
from tests.emulators.x_api_auth import Identity
from tests.emulators.x_api_errors import (
    DUPLICATE_DETAIL,
    REPLY_TARGET_DETAIL,
    TOO_LONG_DETAIL,
    body_error,
    forbidden,
    invalid_request,
    not_found_route,
    param_error,
    resource_not_found,
)
from tests.emulators.x_api_render import (
    MEDIA_PARAMS,
    TWEET_EXPANSIONS,
    TWEET_FIELDS,
    USER_EXPANSIONS,
    USER_FIELDS,
    Includes,
    Params,
    dm_page,
    is_snowflake,
    path_id,
    timeline,
    tweet_json,
    user_json,
)
from tests.emulators.x_api_store import DmEvent, Store, conversation_id
from tests.emulators.x_api_text import MAX_WEIGHTED_LENGTH, weighted_length

Answer = tuple[int, dict[str, Any]]
DUPLICATE_WINDOW = timedelta(hours=24)
DM_MAX_TEXT = 10_000


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # also the rate-limit endpoint key, e.g. "GET /2/users/:id/mentions"
    user_context: bool  # app-only bearer tokens get 403 Unsupported Authentication

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


ROUTES = (
    Route("GET", "/2/users/me", True),
    Route("GET", "/2/users/by/username/:username", False),
    Route("GET", "/2/users/:id/mentions", False),
    Route("GET", "/2/users/:id/tweets", False),
    Route("GET", "/2/users/:id", False),
    Route("GET", "/2/tweets/:id", False),
    Route("POST", "/2/tweets", True),
    Route("POST", "/2/dm_conversations/with/:participant_id/messages", True),
    Route("GET", "/2/dm_conversations/with/:participant_id/dm_events", True),
    Route("GET", "/2/dm_events", True),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route and its path parameters (``:name`` segments), or None for anything X would 404."""
    segments = path.rstrip("/").split("/")
    for route in ROUTES:
        if route.method != method:
            continue
        pattern = route.template.split("/")
        if len(pattern) != len(segments):
            continue
        params: dict[str, str] = {}
        for want, got in zip(pattern, segments, strict=True):
            if want.startswith(":"):
                if not got:
                    break
                params[want[1:]] = got
            elif want != got:
                break
        else:
            return route, params
    return None


def json_body(entry: LoggedRequest) -> dict[str, Any]:
    """Parse a POST body; X only takes JSON objects sent as ``application/json``."""
    content_type = entry.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise body_error("Requests with bodies must have content-type of application/json.")
    try:
        body = json.loads(entry.raw_body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise body_error(f"The request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise body_error("The request body must be a JSON object.")
    entry.body = body
    return body


class Api:
    """Endpoint handlers; the caller holds the emulator lock and has authenticated the request."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def dispatch(
        self, route: Route, path: dict[str, str], identity: Identity, entry: LoggedRequest
    ) -> Answer:
        handlers: dict[str, Callable[[], Answer]] = {
            "GET /2/users/me": lambda: self.user_me(identity, entry.query),
            "GET /2/users/by/username/:username": lambda: self.user_by_username(
                path["username"], entry.query
            ),
            "GET /2/users/:id/mentions": lambda: self.mentions(path["id"], entry.query),
            "GET /2/users/:id/tweets": lambda: self.user_tweets(path["id"], entry.query),
            "GET /2/users/:id": lambda: self.user_by_id(path["id"], entry.query),
            "GET /2/tweets/:id": lambda: self.tweet_by_id(path["id"], entry.query),
            "POST /2/tweets": lambda: self.create_tweet(identity, entry),
            "POST /2/dm_conversations/with/:participant_id/messages": lambda: self.send_dm(
                identity, path["participant_id"], entry
            ),
            "GET /2/dm_conversations/with/:participant_id/dm_events": lambda: self.dm_events_with(
                identity, path["participant_id"], entry.query
            ),
            "GET /2/dm_events": lambda: self.dm_events(identity, entry.query),
        }
        handler = handlers.get(route.key)
        if handler is None:
            raise not_found_route()
        return handler()

    # -- users -----------------------------------------------------------------------------------

    def _user_answer(self, user_id: str | None, parameter: str, value: str, query: dict[str, str]) -> Answer:
        params = Params(query, {"user.fields", "expansions", "tweet.fields"})
        fields = params.fields("user.fields", USER_FIELDS)
        params.fields("expansions", USER_EXPANSIONS)
        params.fields("tweet.fields", TWEET_FIELDS)
        params.check()
        user = self.store.users.get(user_id) if user_id else None
        if user is None:
            return 200, {"errors": [resource_not_found("user", parameter, value)]}
        return 200, {"data": user_json(self.store, user, fields)}

    def user_by_id(self, user_id: str, query: dict[str, str]) -> Answer:
        path_id("id", user_id)
        return self._user_answer(user_id, "id", user_id, query)

    def user_by_username(self, username: str, query: dict[str, str]) -> Answer:
        user = self.store.user_by_username(username)
        return self._user_answer(user.id if user else None, "username", username, query)

    def user_me(self, identity: Identity, query: dict[str, str]) -> Answer:
        assert identity.user_id is not None
        return self._user_answer(identity.user_id, "id", identity.user_id, query)

    # -- tweets ----------------------------------------------------------------------------------

    def mentions(self, user_id: str, query: dict[str, str]) -> Answer:
        path_id("id", user_id)
        if user_id not in self.store.users:
            return 200, {"errors": [resource_not_found("user", "id", user_id)]}
        return 200, timeline(self.store, self.store.mentions_of(user_id), query)

    def user_tweets(self, user_id: str, query: dict[str, str]) -> Answer:
        path_id("id", user_id)
        if user_id not in self.store.users:
            return 200, {"errors": [resource_not_found("user", "id", user_id)]}
        return 200, timeline(self.store, self.store.timeline_of(user_id), query)

    def tweet_by_id(self, tweet_id: str, query: dict[str, str]) -> Answer:
        path_id("id", tweet_id)
        params = Params(query, {"tweet.fields", "expansions", "user.fields"} | MEDIA_PARAMS)
        tweet_fields = params.fields("tweet.fields", TWEET_FIELDS)
        expansions = params.fields("expansions", TWEET_EXPANSIONS)
        user_fields = params.fields("user.fields", USER_FIELDS)
        params.check()
        tweet = self.store.live_tweet(tweet_id)
        if tweet is None:
            return 200, {"errors": [resource_not_found("tweet", "id", tweet_id)]}
        includes = Includes(self.store, user_fields, tweet_fields)
        includes.expand_tweets([tweet], expansions)
        return 200, includes.attach({"data": tweet_json(self.store, tweet, tweet_fields)})

    def create_tweet(self, identity: Identity, entry: LoggedRequest) -> Answer:
        """``POST /2/tweets``: text rules, reply target, duplicates; the reply joins the conversation."""
        assert identity.user_id is not None
        body = json_body(entry)
        text = body.get("text")
        reply = body.get("reply")
        if not isinstance(text, str) or not text:
            raise body_error("$.text: is missing but it is required (only text posts are emulated)")
        target: str | None = None
        if reply is not None:
            if not isinstance(reply, dict) or not isinstance(reply.get("in_reply_to_tweet_id"), str):
                raise body_error("$.reply.in_reply_to_tweet_id: is missing but it is required")
            target = reply["in_reply_to_tweet_id"]
            if not is_snowflake(target):
                raise invalid_request(
                    [
                        param_error(
                            "reply.in_reply_to_tweet_id",
                            target,
                            "$.reply.in_reply_to_tweet_id: does not match",
                        )
                    ]
                )
            excluded = reply.get("exclude_reply_user_ids", [])
            if not isinstance(excluded, list) or not all(isinstance(u, str) for u in excluded):
                raise body_error("$.reply.exclude_reply_user_ids: must be an array of strings")
        if weighted_length(text) > MAX_WEIGHTED_LENGTH:
            raise forbidden(TOO_LONG_DETAIL)
        if target is not None and self.store.live_tweet(target) is None:
            raise forbidden(REPLY_TARGET_DETAIL)
        now = self.clock()
        for earlier in self.store.tweets.values():
            if (
                earlier.author_id == identity.user_id
                and not earlier.deleted
                and earlier.text == text
                and now - earlier.created_at < DUPLICATE_WINDOW
            ):
                raise forbidden(DUPLICATE_DETAIL)
        tweet_id = self.store.new_id(now)
        self.store.add_tweet(tweet_id, identity.user_id, text, now, target, "en", via_api=True)
        return 201, {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}}

    # -- direct messages -------------------------------------------------------------------------

    def send_dm(self, identity: Identity, participant_id: str, entry: LoggedRequest) -> Answer:
        """``POST /2/dm_conversations/with/:id/messages``: creates or reuses the 1:1 conversation."""
        assert identity.user_id is not None
        path_id("participant_id", participant_id)
        body = json_body(entry)
        if participant_id not in self.store.users:
            raise invalid_request(
                [
                    param_error(
                        "participant_id",
                        participant_id,
                        f"Could not find user with participant_id: [{participant_id}].",
                    )
                ]
            )
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise body_error("$.text: is missing but it is required (only text messages are emulated)")
        if len(text) > DM_MAX_TEXT:
            raise body_error(f"$.text: must be at most {DM_MAX_TEXT} characters long")
        now = self.clock()
        event = DmEvent(self.store.new_id(now), identity.user_id, participant_id, text, now, via_api=True)
        self.store.add_dm(event)
        return 201, {
            "data": {
                "dm_conversation_id": conversation_id(identity.user_id, participant_id),
                "dm_event_id": event.id,
            }
        }

    def dm_events_with(self, identity: Identity, participant_id: str, query: dict[str, str]) -> Answer:
        assert identity.user_id is not None
        path_id("participant_id", participant_id)
        return 200, dm_page(self.store, self.store.dms_of(identity.user_id, participant_id), query)

    def dm_events(self, identity: Identity, query: dict[str, str]) -> Answer:
        assert identity.user_id is not None
        return 200, dm_page(self.store, self.store.dms_of(identity.user_id), query)
