"""Self-test of the X API v2 emulator over real HTTP(S) with plain ``requests`` and ``requests_oauthlib``.

The emulator is only useful if it refuses what X refuses: these tests pin its wire formats (problem
bodies, rate-limit headers, paging) and that OAuth 1.0a signatures are really checked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1

from tests.emulators.tls import make_tls
from tests.emulators.x_api import XApiEmulator
from tests.emulators.x_api_errors import (
    APP_ONLY_DETAIL,
    DUPLICATE_DETAIL,
    REPLY_TARGET_DETAIL,
    TOO_LONG_DETAIL,
)
from tests.emulators.x_api_text import weighted_length

BRAND = "2244994945"
JANE = "987654321"
BOB = "1122334455"
USER_TOKEN = "oauth2-user-token"
JANE_TOKEN = "oauth2-jane-token"
APP_TOKEN = "app-only-bearer"
CK, CS, AT, ATS = "consumer-key", "consumer-secret", "2244994945-access", "access-secret"
T0 = datetime(2025, 3, 17, 12, 0, tzinfo=UTC)
MENTION_ID = "1901612345678901234"
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False  # no proxies or CA bundles from the environment for 127.0.0.1
    yield session
    session.close()


def _seed(x: XApiEmulator) -> None:
    x.add_user(JANE, "janedoe", "Jane Doe", followers_count=5321)
    x.add_user(BOB, "bobsmith", "Bob Smith", followers_count=12, verified=True)
    x.add_user_token(USER_TOKEN)
    x.add_user_token(JANE_TOKEN, JANE)
    x.add_app_token(APP_TOKEN)
    x.add_oauth1(CK, CS, AT, ATS)
    x.add_tweet(MENTION_ID, JANE, "@AcmeSupport my package never arrived, order 5512", T0)


@pytest.fixture
def x() -> Iterator[XApiEmulator]:
    with XApiEmulator() as emulator:
        _seed(emulator)
        yield emulator


def bearer(token: str = USER_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_tweet(
    http: requests.Session, x: XApiEmulator, text: str, reply_to: str | None = None, token: str = USER_TOKEN
) -> requests.Response:
    body: dict[str, Any] = {"text": text}
    if reply_to:
        body["reply"] = {"in_reply_to_tweet_id": reply_to}
    return http.post(f"{x.base_url}/2/tweets", json=body, headers=bearer(token), timeout=5)


def forbidden(detail: str) -> dict[str, Any]:
    return {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403}


# -- replies -----------------------------------------------------------------------------------------


def test_reply_is_created_threaded_and_visible(http: requests.Session, x: XApiEmulator) -> None:
    resp = post_tweet(http, x, "@janedoe Sorry about that! We've opened case 00001026.", MENTION_ID)
    assert resp.status_code == 201
    data = resp.json()["data"]
    assert set(data) == {"id", "text", "edit_history_tweet_ids"}
    assert data["edit_history_tweet_ids"] == [data["id"]]
    assert len(data["id"]) == 19 and int(data["id"]) > int(MENTION_ID)
    assert resp.headers["x-rate-limit-limit"] == "100"
    assert resp.headers["x-rate-limit-remaining"] == "99"
    assert x.created_tweets() == [
        {"id": data["id"], "text": data["text"], "author_id": BRAND, "in_reply_to_tweet_id": MENTION_ID}
    ]

    # A reply to the reply stays in the root's conversation.
    second = post_tweet(http, x, "@janedoe Update: it ships today.", data["id"])
    assert second.status_code == 201
    looked_up = http.get(
        f"{x.base_url}/2/tweets/{second.json()['data']['id']}",
        params={
            "tweet.fields": "author_id,conversation_id,in_reply_to_user_id,referenced_tweets,created_at",
            "expansions": "referenced_tweets.id,in_reply_to_user_id",
        },
        headers=bearer(),
        timeout=5,
    ).json()
    tweet = looked_up["data"]
    assert tweet["conversation_id"] == MENTION_ID
    assert tweet["author_id"] == BRAND
    assert tweet["in_reply_to_user_id"] == BRAND
    assert tweet["referenced_tweets"] == [{"type": "replied_to", "id": data["id"]}]
    assert tweet["created_at"].endswith("Z")
    assert [t["id"] for t in looked_up["includes"]["tweets"]] == [data["id"]]
    assert [u["username"] for u in looked_up["includes"]["users"]] == ["AcmeSupport"]

    # The brand's replies mention Jane, so they show in her mentions timeline.
    jane = http.get(f"{x.base_url}/2/users/{JANE}/mentions", headers=bearer(), timeout=5).json()
    assert [t["id"] for t in jane["data"]] == [second.json()["data"]["id"], data["id"]]


def test_duplicate_reply_is_refused(http: requests.Session, x: XApiEmulator) -> None:
    assert post_tweet(http, x, "@janedoe We are on it.", MENTION_ID).status_code == 201
    again = post_tweet(http, x, "@janedoe We are on it.", MENTION_ID)
    assert again.status_code == 403
    assert again.json() == forbidden(DUPLICATE_DETAIL)
    assert "x-rate-limit-remaining" in again.headers
    # Another user may post the same text; after 24 h the brand may too.
    assert post_tweet(http, x, "@janedoe We are on it.", token=JANE_TOKEN).status_code == 201
    x.clock = lambda: datetime.now(UTC) + timedelta(hours=25)
    assert post_tweet(http, x, "@janedoe We are on it.", MENTION_ID).status_code == 201
    assert len(x.created_tweets()) == 3


def test_length_is_weighted_like_twitter_text(http: requests.Session, x: XApiEmulator) -> None:
    url = "https://example.com/orders/5512/tracking?carrier=acme&lang=es"
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one ZWJ emoji: 5 code points, weight 2
    text = "x" * 250 + " " + url + " " + family
    assert len(text) > 280 and weighted_length(text) == 277
    assert post_tweet(http, x, text).status_code == 201

    too_long = text + "\u4e2d\u4e2d"  # two CJK characters weigh 2 each: 281
    resp = post_tweet(http, x, too_long)
    assert resp.status_code == 403
    assert resp.json() == forbidden(TOO_LONG_DETAIL)

    cjk = "\u4e2d" * 141  # 141 characters, weight 282
    assert post_tweet(http, x, cjk).json() == forbidden(TOO_LONG_DETAIL)
    assert post_tweet(http, x, "\u00e9" * 280).status_code == 201  # Latin-1 weighs 1


def test_reply_to_deleted_or_unknown_tweet_is_refused(http: requests.Session, x: XApiEmulator) -> None:
    x.delete_tweet(MENTION_ID)
    resp = post_tweet(http, x, "@janedoe hello", MENTION_ID)
    assert resp.status_code == 403
    assert resp.json() == forbidden(REPLY_TARGET_DETAIL)
    assert post_tweet(http, x, "@janedoe hello", "1901612345678901299").json() == forbidden(
        REPLY_TARGET_DETAIL
    )
    lookup = http.get(f"{x.base_url}/2/tweets/{MENTION_ID}", headers=bearer(), timeout=5)
    assert lookup.status_code == 200
    assert lookup.json() == {
        "errors": [
            {
                "value": MENTION_ID,
                "detail": f"Could not find tweet with id: [{MENTION_ID}].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "id",
                "resource_id": MENTION_ID,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }
    assert x.created_tweets() == []


def test_post_body_validation(http: requests.Session, x: XApiEmulator) -> None:
    missing = http.post(f"{x.base_url}/2/tweets", json={}, headers=bearer(), timeout=5)
    assert missing.status_code == 400
    assert missing.json()["title"] == "Invalid Request"
    assert missing.json()["type"] == "https://api.twitter.com/2/problems/invalid-request"
    form = http.post(f"{x.base_url}/2/tweets", data={"text": "hi"}, headers=bearer(), timeout=5)
    assert form.status_code == 400
    assert form.json()["errors"] == [
        {"message": "Requests with bodies must have content-type of application/json."}
    ]


# -- direct messages ---------------------------------------------------------------------------------


def test_dm_create_and_listing(http: requests.Session, x: XApiEmulator) -> None:
    x.add_dm("1580705921830768000", JANE, BRAND, "Hi, where is my order?", T0)
    x.add_dm("1580705921830768001", BOB, BRAND, "Unrelated conversation", T0)
    resp = http.post(
        f"{x.base_url}/2/dm_conversations/with/{JANE}/messages",
        json={"text": "Hi Jane, can you send us your order number?"},
        headers=bearer(),
        timeout=5,
    )
    assert resp.status_code == 201
    data = resp.json()["data"]
    assert data["dm_conversation_id"] == f"{JANE}-{BRAND}"  # numeric order: lower id first
    assert len(data["dm_event_id"]) == 19
    assert resp.headers["x-rate-limit-limit"] == "200"
    assert x.sent_dms() == [
        {
            "dm_event_id": data["dm_event_id"],
            "dm_conversation_id": f"{JANE}-{BRAND}",
            "participant_id": JANE,
            "text": "Hi Jane, can you send us your order number?",
            "sender_id": BRAND,
        }
    ]

    listing = http.get(
        f"{x.base_url}/2/dm_conversations/with/{JANE}/dm_events",
        params={"dm_event.fields": "id,text,sender_id,created_at,dm_conversation_id", "max_results": "1"},
        headers=bearer(),
        timeout=5,
    ).json()
    assert listing["data"] == [
        {
            "id": data["dm_event_id"],
            "event_type": "MessageCreate",
            "text": "Hi Jane, can you send us your order number?",
            "sender_id": BRAND,
            "created_at": listing["data"][0]["created_at"],
            "dm_conversation_id": f"{JANE}-{BRAND}",
        }
    ]
    assert listing["meta"]["result_count"] == 1
    page2 = http.get(
        f"{x.base_url}/2/dm_conversations/with/{JANE}/dm_events",
        params={"pagination_token": listing["meta"]["next_token"]},
        headers=bearer(),
        timeout=5,
    ).json()
    # Default fields only: id, event_type, text.
    assert page2 == {
        "data": [
            {"id": "1580705921830768000", "event_type": "MessageCreate", "text": "Hi, where is my order?"}
        ],
        "meta": {"result_count": 1},
    }

    # Jane sees the same conversation from her side.
    hers = http.get(
        f"{x.base_url}/2/dm_conversations/with/{BRAND}/dm_events", headers=bearer(JANE_TOKEN), timeout=5
    )
    assert hers.json()["meta"]["result_count"] == 2


def test_dm_errors(http: requests.Session, x: XApiEmulator) -> None:
    unknown = http.post(
        f"{x.base_url}/2/dm_conversations/with/5555/messages",
        json={"text": "hi"},
        headers=bearer(),
        timeout=5,
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["parameters"] == {"participant_id": ["5555"]}
    assert unknown.json()["detail"] == "One or more parameters to your request was invalid."
    no_text = http.post(
        f"{x.base_url}/2/dm_conversations/with/{JANE}/messages", json={}, headers=bearer(), timeout=5
    )
    assert no_text.status_code == 400
    assert x.sent_dms() == []


# -- mentions ----------------------------------------------------------------------------------------


def _seed_mentions(x: XApiEmulator, count: int) -> list[str]:
    """``count`` mentions one minute apart after T0 (ids increasing), newest first."""
    ids = []
    for i in range(count):
        tweet_id = str(int(MENTION_ID) + 1000 * (i + 1))
        author = JANE if i % 2 == 0 else BOB
        x.add_tweet(tweet_id, author, f"@acmesupport question {i}", T0 + timedelta(minutes=i + 1))
        ids.append(tweet_id)
    x.add_tweet("1901612345678999999", JANE, "no mention here", T0 + timedelta(hours=2))
    return [*reversed(ids), MENTION_ID]


def mentions(http: requests.Session, x: XApiEmulator, **params: str) -> requests.Response:
    return http.get(f"{x.base_url}/2/users/{BRAND}/mentions", params=params, headers=bearer(), timeout=5)


def test_mentions_paginate_over_three_pages(http: requests.Session, x: XApiEmulator) -> None:
    expected = _seed_mentions(x, 11)  # 12 mentions with the fixture's: pages of 5, 5, 2
    x.add_tweet("1901612345679000001", JANE, "@AcmeSupport deleted one", T0 + timedelta(hours=3))
    x.delete_tweet("1901612345679000001")
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params = {"max_results": "5", **({"pagination_token": token} if token else {})}
        body = mentions(http, x, **params).json()
        pages += 1
        ids = [t["id"] for t in body["data"]]
        assert body["meta"]["result_count"] == len(ids)
        assert body["meta"]["newest_id"] == ids[0] and body["meta"]["oldest_id"] == ids[-1]
        assert all(set(t) == {"id", "text", "edit_history_tweet_ids"} for t in body["data"])
        seen += ids
        token = body["meta"].get("next_token")
        if token is None:
            break
    assert pages == 3
    assert seen == expected


def test_mentions_since_id_and_start_time(http: requests.Session, x: XApiEmulator) -> None:
    expected = _seed_mentions(x, 6)
    newer = mentions(http, x, since_id=expected[3]).json()
    assert [t["id"] for t in newer["data"]] == expected[:3]
    assert mentions(http, x, since_id=expected[0]).json() == {"meta": {"result_count": 0}}
    # start_time is inclusive: the mention at T0+4min and the two after it.
    recent = mentions(http, x, start_time="2025-03-17T12:04:00Z").json()
    assert [t["id"] for t in recent["data"]] == expected[:3]
    window = mentions(http, x, start_time="2025-03-17T12:02:00Z", end_time="2025-03-17T12:03:00Z").json()
    assert [t["id"] for t in window["data"]] == expected[3:5]
    until = mentions(http, x, until_id=expected[4]).json()
    assert [t["id"] for t in until["data"]] == expected[5:]


def test_mentions_fields_and_expansions(http: requests.Session, x: XApiEmulator) -> None:
    body = mentions(
        http,
        x,
        **{
            "tweet.fields": "created_at,author_id,conversation_id,lang,entities,public_metrics",
            "expansions": "author_id",
            "user.fields": "public_metrics,verified,protected",
        },
    ).json()
    tweet = body["data"][0]
    assert tweet["author_id"] == JANE
    assert tweet["created_at"] == "2025-03-17T12:00:00.000Z"
    assert tweet["conversation_id"] == MENTION_ID
    assert tweet["lang"] == "en"
    assert tweet["entities"]["mentions"] == [{"start": 0, "end": 12, "username": "AcmeSupport", "id": BRAND}]
    assert tweet["public_metrics"]["reply_count"] == 0
    assert body["includes"]["users"] == [
        {
            "id": JANE,
            "name": "Jane Doe",
            "username": "janedoe",
            "public_metrics": {
                "followers_count": 5321,
                "following_count": 0,
                "tweet_count": 1,
                "listed_count": 0,
            },
            "verified": False,
            "protected": False,
        }
    ]


def test_mentions_parameter_validation(http: requests.Session, x: XApiEmulator) -> None:
    resp = mentions(http, x, max_results="4")
    assert resp.status_code == 400
    assert resp.json() == {
        "errors": [
            {
                "parameters": {"max_results": ["4"]},
                "message": "The `max_results` query parameter value [4] is not between 5 and 100",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    assert "x-rate-limit-remaining" in resp.headers
    assert mentions(http, x, max_results="101").status_code == 400
    bad = mentions(http, x, **{"tweet.fields": "nonsense", "foo": "1", "start_time": "yesterday"}).json()
    assert {next(iter(e["parameters"])) for e in bad["errors"]} == {"tweet.fields", "foo", "start_time"}


# -- users -------------------------------------------------------------------------------------------


def test_user_lookups(http: requests.Session, x: XApiEmulator) -> None:
    by_id = http.get(
        f"{x.base_url}/2/users/{BOB}",
        params={"user.fields": "public_metrics,verified"},
        headers=bearer(),
        timeout=5,
    ).json()
    assert by_id["data"]["verified"] is True
    assert by_id["data"]["public_metrics"]["followers_count"] == 12
    by_name = http.get(
        f"{x.base_url}/2/users/by/username/JaneDoe", headers=bearer(APP_TOKEN), timeout=5
    ).json()
    assert by_name == {"data": {"id": JANE, "name": "Jane Doe", "username": "janedoe"}}
    missing = http.get(f"{x.base_url}/2/users/424242", headers=bearer(), timeout=5)
    assert missing.status_code == 200
    assert missing.json() == {
        "errors": [
            {
                "value": "424242",
                "detail": "Could not find user with id: [424242].",
                "title": "Not Found Error",
                "resource_type": "user",
                "parameter": "id",
                "resource_id": "424242",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
        ]
    }
    me = http.get(f"{x.base_url}/2/users/me", headers=bearer(JANE_TOKEN), timeout=5).json()
    assert me["data"]["id"] == JANE


def test_user_timeline(http: requests.Session, x: XApiEmulator) -> None:
    reply = post_tweet(http, x, "@janedoe on it", MENTION_ID).json()["data"]["id"]
    own = post_tweet(http, x, "Service update: all good").json()["data"]["id"]
    body = http.get(
        f"{x.base_url}/2/users/{BRAND}/tweets",
        params={"tweet.fields": "referenced_tweets,in_reply_to_user_id"},
        headers=bearer(),
        timeout=5,
    ).json()
    assert [t["id"] for t in body["data"]] == [own, reply]
    assert body["data"][1]["referenced_tweets"] == [{"type": "replied_to", "id": MENTION_ID}]
    assert body["data"][1]["in_reply_to_user_id"] == JANE
    assert "referenced_tweets" not in body["data"][0]
    since = http.get(
        f"{x.base_url}/2/users/{BRAND}/tweets", params={"since_id": reply}, headers=bearer(), timeout=5
    )
    assert [t["id"] for t in since.json()["data"]] == [own]


# -- authentication ----------------------------------------------------------------------------------


def test_oauth1_good_signature(http: requests.Session, x: XApiEmulator) -> None:
    auth = OAuth1(CK, CS, AT, ATS)
    resp = http.post(
        f"{x.base_url}/2/tweets",
        json={"text": "@janedoe signed reply", "reply": {"in_reply_to_tweet_id": MENTION_ID}},
        auth=auth,
        timeout=5,
    )
    assert resp.status_code == 201, resp.text
    assert x.created_tweets()[0]["author_id"] == BRAND
    # Query parameters are part of the signature base string.
    listed = http.get(
        f"{x.base_url}/2/users/{BRAND}/mentions",
        params={"max_results": "5", "tweet.fields": "created_at,author_id"},
        auth=auth,
        timeout=5,
    )
    assert listed.status_code == 200, listed.text
    assert listed.headers["x-rate-limit-limit"] == "180"
    assert x.requests_to("/mentions", "GET")[0].headers["authorization"].startswith("OAuth ")


def test_oauth1_bad_signature_replay_and_stale_timestamp(http: requests.Session, x: XApiEmulator) -> None:
    url = f"{x.base_url}/2/users/{BRAND}/mentions"
    wrong_secret = http.get(url, auth=OAuth1(CK, "not-the-secret", AT, ATS), timeout=5)
    assert wrong_secret.status_code == 401
    assert wrong_secret.json() == UNAUTHORIZED
    assert "x-rate-limit-limit" not in wrong_secret.headers

    # Signed for one query, sent with another.
    prepared = requests.Request(
        "GET", url, params={"max_results": "5"}, auth=OAuth1(CK, CS, AT, ATS)
    ).prepare()
    prepared.url = f"{url}?max_results=6"
    assert http.send(prepared, timeout=5).status_code == 401

    fixed = OAuth1(CK, CS, AT, ATS, nonce="fixednonce0123456789", timestamp=str(int(time.time())))
    assert http.get(url, auth=fixed, timeout=5).status_code == 200
    assert http.get(url, auth=fixed, timeout=5).status_code == 401  # nonce reused

    stale = OAuth1(CK, CS, AT, ATS, timestamp=str(int(time.time()) - 3600))
    assert http.get(url, auth=stale, timeout=5).status_code == 401
    unknown = http.get(url, auth=OAuth1("other-key", CS, AT, ATS), timeout=5)
    assert unknown.status_code == 401


def test_missing_auth_and_app_only(http: requests.Session, x: XApiEmulator) -> None:
    none = http.get(f"{x.base_url}/2/users/{BRAND}/mentions", timeout=5)
    assert none.status_code == 401 and none.json() == UNAUTHORIZED
    assert http.get(f"{x.base_url}/2/users/{BRAND}", headers=bearer("nope"), timeout=5).status_code == 401

    app_mentions = http.get(f"{x.base_url}/2/users/{BRAND}/mentions", headers=bearer(APP_TOKEN), timeout=5)
    assert app_mentions.status_code == 200
    expected = {
        "title": "Unsupported Authentication",
        "detail": APP_ONLY_DETAIL,
        "type": "https://api.twitter.com/2/problems/unsupported-authentication",
        "status": 403,
    }
    app_post = post_tweet(http, x, "hello", token=APP_TOKEN)
    assert app_post.status_code == 403 and app_post.json() == expected
    app_dms = http.get(f"{x.base_url}/2/dm_events", headers=bearer(APP_TOKEN), timeout=5)
    assert app_dms.status_code == 403 and app_dms.json() == expected
    assert x.created_tweets() == []


# -- rate limits and faults --------------------------------------------------------------------------


def test_rate_limit_headers_and_429(http: requests.Session, x: XApiEmulator) -> None:
    now = [datetime.now(UTC)]
    x.clock = lambda: now[0]
    x.set_limit("GET /2/users/:id/mentions", 2)
    first, second, third = (mentions(http, x) for _ in range(3))
    assert [r.status_code for r in (first, second, third)] == [200, 200, 429]
    assert [r.headers["x-rate-limit-limit"] for r in (first, second, third)] == ["2", "2", "2"]
    assert [r.headers["x-rate-limit-remaining"] for r in (first, second, third)] == ["1", "0", "0"]
    reset = int(third.headers["x-rate-limit-reset"])
    assert 0 < reset - now[0].timestamp() <= 901
    assert third.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    assert "retry-after" not in third.headers
    # Limits are per user: Jane still has her own window.
    jane = http.get(f"{x.base_url}/2/users/{BRAND}/mentions", headers=bearer(JANE_TOKEN), timeout=5)
    assert jane.status_code == 200 and jane.headers["x-rate-limit-remaining"] == "1"
    # Other endpoints are counted separately.
    assert http.get(f"{x.base_url}/2/users/{BRAND}", headers=bearer(), timeout=5).status_code == 200
    # A new window opens once the reset time has passed.
    now[0] = datetime.fromtimestamp(reset, UTC)
    after = mentions(http, x)
    assert after.status_code == 200 and after.headers["x-rate-limit-remaining"] == "1"
    with pytest.raises(KeyError):
        x.set_limit("GET /2/nothing", 1)


def test_fail_next_and_drop_connection(http: requests.Session, x: XApiEmulator) -> None:
    x.fail_next(1, 503, path_contains="/mentions")
    assert http.get(f"{x.base_url}/2/users/{BRAND}", headers=bearer(), timeout=5).status_code == 200
    failed = mentions(http, x)
    assert failed.status_code == 503
    assert failed.json() == {
        "title": "Service Unavailable",
        "detail": "Service Unavailable",
        "type": "about:blank",
        "status": 503,
    }
    assert mentions(http, x).status_code == 200

    x.fail_next(1, 429)
    limited = mentions(http, x)
    assert limited.status_code == 429 and limited.headers["x-rate-limit-remaining"] == "0"
    x.fail_next(1, 500, body={"custom": True})
    assert mentions(http, x).json() == {"custom": True}

    x.drop_connection_next(1, path_contains="/2/tweets")
    with pytest.raises(requests.ConnectionError):
        post_tweet(http, x, "@janedoe dropped", MENTION_ID)
    assert x.created_tweets() == []
    assert post_tweet(http, x, "@janedoe dropped", MENTION_ID).status_code == 201
    assert [r.status for r in x.requests_to("/2/tweets", "POST")] == [0, 201]
    x.reset_log()
    assert x.request_log == []


def test_unknown_route_is_404(http: requests.Session, x: XApiEmulator) -> None:
    resp = http.get(f"{x.base_url}/1.1/statuses/update.json", headers=bearer(), timeout=5)
    assert resp.status_code == 404


# -- HTTPS -------------------------------------------------------------------------------------------


def test_https_with_bearer_and_oauth1(http: requests.Session, tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    with XApiEmulator(tls=tls) as x:
        _seed(x)
        assert x.base_url.startswith("https://127.0.0.1:")
        resp = http.get(
            f"{x.base_url}/2/users/by/username/AcmeSupport", headers=bearer(), verify=tls.ca_path, timeout=5
        )
        assert resp.json()["data"]["id"] == BRAND
        signed = http.post(
            f"{x.base_url}/2/tweets",
            json={"text": "@janedoe over TLS", "reply": {"in_reply_to_tweet_id": MENTION_ID}},
            auth=OAuth1(CK, CS, AT, ATS),
            verify=tls.ca_path,
            timeout=5,
        )
        assert signed.status_code == 201, signed.text
        with pytest.raises(requests.exceptions.SSLError):
            http.get(f"{x.base_url}/2/users/me", headers=bearer(), verify=True, timeout=5)
