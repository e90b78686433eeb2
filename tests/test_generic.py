"""Generic Standard Webhooks endpoint: fixtures, the schema, and deliveries through the store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from connector.model import KINDS, PLATFORMS
from connector.store import Store
from tests.conftest import GENERIC_SOURCE
from tests.signing import (
    fixture_bytes,
    fixture_json,
    fixture_names,
    interaction_rows,
    outbox_refs,
    post_generic,
    raw_event_rows,
    summarize_batch,
)
from webhooks.errors import MalformedPayloadError
from webhooks.generic_parse import GENERIC_INTERACTION_SCHEMA, parse_generic

EXPECTED: dict[str, dict[str, Any]] = {
    # No thread_key or brand_account_id: built from the source name and the item's own id.
    "interaction__comment": {
        "interactions": [
            {
                "platform": "generic",
                "kind": "comment",
                "external_id": "forum-post-5f8e2c1a9d",
                "thread_key": f"generic:{GENERIC_SOURCE}:forum-post-5f8e2c1a9d",
                "brand_account_id": GENERIC_SOURCE,
                "author": {
                    "platform": "generic",
                    "platform_user_id": "forum-user-88123",
                    "handle": "rosa_m",
                    "display_name": "Rosa Martín",
                    "followers_count": 0,
                    "profile_url": "https://comunidad.example.com/u/rosa_m",
                },
                "text": "El producto bien, pero la devolución tardó un mes y nadie contestaba en el foro.",
                "created_at": "2025-03-17T10:20:00+00:00",
                "from_brand": False,
                "language": "es",
                "permalink": "https://comunidad.example.com/t/devoluciones/5f8e2c1a9d",
            }
        ],
        "edits": [],
        "removals": [],
        "ignored": [],
    },
    # The source's own thread key and brand account win; the offset is normalised to UTC.
    "interaction__dm_with_thread": {
        "interactions": [
            {
                "platform": "generic",
                "kind": "direct_message",
                "external_id": "wa-msg-ABGGFlA5FpafAgo6EhQ",
                "thread_key": "generic:whatsapp-es:+34600111222",
                "brand_account_id": "whatsapp-es",
                "author": {
                    "platform": "generic",
                    "platform_user_id": "+34600111222",
                    "display_name": "Pablo",
                },
                "text": "I still haven't received the replacement part. Any news?",
                "created_at": "2025-03-17T10:45:30.250000+00:00",
                "from_brand": False,
                "parent_external_id": "wa-msg-ABGGFlA5FpafAgo6EhP",
            }
        ],
        "edits": [],
        "removals": [],
        "ignored": [],
    },
}


def test_every_fixture_has_an_expectation() -> None:
    assert fixture_names("generic") == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_expected_batch(name: str) -> None:
    assert summarize_batch(parse_generic(fixture_json("generic", name), GENERIC_SOURCE)) == EXPECTED[name]


def test_raw_is_the_given_raw_or_the_whole_body() -> None:
    with_raw = parse_generic(fixture_json("generic", "interaction__comment"), GENERIC_SOURCE)
    assert with_raw.interactions[0].raw == {"forum": "devoluciones", "upvotes": 14}
    without = fixture_json("generic", "interaction__dm_with_thread")
    assert parse_generic(without, GENERIC_SOURCE).interactions[0].raw == without


def test_thread_defaults_to_the_parent() -> None:
    payload = fixture_json("generic", "interaction__dm_with_thread")
    del payload["thread_key"]
    (item,) = parse_generic(payload, GENERIC_SOURCE).interactions
    assert item.thread_key == "generic:whatsapp-es:wa-msg-ABGGFlA5FpafAgo6EhP"


def test_schema_is_valid_2020_12_and_matches_the_model() -> None:
    Draft202012Validator.check_schema(GENERIC_INTERACTION_SCHEMA)
    properties = GENERIC_INTERACTION_SCHEMA["properties"]
    assert properties["platform"]["enum"] == list(PLATFORMS)
    assert properties["kind"]["enum"] == list(KINDS)
    json.dumps(GENERIC_INTERACTION_SCHEMA)  # plain data, ready for openapi.yaml


def comment(**changes: Any) -> dict[str, Any]:
    payload = fixture_json("generic", "interaction__comment")
    for key, value in changes.items():
        if value is ...:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


SCHEMA_VIOLATIONS: list[tuple[str, dict[str, Any], str]] = [
    ("missing text", comment(text=...), "(body): 'text' is a required property"),
    (
        "unknown field",
        comment(score=5),
        r"(body): Additional properties are not allowed ('score' was unexpected)",
    ),
    (
        "unknown platform",
        comment(platform="tiktok"),
        "platform: expected one of facebook, instagram, messenger, x, generic",
    ),
    (
        "unknown kind",
        comment(kind="like"),
        "kind: expected one of comment, mention, direct_message, review, post",
    ),
    ("empty external id", comment(external_id=""), "external_id: '' should be non-empty"),
    (
        "negative followers",
        comment(author={"platform_user_id": "u1", "followers_count": -1}),
        "author.followers_count: -1 is less than the minimum of 0",
    ),
    (
        "author without id",
        comment(author={"handle": "rosa_m"}),
        "author: 'platform_user_id' is a required property",
    ),
    (
        "author extra field",
        comment(author={"platform_user_id": "u1", "email": "a@b.c"}),
        "author: Additional properties are not allowed ('email' was unexpected)",
    ),
    (
        "verified as text",
        comment(author={"platform_user_id": "u1", "verified": "yes"}),
        "author.verified: 'yes'",
    ),
    (
        "date without offset",
        comment(created_at="2025-03-17T10:20:00"),
        "created_at: '2025-03-17T10:20:00' is not",
    ),
    ("date as number", comment(created_at=1742206800), "created_at: 1742206800 is not of type 'string'"),
    ("huge text", comment(text="x" * 100_001), "text: longer than 100000 characters"),
    ("raw not an object", comment(raw=[1, 2]), "raw: [1, 2] is not of type 'object'"),
]


@pytest.mark.parametrize(
    ("payload", "message"), [c[1:] for c in SCHEMA_VIOLATIONS], ids=[c[0] for c in SCHEMA_VIOLATIONS]
)
def test_schema_violations_name_the_field(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedPayloadError) as caught:
        parse_generic(payload, GENERIC_SOURCE)
    assert caught.value.message.startswith(message)


def test_long_values_are_not_echoed_back() -> None:
    with pytest.raises(MalformedPayloadError) as caught:
        parse_generic(comment(author={"platform_user_id": "u", "handle": 7 * 10**600}), GENERIC_SOURCE)
    assert len(caught.value.message) < 250
    with pytest.raises(
        MalformedPayloadError,
        match=r"^created_at: '2025-03-17 10:20:00 UTC x+… is not an RFC 3339 date-time$",
    ):
        parse_generic(comment(created_at="2025-03-17 10:20:00 UTC " + "x" * 1000), GENERIC_SOURCE)


def test_impossible_date_is_refused() -> None:
    with pytest.raises(
        MalformedPayloadError, match=r"^created_at: '2025-13-01T00:00:00Z' is not a valid date-time$"
    ):
        parse_generic(comment(created_at="2025-13-01T00:00:00Z"), GENERIC_SOURCE)


def test_all_violations_are_reported_at_once() -> None:
    with pytest.raises(MalformedPayloadError) as caught:
        parse_generic(comment(kind="like", platform="tiktok", text=...), GENERIC_SOURCE)
    assert caught.value.message.count(";") == 2


def test_error_list_is_capped() -> None:
    payload = {f"extra{i}": i for i in range(3)} | {
        "author": {"platform_user_id": 1},
        "created_at": 1,
        "text": 1,
    }
    with pytest.raises(MalformedPayloadError, match=r"; and \d+ more$"):
        parse_generic(payload, GENERIC_SOURCE)


# --- deliveries through the store --------------------------------------------------------------


def test_signed_delivery_is_stored_with_its_webhook_id(client: FlaskClient, store: Store) -> None:
    response = post_generic(client, fixture_bytes("generic", "interaction__comment"), msg_id="msg_one")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok", "new": 1, "duplicates": 0})
    (raw,) = raw_event_rows(store)
    assert (raw["source"], raw["delivery_id"]) == (f"generic:{GENERIC_SOURCE}", "msg_one")
    (row,) = interaction_rows(store)
    assert row["external_id"] == "forum-post-5f8e2c1a9d"
    assert outbox_refs(store) == [row["id"]]


def test_redelivery_with_the_same_webhook_id_is_acknowledged_once(client: FlaskClient, store: Store) -> None:
    body = fixture_bytes("generic", "interaction__dm_with_thread")
    # Each retry has a new timestamp and signature, but the same webhook-id.
    answers = [post_generic(client, body, msg_id="msg_retry").get_json() for _ in range(3)]
    assert [(a["new"], a["duplicates"]) for a in answers] == [(1, 0), (0, 1), (0, 1)]
    assert len(raw_event_rows(store)) == 1
    assert len(interaction_rows(store)) == 1


def test_same_interaction_under_new_webhook_ids_is_one_interaction(client: FlaskClient, store: Store) -> None:
    body = fixture_bytes("generic", "interaction__comment")
    answers = [post_generic(client, body, msg_id=f"msg_{i}").get_json() for i in range(3)]
    assert [(a["new"], a["duplicates"]) for a in answers] == [(1, 0), (0, 1), (0, 1)]
    assert len(raw_event_rows(store)) == 3
    assert len(interaction_rows(store)) == 1
    assert len(outbox_refs(store)) == 1
