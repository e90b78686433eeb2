"""X: one expectation per fixture, the CRC check, and signed deliveries through the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector.config import config_from_dict
from connector.model import utcnow
from connector.store import Store
from tests.conftest import X_BRAND_IDS, X_CONSUMER_SECRET, base_config
from tests.signing import (
    audit_actions,
    compact,
    fixture_bytes,
    fixture_json,
    fixture_names,
    interaction_rows,
    outbox_refs,
    post_x,
    raw_event_rows,
    summarize_batch,
)
from webhooks import create_app
from webhooks.errors import MalformedPayloadError
from webhooks.x_parse import IGNORED_EVENTS, parse_x

ACME = "2244994945"
ACME_DM = "4337869213"


def x_user(user_id: str, handle: str, name: str, followers: int, verified: bool = False) -> dict[str, Any]:
    user: dict[str, Any] = {
        "platform": "x",
        "platform_user_id": user_id,
        "handle": handle,
        "display_name": name,
        "followers_count": followers,
        "profile_url": f"https://x.com/{handle}",
    }
    if verified:
        user["verified"] = True
    return user


CARMEN = x_user("1122334455", "carmenvidal", "Carmen Vidal", 48210, verified=True)
ACME_USER = x_user(ACME, "AcmeSupport", "Acme Support", 120453, verified=True)
JORDAN = x_user("3001969357", "jordanb", "Jordan B", 22)


def tweet(
    tweet_id: str,
    kind: str,
    root: str,
    author: dict[str, Any],
    text: str,
    created_at: str,
    language: str,
    parent: str | None = None,
    from_brand: bool = False,
) -> dict[str, Any]:
    expected = {
        "platform": "x",
        "kind": kind,
        "external_id": tweet_id,
        "thread_key": f"x:{ACME}:{root}",
        "brand_account_id": ACME,
        "author": author,
        "text": text,
        "created_at": created_at,
        "from_brand": from_brand,
        "language": language,
        "permalink": f"https://x.com/{author['handle']}/status/{tweet_id}",
    }
    if parent is not None:
        expected["parent_external_id"] = parent
    return expected


def direct_message(
    message_id: str, author: dict[str, Any], text: str, created_at: str, from_brand: bool
) -> dict[str, Any]:
    return {
        "platform": "x",
        "kind": "direct_message",
        "external_id": message_id,
        # Keyed by the customer, whoever sent the message.
        "thread_key": f"x:{ACME_DM}:{JORDAN['platform_user_id']}",
        "brand_account_id": ACME_DM,
        "author": author,
        "text": text,
        "created_at": created_at,
        "from_brand": from_brand,
    }


def batch(
    interactions: list[dict[str, Any]] | None = None,
    removals: list[tuple[str, str, str]] | None = None,
    ignored: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "interactions": interactions or [],
        "edits": [],
        "removals": removals or [],
        "ignored": ignored or [],
    }


EXPECTED: dict[str, dict[str, Any]] = {
    # Top-level @mention: the tweet is its own thread root.
    "tweet_create_events__mention": batch(
        [
            tweet(
                "1901570000000000001",
                "mention",
                "1901570000000000001",
                CARMEN,
                "@AcmeSupport mi paquete lleva 10 días en reparto y nadie me responde. Pedido 7731",
                "2025-03-17T09:30:00+00:00",
                "es",
            )
        ]
    ),
    # protocols.md B.3's payload: a reply, keyed by the tweet it replies to.
    "tweet_create_events__reply": batch(
        [
            tweet(
                "1901612345678901234",
                "mention",
                "1901600000000000000",
                x_user("987654321", "janedoe", "Jane Doe", 5321),
                "@AcmeSupport my package never arrived, order 5512",
                "2025-03-17T12:00:00+00:00",
                "en",
                parent="1901600000000000000",
            )
        ]
    ),
    # Truncated tweet: the whole text, and the @mention past 140 characters, are in extended_tweet.
    "tweet_create_events__extended": batch(
        [
            tweet(
                "1901900000000000077",
                "mention",
                "1901900000000000077",
                x_user("3344556677", "luisortega_", "Luis Ortega", 312),
                "Tercera vez que llamo al servicio técnico por la misma lavadora. Cambiaron la placa, "
                "luego el motor, y sigue sin centrifugar. Quiero una solución o la devolución del dinero "
                "@AcmeSupport",
                "2025-03-18T08:15:00+00:00",
                "es",
            )
        ]
    ),
    # Our reply to Carmen's mention: same thread as her tweet, marked as ours.
    "tweet_create_events__own_tweet": batch(
        [
            tweet(
                "1901573000000000002",
                "comment",
                "1901570000000000001",
                ACME_USER,
                "@carmenvidal Lo sentimos mucho, Carmen. Te escribimos por DM para revisar el pedido 7731.",
                "2025-03-17T09:42:10+00:00",
                "es",
                parent="1901570000000000001",
                from_brand=True,
            )
        ]
    ),
    "tweet_create_events__retweet": batch(ignored=["tweet_create_events: 1901577000000000003 is a retweet"]),
    # A quote of our tweet without an @mention: a comment on its own thread.
    "tweet_create_events__quote": batch(
        [
            tweet(
                "1901578000000000004",
                "comment",
                "1901578000000000004",
                x_user("6677889900", "pilargomez", "Pilar Gómez", 1570),
                "Ojalá fuera verdad. Compré en las rebajas y me cobraron el precio completo "
                "https://t.co/QuOtE12345",
                "2025-03-17T10:05:00+00:00",
                "es",
            )
        ]
    ),
    "direct_message_events__message": batch(
        [
            direct_message(
                "954491830116155396",
                JORDAN,
                "Buenas, necesito la factura del pedido 5512 a nombre de mi empresa",
                "2018-01-19T23:12:40.557000+00:00",
                from_brand=False,
            )
        ]
    ),
    # Our outbound DM echoed back; its users map sits inside apps, as in X's doc example.
    "direct_message_events__own": batch(
        [
            direct_message(
                "954492000000000001",
                {**ACME_USER, "platform_user_id": ACME_DM},
                "Hi Jordan, we've sent the invoice for order 5512 to your email.",
                "2018-01-19T23:19:59+00:00",
                from_brand=True,
            )
        ]
    ),
    "tweet_delete_events__delete": batch(
        removals=[("x", "1901612345678901234", "2025-03-17T13:00:00+00:00")]
    ),
    "favorite_events__like": batch(ignored=["favorite_events: likes are not conversations"]),
}


def test_every_fixture_has_an_expectation() -> None:
    assert fixture_names("x") == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_expected_batch(name: str) -> None:
    assert summarize_batch(parse_x(fixture_json("x", name), X_BRAND_IDS)) == EXPECTED[name]


def test_subscribed_account_counts_as_brand_even_when_not_configured() -> None:
    (item,) = parse_x(fixture_json("x", "tweet_create_events__own_tweet"), []).interactions
    assert item.from_brand


def test_brand_own_top_level_tweet_is_a_post() -> None:
    payload = fixture_json("x", "tweet_create_events__own_tweet")
    payload["tweet_create_events"][0]["in_reply_to_status_id_str"] = None
    (item,) = parse_x(payload, X_BRAND_IDS).interactions
    assert (item.kind, item.thread_key) == ("post", f"x:{ACME}:1901573000000000002")


def test_undetermined_language_is_left_to_us() -> None:
    payload = fixture_json("x", "tweet_create_events__mention")
    payload["tweet_create_events"][0]["lang"] = "und"
    assert parse_x(payload, X_BRAND_IDS).interactions[0].language is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"full_text": "full", "text": "short"}, "full"),
        ({"text": "short"}, "short"),
        ({"extended_tweet": {"full_text": "extended"}, "full_text": "full", "text": "short"}, "extended"),
    ],
)
def test_text_preference(fields: dict[str, Any], expected: str) -> None:
    payload = fixture_json("x", "tweet_create_events__mention")
    event = payload["tweet_create_events"][0]
    del event["text"]
    event.update(fields)
    assert parse_x(payload, X_BRAND_IDS).interactions[0].text == expected


def test_created_at_is_used_without_timestamp_ms() -> None:
    payload = fixture_json("x", "tweet_create_events__reply")
    del payload["tweet_create_events"][0]["timestamp_ms"]
    created = parse_x(payload, X_BRAND_IDS).interactions[0].created_at
    assert created.isoformat() == "2025-03-17T12:00:00+00:00"


def test_tweet_without_any_time_gets_the_receipt_time() -> None:
    payload = fixture_json("x", "tweet_create_events__reply")
    del payload["tweet_create_events"][0]["timestamp_ms"]
    del payload["tweet_create_events"][0]["created_at"]
    before = utcnow()
    assert before <= parse_x(payload, X_BRAND_IDS).interactions[0].created_at <= utcnow()


def test_tweet_without_any_text_is_malformed() -> None:
    payload = fixture_json("x", "tweet_create_events__mention")
    del payload["tweet_create_events"][0]["text"]
    with pytest.raises(
        MalformedPayloadError, match=r"^tweet_create_events\[0\]\.text: required field is missing$"
    ):
        parse_x(payload, X_BRAND_IDS)


def test_dm_sender_missing_from_users_keeps_the_id() -> None:
    payload = fixture_json("x", "direct_message_events__message")
    del payload["users"]
    (item,) = parse_x(payload, X_BRAND_IDS).interactions
    assert (item.author.platform_user_id, item.author.handle) == ("3001969357", None)


def test_dm_attachment_is_shown_in_the_text() -> None:
    payload = fixture_json("x", "direct_message_events__message")
    data = payload["direct_message_events"][0]["message_create"]["message_data"]
    data["attachment"] = {
        "type": "media",
        "media": {"type": "photo", "media_url_https": "https://pbs.twimg.com/1.jpg"},
    }
    text = parse_x(payload, X_BRAND_IDS).interactions[0].text
    assert text.endswith("\n[photo: https://pbs.twimg.com/1.jpg]")


def test_other_dm_event_types_are_ignored() -> None:
    payload = fixture_json("x", "direct_message_events__message")
    payload["direct_message_events"][0]["type"] = "welcome_message"
    assert parse_x(payload, X_BRAND_IDS).ignored == (
        "direct_message_events: type 'welcome_message' is not a message",
    )


@pytest.mark.parametrize("key", sorted(IGNORED_EVENTS))
def test_ignored_event_arrays(key: str) -> None:
    payload = {"for_user_id": ACME, key: [{}]}
    assert parse_x(payload, X_BRAND_IDS).ignored == (f"{key}: {IGNORED_EVENTS[key]}",)


def test_unknown_event_array_is_ignored() -> None:
    payload = {"for_user_id": ACME, "spaces_events": [{}]}
    assert parse_x(payload, X_BRAND_IDS).ignored == ("spaces_events: unknown event",)


def test_every_tweet_of_a_delivery_is_parsed() -> None:
    payload = fixture_json("x", "tweet_create_events__mention")
    second = fixture_json("x", "tweet_create_events__reply")["tweet_create_events"][0]
    payload["tweet_create_events"].append(second)
    assert len(parse_x(payload, X_BRAND_IDS).interactions) == 2


# --- CRC --------------------------------------------------------------------------------------


def test_crc_answers_the_response_token(client: FlaskClient) -> None:
    response = client.get("/webhooks/x", query_string={"crc_token": "9b4507b3-9040-4669-9ca3-6b94edb50553"})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"response_token": "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="}


def unconfigured_client(tmp_path: Path, store: Store) -> FlaskClient:
    data = base_config(tmp_path)
    data["platforms"]["x"] = {"brand_user_ids": X_BRAND_IDS}
    return create_app(config_from_dict(data), store=store).test_client()


def test_crc_refused_without_consumer_secret(tmp_path: Path, store: Store) -> None:
    response = unconfigured_client(tmp_path, store).get("/webhooks/x", query_string={"crc_token": "abc"})
    assert (response.status_code, response.get_json()["error"]) == (401, "unauthorized")


def test_post_refused_without_consumer_secret(tmp_path: Path, store: Store) -> None:
    body = fixture_bytes("x", "tweet_create_events__mention")
    response = post_x(unconfigured_client(tmp_path, store), body, secret=X_CONSUMER_SECRET)
    assert (response.status_code, response.get_json()["error"]) == (401, "unauthorized")
    assert raw_event_rows(store) == []


# --- signed deliveries through the store ---------------------------------------------------


def test_signed_mention_is_stored_with_a_job(client: FlaskClient, store: Store) -> None:
    response = post_x(client, fixture_bytes("x", "tweet_create_events__mention"))
    assert (response.status_code, response.get_json()) == (200, {"status": "ok", "new": 1, "duplicates": 0})
    (row,) = interaction_rows(store)
    assert (row["platform"], row["kind"], row["external_id"]) == ("x", "mention", "1901570000000000001")
    assert row["author"]["followers_count"] == 48210
    assert outbox_refs(store) == [row["id"]]
    assert raw_event_rows(store)[0]["source"] == "x"


def test_the_same_delivery_three_times_is_one_interaction(client: FlaskClient, store: Store) -> None:
    body = fixture_bytes("x", "direct_message_events__message")
    answers = [post_x(client, body).get_json() for _ in range(3)]
    assert [(a["new"], a["duplicates"]) for a in answers] == [(1, 0), (0, 1), (0, 1)]
    assert len(interaction_rows(store)) == 1
    assert len(outbox_refs(store)) == 1


def test_our_reply_joins_the_customer_thread_without_a_job(client: FlaskClient, store: Store) -> None:
    post_x(client, fixture_bytes("x", "tweet_create_events__mention"))
    response = post_x(client, fixture_bytes("x", "tweet_create_events__own_tweet"))
    assert response.get_json() == {"status": "ok", "new": 0, "duplicates": 0}
    customer, ours = interaction_rows(store)
    assert customer["thread_key"] == ours["thread_key"]
    assert (customer["from_brand"], ours["from_brand"]) == (False, True)
    assert outbox_refs(store) == [customer["id"]]


def test_own_dm_is_stored_without_a_job(client: FlaskClient, store: Store) -> None:
    post_x(client, fixture_bytes("x", "direct_message_events__own"))
    (row,) = interaction_rows(store)
    assert row["from_brand"] is True
    assert outbox_refs(store) == []


def test_deleted_tweet_is_marked_removed(client: FlaskClient, store: Store) -> None:
    post_x(client, fixture_bytes("x", "tweet_create_events__reply"))
    post_x(client, fixture_bytes("x", "tweet_delete_events__delete"))
    (row,) = interaction_rows(store)
    assert row["removed"] is True
    assert ("interaction.removed", "x:1901612345678901234") in audit_actions(store)


@pytest.mark.parametrize("name", ["tweet_create_events__retweet", "favorite_events__like"])
def test_noise_is_kept_raw_but_never_an_interaction(client: FlaskClient, store: Store, name: str) -> None:
    response = post_x(client, fixture_bytes("x", name))
    assert response.get_json() == {"status": "ok", "new": 0, "duplicates": 0}
    assert interaction_rows(store) == []
    assert raw_event_rows(store)[0]["summary"]["ignored"] == EXPECTED[name]["ignored"]


def test_compact_body_is_verified_on_its_exact_bytes(client: FlaskClient, store: Store) -> None:
    body = compact(fixture_json("x", "tweet_create_events__quote"))
    assert post_x(client, body).status_code == 200
    assert raw_event_rows(store)[0]["body"].encode() == body
