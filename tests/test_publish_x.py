"""Replies on X through the X API v2 emulator, end to end (OAuth 2.0 and OAuth 1.0a)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from connector.model import utcnow
from connector.replies import x_weighted_length
from tests.conftest import X_CONSUMER_SECRET
from tests.emulators.tls import make_tls
from tests.emulators.x_api import XApiEmulator
from tests.publish_support import Loop, make_loop

BRAND = "2244994945"
CUSTOMER = "987654321"
TWEET = "1901612345678901234"
TOKEN = "x-user-token"


@pytest.fixture
def xapi() -> Iterator[XApiEmulator]:
    with XApiEmulator(brand_user_id=BRAND, brand_username="AcmeSupport") as emulator:
        emulator.add_user(CUSTOMER, "janedoe", "Jane Doe", followers_count=5321)
        emulator.add_user_token(TOKEN)
        yield emulator


def _x_settings(emulator: XApiEmulator, **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"api_base_url": emulator.base_url, "access_token": TOKEN, "max_retries": 2}
    if emulator.ca_path:
        settings["ca_bundle"] = emulator.ca_path
    settings.update(extra)
    return settings


def _mention(text: str, tweet_id: str = TWEET, at: datetime | None = None) -> dict[str, Any]:
    created = at or utcnow()
    return {
        "for_user_id": BRAND,
        "user_has_blocked": "false",
        "tweet_create_events": [
            {
                "created_at": format_datetime(created.astimezone(UTC)).replace("-0000", "+0000"),
                "id_str": tweet_id,
                "text": text,
                "truncated": False,
                "in_reply_to_status_id_str": None,
                "user": {
                    "id_str": CUSTOMER,
                    "name": "Jane Doe",
                    "screen_name": "janedoe",
                    "followers_count": 5321,
                    "verified": False,
                },
                "entities": {
                    "hashtags": [],
                    "urls": [],
                    "user_mentions": [{"screen_name": "AcmeSupport", "id_str": BRAND, "indices": [0, 12]}],
                },
                "lang": "en",
                "timestamp_ms": str(int(created.timestamp() * 1000)),
            }
        ],
    }


def _dm(text: str, event_id: str = "954491830116155396") -> dict[str, Any]:
    return {
        "for_user_id": BRAND,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": event_id,
                "created_timestamp": str(int(utcnow().timestamp() * 1000)),
                "message_create": {
                    "target": {"recipient_id": BRAND},
                    "sender_id": CUSTOMER,
                    "message_data": {
                        "text": text,
                        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
                    },
                },
            }
        ],
        "users": {
            CUSTOMER: {"id": CUSTOMER, "name": "Jane Doe", "screen_name": "janedoe", "followers_count": 5321},
            BRAND: {"id": BRAND, "name": "Acme Support", "screen_name": "AcmeSupport"},
        },
    }


def _ticket_for_mention(loop: Loop, emulator: XApiEmulator, text: str) -> None:
    emulator.add_tweet(TWEET, CUSTOMER, text, utcnow() - timedelta(minutes=1))
    loop.x(_mention(text))
    loop.run()
    assert len(loop.tickets()) == 1


def test_a_resolved_mention_gets_one_reply_tweet(tmp_path: Path, xapi: XApiEmulator) -> None:
    loop = make_loop(tmp_path, x=_x_settings(xapi))
    _ticket_for_mention(loop, xapi, "@AcmeSupport my package never arrived, order 5512")
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "posted" and reply.channel == "public"
    (request,) = xapi.requests_to("/2/tweets", method="POST")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.body == {"text": reply.text, "reply": {"in_reply_to_tweet_id": TWEET}}
    (created,) = xapi.created_tweets()
    assert created["in_reply_to_tweet_id"] == TWEET and reply.platform_reply_id == created["id"]
    assert x_weighted_length(reply.text) <= 280


def test_oauth_1a_user_context_over_https(tmp_path: Path) -> None:
    with XApiEmulator(tls=make_tls(tmp_path), brand_user_id=BRAND, brand_username="AcmeSupport") as emulator:
        emulator.add_user(CUSTOMER, "janedoe", "Jane Doe", followers_count=5321)
        # The consumer secret is the one that signs webhooks (platforms.x.consumer_secret).
        emulator.add_oauth1("ck-123", X_CONSUMER_SECRET, "at-456", "ats-secret")
        settings = _x_settings(
            emulator, access_token="at-456", access_token_secret="ats-secret", consumer_key="ck-123"
        )
        loop = make_loop(tmp_path, x=settings)
        _ticket_for_mention(loop, emulator, "@AcmeSupport the app crashes on login")
        loop.resolve_all()
        (reply,) = loop.replies()
        assert reply.state == "posted", reply.detail
        (request,) = emulator.requests_to("/2/tweets", method="POST")
        assert request.headers["authorization"].startswith("OAuth ")


def test_a_dm_is_answered_in_the_conversation(tmp_path: Path, xapi: XApiEmulator) -> None:
    loop = make_loop(tmp_path, x=_x_settings(xapi))
    loop.x(_dm("Hello, my refund has not arrived"))
    loop.run()
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "posted" and reply.channel == "private"
    (request,) = xapi.requests_to(f"/2/dm_conversations/with/{CUSTOMER}/messages", method="POST")
    assert request.body == {"text": reply.text}
    assert reply.platform_reply_id == xapi.sent_dms()[0]["dm_event_id"]


@pytest.mark.parametrize("kind", ["tweet", "dm"])
def test_a_crash_between_posting_and_recording_does_not_double_post(
    tmp_path: Path, xapi: XApiEmulator, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    loop = make_loop(tmp_path, x=_x_settings(xapi))
    if kind == "tweet":
        _ticket_for_mention(loop, xapi, "@AcmeSupport charged twice for one order")
    else:
        loop.x(_dm("Charged twice for one order"))
        loop.run()

    loop.resolve_all_crashing_after_posting(monkeypatch)
    loop.make_jobs_due()
    loop.run()
    (reply,) = loop.replies()
    sent = xapi.created_tweets() if kind == "tweet" else xapi.sent_dms()
    assert reply.state == "posted" and len(sent) == 1
    assert reply.platform_reply_id == (sent[0]["id"] if kind == "tweet" else sent[0]["dm_event_id"])


def test_a_rate_limit_waits_for_x_rate_limit_reset(tmp_path: Path, xapi: XApiEmulator) -> None:
    loop = make_loop(tmp_path, x=_x_settings(xapi))
    _ticket_for_mention(loop, xapi, "@AcmeSupport nobody answers the phone")
    xapi.set_limit("POST /2/tweets", 0, window_s=600)
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "intent" and xapi.created_tweets() == []
    (request,) = xapi.requests_to("/2/tweets", method="POST")
    assert request.status == 429
    (retry_at,) = loop.pending_retry_at()  # x-rate-limit-reset, not the (tiny) test backoff
    assert timedelta(minutes=9) < retry_at - utcnow() <= timedelta(minutes=10, seconds=2)
    loop.run()  # not due yet
    assert len(xapi.requests_to("/2/tweets", method="POST")) == 1


def test_a_long_agent_reply_is_shortened_to_280_weighted(tmp_path: Path, xapi: XApiEmulator) -> None:
    loop = make_loop(tmp_path, x=_x_settings(xapi))
    _ticket_for_mention(loop, xapi, "@AcmeSupport the charger melted 🔥")
    agent = "We are so sorry 🙏 " * 30 + "see https://acme.example/help"
    loop.resolve_all(reply=agent)
    (reply,) = loop.replies()
    assert reply.state == "posted" and x_weighted_length(reply.text) <= 280 and reply.text.endswith("…")


def test_without_a_token_the_reply_fails_clearly_and_flags_the_ticket(
    tmp_path: Path, xapi: XApiEmulator
) -> None:
    loop = make_loop(tmp_path, x={"api_base_url": xapi.base_url})
    _ticket_for_mention(loop, xapi, "@AcmeSupport where is my order?")
    loop.resolve_all()
    (reply,) = loop.replies()
    assert reply.state == "failed" and "access_token is not set" in (reply.detail or "")
    assert xapi.requests_to("/2/tweets") == []
    assert "access_token" in loop.tickets()[0]["reply_flag"]
