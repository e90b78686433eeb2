"""Bad input, Apprise style: one table, one checker. Exact status and error code, never a 500,
and nothing stored."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from connector.store import Store
from tests.conftest import GENERIC_SECRET, META_APP_SECRET, META_VERIFY_TOKEN, X_CONSUMER_SECRET
from tests.signing import (
    compact,
    fixture_bytes,
    fixture_json,
    interaction_rows,
    post_generic,
    post_meta,
    post_x,
    raw_event_count,
)
from webhooks.signatures import sign_meta, sign_standard_webhook, sign_x

Send = Callable[[FlaskClient], TestResponse]
MEBIBYTE = 1024 * 1024
DEEP = b'{"a":' * 100 + b"1" + b"}" * 100
NOT_UTF8 = b'{"object": "page", "entry": [], "x": "\xff\xfe"}'
META_COMMENT = fixture_bytes("meta", "feed__comment_add")
X_MENTION = fixture_bytes("x", "tweet_create_events__mention")
GENERIC_COMMENT = fixture_bytes("generic", "interaction__comment")


@dataclass(frozen=True)
class Case:
    name: str
    send: Send
    status: int
    error: str
    message: str


def meta_with(path: list[Any], value: Any, fixture: str = "feed__comment_add") -> bytes:
    """A Meta fixture with one value replaced (or removed, for ``...``), compact like Meta's."""
    return compact(_replace(fixture_json("meta", fixture), path, value))


def x_with(path: list[Any], value: Any, fixture: str = "tweet_create_events__mention") -> bytes:
    return compact(_replace(fixture_json("x", fixture), path, value))


def generic_with(key: str, value: Any) -> bytes:
    return compact(_replace(fixture_json("generic", "interaction__comment"), [key], value))


def _replace(payload: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    node: Any = payload
    for part in path[:-1]:
        node = node[part]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return payload


def two_changes_second_bad() -> bytes:
    payload = fixture_json("meta", "feed__comment_add")
    changes = payload["entry"][0]["changes"]
    second = json.loads(json.dumps(changes[0]))
    second["value"]["from"]["id"] = 3450429531722233
    changes.append(second)
    return compact(payload)


def handshake(**query: str) -> Send:
    return lambda client: client.get("/webhooks/meta", query_string=query)


def stale_generic(client: FlaskClient) -> TestResponse:
    return post_generic(client, GENERIC_COMMENT, timestamp=int(time.time()) - 301)


def future_generic(client: FlaskClient) -> TestResponse:
    return post_generic(client, GENERIC_COMMENT, timestamp=int(time.time()) + 301)


def generic_signed_as(body: bytes, content_type: str = "application/json") -> Send:
    headers = sign_standard_webhook(b"{}", GENERIC_SECRET, "msg_x")
    headers["webhook-signature"] = sign_standard_webhook(
        GENERIC_COMMENT, GENERIC_SECRET, "msg_x", int(headers["webhook-timestamp"])
    )["webhook-signature"]
    return lambda client: post_generic(client, body, headers=headers, content_type=content_type)


def generic_raw_headers(body: bytes) -> Send:
    """Headers for ``body`` computed without decoding it (the helper needs UTF-8)."""
    stamp = str(int(time.time()))
    return lambda client: post_generic(
        client,
        body,
        headers={"webhook-id": "msg_bin", "webhook-timestamp": stamp, "webhook-signature": "v1,AAAA"},
    )


BAD_SIGNATURE = "invalid_signature"
MALFORMED = "malformed"

CASES: list[Case] = [
    # --- Meta: content type, size, signature ---------------------------------------------
    Case(
        "meta text/plain",
        lambda c: post_meta(c, META_COMMENT, content_type="text/plain"),
        415,
        "unsupported_media_type",
        "expected Content-Type application/json, got text/plain",
    ),
    Case(
        "meta form",
        lambda c: post_meta(c, META_COMMENT, content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported_media_type",
        "expected Content-Type application/json, got application/x-www-form-urlencoded",
    ),
    Case(
        "meta 1 MiB + 1",
        lambda c: post_meta(c, b" " * (MEBIBYTE + 1)),
        413,
        "payload_too_large",
        f"body is {MEBIBYTE + 1} bytes; the limit is {MEBIBYTE}",
    ),
    Case(
        "meta no signature",
        lambda c: post_meta(c, META_COMMENT, headers={}),
        401,
        BAD_SIGNATURE,
        "missing X-Hub-Signature-256 header",
    ),
    Case(
        "meta sha1 scheme",
        lambda c: post_meta(c, META_COMMENT, headers={"X-Hub-Signature-256": "sha1=" + "0" * 40}),
        401,
        BAD_SIGNATURE,
        "X-Hub-Signature-256 must start with 'sha256='",
    ),
    Case(
        "meta wrong secret",
        lambda c: post_meta(c, META_COMMENT, secret="not-our-app-secret"),
        401,
        BAD_SIGNATURE,
        "X-Hub-Signature-256 does not match the body",
    ),
    Case(
        "meta tampered body",
        lambda c: post_meta(
            c, META_COMMENT.replace(b"Where", b"When"), headers=sign_meta(META_COMMENT, META_APP_SECRET)
        ),
        401,
        BAD_SIGNATURE,
        "X-Hub-Signature-256 does not match the body",
    ),
    Case(
        "meta X signature header",
        lambda c: post_meta(c, META_COMMENT, headers=sign_x(META_COMMENT, X_CONSUMER_SECRET)),
        401,
        BAD_SIGNATURE,
        "missing X-Hub-Signature-256 header",
    ),
    # --- Meta: JSON (validly signed) ------------------------------------------------------------
    Case("meta empty body", lambda c: post_meta(c, b""), 400, MALFORMED, "body is not valid JSON"),
    Case(
        "meta invalid JSON",
        lambda c: post_meta(c, b'{"object": "page",'),
        400,
        MALFORMED,
        "body is not valid JSON",
    ),
    Case("meta JSON array", lambda c: post_meta(c, b"[]"), 400, MALFORMED, "body must be a JSON object"),
    Case("meta invalid UTF-8", lambda c: post_meta(c, NOT_UTF8), 400, MALFORMED, "body is not valid UTF-8"),
    Case("meta 100-deep", lambda c: post_meta(c, DEEP), 400, MALFORMED, "JSON nesting deeper than 64 levels"),
    # --- Meta: shapes (validly signed) ----------------------------------------------------------
    Case(
        "meta no object",
        lambda c: post_meta(c, meta_with(["object"], ...)),
        400,
        MALFORMED,
        "object: required field is missing",
    ),
    Case(
        "meta entry not a list",
        lambda c: post_meta(c, meta_with(["entry"], {"id": "1"})),
        400,
        MALFORMED,
        "entry: expected a list",
    ),
    Case(
        "meta entry item not an object",
        lambda c: post_meta(c, meta_with(["entry"], ["103149398319188"])),
        400,
        MALFORMED,
        "entry[0]: expected an object",
    ),
    Case(
        "meta entry id a number",
        lambda c: post_meta(c, meta_with(["entry", 0, "id"], 103149398319188)),
        400,
        MALFORMED,
        "entry[0].id: expected a string",
    ),
    Case(
        "meta from.id a number (second change)",
        lambda c: post_meta(c, two_changes_second_bad()),
        400,
        MALFORMED,
        "entry[0].changes[1].value.from.id: expected a string",
    ),
    Case(
        "meta value not an object",
        lambda c: post_meta(c, meta_with(["entry", 0, "changes", 0, "value"], "comment")),
        400,
        MALFORMED,
        "entry[0].changes[0].value: expected an object",
    ),
    Case(
        "meta created_time a string",
        lambda c: post_meta(c, meta_with(["entry", 0, "changes", 0, "value", "created_time"], "2020-12-26")),
        400,
        MALFORMED,
        "entry[0].changes[0].value.created_time: expected an integer",
    ),
    Case(
        "meta created_time past year 9999",
        lambda c: post_meta(c, meta_with(["entry", 0, "changes", 0, "value", "created_time"], 10**15)),
        400,
        MALFORMED,
        "entry[0].changes[0].value.created_time: timestamp out of range",
    ),
    Case(
        "meta comment without comment_id",
        lambda c: post_meta(c, meta_with(["entry", 0, "changes", 0, "value", "comment_id"], ...)),
        400,
        MALFORMED,
        "entry[0].changes[0].value.comment_id: required field is missing",
    ),
    Case(
        "meta message text a list",
        lambda c: post_meta(
            c, meta_with(["entry", 0, "messaging", 0, "message", "text"], ["hola"], "messaging__message")
        ),
        400,
        MALFORMED,
        "entry[0].messaging[0].message.text: expected a string",
    ),
    Case(
        "meta messaging without sender",
        lambda c: post_meta(c, meta_with(["entry", 0, "messaging", 0, "sender"], ..., "messaging__message")),
        400,
        MALFORMED,
        "entry[0].messaging[0].sender: required field is missing",
    ),
    Case(
        "meta is_echo a string",
        lambda c: post_meta(
            c, meta_with(["entry", 0, "messaging", 0, "message", "is_echo"], "true", "messaging__echo")
        ),
        400,
        MALFORMED,
        "entry[0].messaging[0].message.is_echo: expected a boolean",
    ),
    Case(
        "meta instagram comment without from",
        lambda c: post_meta(
            c, meta_with(["entry", 0, "changes", 0, "value", "from"], ..., "instagram__comment")
        ),
        400,
        MALFORMED,
        "entry[0].changes[0].value.from: required field is missing",
    ),
    # --- Meta: handshake -------------------------------------------------------------------------
    Case(
        "handshake wrong token",
        handshake(**{"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "guess"}),
        403,
        "handshake_failed",
        "hub.verify_token does not match",
    ),
    Case(
        "handshake wrong mode",
        handshake(**{"hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": META_VERIFY_TOKEN}),
        403,
        "handshake_failed",
        "hub.mode must be 'subscribe'",
    ),
    Case(
        "handshake underscored names",
        handshake(hub_mode="subscribe", hub_challenge="1", hub_verify_token=META_VERIFY_TOKEN),
        403,
        "handshake_failed",
        "hub.mode must be 'subscribe'",
    ),
    Case("handshake no parameters", handshake(), 403, "handshake_failed", "hub.mode must be 'subscribe'"),
    # --- X ---------------------------------------------------------------------------------------
    Case(
        "x CRC without token",
        lambda c: c.get("/webhooks/x"),
        400,
        MALFORMED,
        "crc_token query parameter is required",
    ),
    Case(
        "x CRC empty token",
        lambda c: c.get("/webhooks/x", query_string={"crc_token": ""}),
        400,
        MALFORMED,
        "crc_token query parameter is required",
    ),
    Case(
        "x text/plain",
        lambda c: post_x(c, X_MENTION, content_type="text/plain"),
        415,
        "unsupported_media_type",
        "expected Content-Type application/json, got text/plain",
    ),
    Case(
        "x 1 MiB + 1",
        lambda c: post_x(c, b" " * (MEBIBYTE + 1)),
        413,
        "payload_too_large",
        f"body is {MEBIBYTE + 1} bytes; the limit is {MEBIBYTE}",
    ),
    Case(
        "x no signature",
        lambda c: post_x(c, X_MENTION, headers={}),
        401,
        BAD_SIGNATURE,
        "missing x-twitter-webhooks-signature header",
    ),
    Case(
        "x Meta's hex signature",
        lambda c: post_x(
            c,
            X_MENTION,
            headers={
                "x-twitter-webhooks-signature": sign_meta(X_MENTION, X_CONSUMER_SECRET)["X-Hub-Signature-256"]
            },
        ),
        401,
        BAD_SIGNATURE,
        "x-twitter-webhooks-signature does not match the body",
    ),
    Case(
        "x wrong secret",
        lambda c: post_x(c, X_MENTION, secret="not-our-consumer-secret"),
        401,
        BAD_SIGNATURE,
        "x-twitter-webhooks-signature does not match the body",
    ),
    Case(
        "x tampered body",
        lambda c: post_x(c, X_MENTION + b"\n", headers=sign_x(X_MENTION, X_CONSUMER_SECRET)),
        401,
        BAD_SIGNATURE,
        "x-twitter-webhooks-signature does not match the body",
    ),
    Case(
        "x invalid JSON", lambda c: post_x(c, b"{'for_user_id': 1}"), 400, MALFORMED, "body is not valid JSON"
    ),
    Case(
        "x JSON array",
        lambda c: post_x(c, b'[{"for_user_id": "1"}]'),
        400,
        MALFORMED,
        "body must be a JSON object",
    ),
    Case("x 100-deep", lambda c: post_x(c, DEEP), 400, MALFORMED, "JSON nesting deeper than 64 levels"),
    Case(
        "x for_user_id missing",
        lambda c: post_x(c, x_with(["for_user_id"], ...)),
        400,
        MALFORMED,
        "for_user_id: required field is missing",
    ),
    Case(
        "x events not a list",
        lambda c: post_x(c, x_with(["tweet_create_events"], {"id_str": "1"})),
        400,
        MALFORMED,
        "tweet_create_events: expected a list",
    ),
    Case(
        "x id_str a number",
        lambda c: post_x(c, x_with(["tweet_create_events", 0, "id_str"], 1901570000000000001)),
        400,
        MALFORMED,
        "tweet_create_events[0].id_str: expected a string",
    ),
    Case(
        "x followers_count a string",
        lambda c: post_x(c, x_with(["tweet_create_events", 0, "user", "followers_count"], "48k")),
        400,
        MALFORMED,
        "tweet_create_events[0].user.followers_count: expected an integer",
    ),
    Case(
        "x followers_count true",
        lambda c: post_x(c, x_with(["tweet_create_events", 0, "user", "followers_count"], True)),
        400,
        MALFORMED,
        "tweet_create_events[0].user.followers_count: expected an integer",
    ),
    Case(
        "x timestamp_ms not digits",
        lambda c: post_x(c, x_with(["tweet_create_events", 0, "timestamp_ms"], "17422e9")),
        400,
        MALFORMED,
        "tweet_create_events[0].timestamp_ms: expected a string of digits",
    ),
    Case(
        "x timestamp_ms of 5000 digits",
        lambda c: post_x(c, x_with(["tweet_create_events", 0, "timestamp_ms"], "9" * 5000)),
        400,
        MALFORMED,
        "tweet_create_events[0].timestamp_ms: more than 20 digits",
    ),
    Case(
        "x created_at not a date",
        lambda c: post_x(
            c,
            compact(
                _replace(
                    _replace(
                        fixture_json("x", "tweet_create_events__mention"),
                        ["tweet_create_events", 0, "timestamp_ms"],
                        ...,
                    ),
                    ["tweet_create_events", 0, "created_at"],
                    "yesterday",
                )
            ),
        ),
        400,
        MALFORMED,
        "tweet_create_events[0].created_at: expected a date like 'Mon Mar 17 12:00:00 +0000 2025'",
    ),
    Case(
        "x DM without created_timestamp",
        lambda c: post_x(
            c,
            x_with(["direct_message_events", 0, "created_timestamp"], ..., "direct_message_events__message"),
        ),
        400,
        MALFORMED,
        "direct_message_events[0].created_timestamp: required field is missing",
    ),
    Case(
        "x DM user entry not an object",
        lambda c: post_x(c, x_with(["users", "3001969357"], "jordanb", "direct_message_events__message")),
        400,
        MALFORMED,
        "users.3001969357: expected an object",
    ),
    # --- generic -----------------------------------------------------------------------------------
    Case(
        "generic unknown source",
        lambda c: post_generic(c, GENERIC_COMMENT, source="nobody"),
        404,
        "not_found",
        "no generic source named 'nobody' is configured",
    ),
    Case(
        "generic text/plain",
        lambda c: post_generic(c, GENERIC_COMMENT, content_type="text/plain"),
        415,
        "unsupported_media_type",
        "expected Content-Type application/json, got text/plain",
    ),
    Case(
        "generic 1 MiB + 1",
        lambda c: post_generic(c, b" " * (MEBIBYTE + 1), headers={}),
        413,
        "payload_too_large",
        f"body is {MEBIBYTE + 1} bytes; the limit is {MEBIBYTE}",
    ),
    Case(
        "generic no headers",
        lambda c: post_generic(c, GENERIC_COMMENT, headers={}),
        401,
        BAD_SIGNATURE,
        "missing Standard Webhooks headers: webhook-id, webhook-timestamp, webhook-signature",
    ),
    Case(
        "generic stale timestamp",
        stale_generic,
        401,
        BAD_SIGNATURE,
        "webhook-timestamp is too old (more than 300 s in the past)",
    ),
    Case(
        "generic future timestamp",
        future_generic,
        401,
        BAD_SIGNATURE,
        "webhook-timestamp is too new (more than 300 s in the future)",
    ),
    Case(
        "generic wrong secret",
        lambda c: post_generic(c, GENERIC_COMMENT, secret="whsec_" + "QUJD" * 8),
        401,
        BAD_SIGNATURE,
        "no webhook-signature entry matches the body",
    ),
    Case(
        "generic tampered body",
        generic_signed_as(GENERIC_COMMENT.replace(b"un mes", b"un dia")),
        401,
        BAD_SIGNATURE,
        "no webhook-signature entry matches the body",
    ),
    Case(
        "generic invalid UTF-8",
        generic_raw_headers(NOT_UTF8),
        401,
        BAD_SIGNATURE,
        "body is not UTF-8, so it cannot match a Standard Webhooks signature",
    ),
    Case("generic invalid JSON", lambda c: post_generic(c, b"{"), 400, MALFORMED, "body is not valid JSON"),
    Case(
        "generic JSON array", lambda c: post_generic(c, b"[]"), 400, MALFORMED, "body must be a JSON object"
    ),
    Case(
        "generic 100-deep",
        lambda c: post_generic(c, DEEP),
        400,
        MALFORMED,
        "JSON nesting deeper than 64 levels",
    ),
    Case(
        "generic missing text",
        lambda c: post_generic(c, generic_with("text", ...)),
        400,
        MALFORMED,
        "(body): 'text' is a required property",
    ),
    Case(
        "generic unknown platform",
        lambda c: post_generic(c, generic_with("platform", "tiktok")),
        400,
        MALFORMED,
        "platform: expected one of facebook, instagram, messenger, x, generic",
    ),
    Case(
        "generic negative followers",
        lambda c: post_generic(c, generic_with("author", {"platform_user_id": "u", "followers_count": -5})),
        400,
        MALFORMED,
        "author.followers_count: -5 is less than the minimum of 0",
    ),
    Case(
        "generic bad date",
        lambda c: post_generic(c, generic_with("created_at", "17/03/2025")),
        400,
        MALFORMED,
        "created_at: '17/03/2025' is not an RFC 3339 date-time",
    ),
    Case(
        "generic extra field",
        lambda c: post_generic(c, generic_with("sentiment", "angry")),
        400,
        MALFORMED,
        "(body): Additional properties are not allowed ('sentiment' was unexpected)",
    ),
]


def test_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_refused_and_nothing_is_stored(client: FlaskClient, store: Store, case: Case) -> None:
    before = raw_event_count(store)
    response = case.send(client)
    assert response.status_code == case.status, response.get_data()
    body = response.get_json()
    assert body["error"] == case.error
    assert body["message"].startswith(case.message), body["message"]
    assert raw_event_count(store) == before
    assert interaction_rows(store) == []
