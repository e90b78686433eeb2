"""Meta: one expectation per fixture, the handshake, and signed deliveries through the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector.config import config_from_dict
from connector.store import Store
from tests.conftest import IG_ACCOUNT_ID, META_APP_SECRET, META_PAGE_ID, META_VERIFY_TOKEN, base_config
from tests.signing import (
    audit_actions,
    fixture_bytes,
    fixture_json,
    fixture_names,
    interaction_rows,
    outbox_refs,
    post_meta,
    raw_event_rows,
    summarize_batch,
)
from webhooks import create_app
from webhooks.meta_parse import EVENT_PARSERS, IGNORED_EVENTS, parse_meta
from webhooks.signatures import sign_meta

BRAND = [META_PAGE_ID, IG_ACCOUNT_ID]
VIDEO_POST = f"{META_PAGE_ID}_407298303721936"
VIDEO_PERMALINK = "https://www.facebook.com/example/videos/407298303721936/"
SUSIE_COMMENT = "407298303721936_408074786977621"
CUSTOMER_PSID = "7012345678901234"


def fb_comment(
    external_id: str,
    post_id: str,
    author: tuple[str, str],
    text: str,
    created_at: str,
    parent: str,
    permalink: str,
    from_brand: bool = False,
) -> dict[str, Any]:
    return {
        "platform": "facebook",
        "kind": "comment",
        "external_id": external_id,
        "thread_key": f"facebook:{META_PAGE_ID}:{post_id}",
        "brand_account_id": META_PAGE_ID,
        "author": {"platform": "facebook", "platform_user_id": author[0], "display_name": author[1]},
        "text": text,
        "created_at": created_at,
        "from_brand": from_brand,
        "parent_external_id": parent,
        "permalink": permalink,
    }


def ig_comment(
    external_id: str, user: tuple[str, str], text: str, created_at: str, **extra: Any
) -> dict[str, Any]:
    return {
        "platform": "instagram",
        "kind": "comment",
        "external_id": external_id,
        "thread_key": f"instagram:{IG_ACCOUNT_ID}:17918195224117851",
        "brand_account_id": IG_ACCOUNT_ID,
        "author": {
            "platform": "instagram",
            "platform_user_id": user[0],
            "handle": user[1],
            "profile_url": f"https://www.instagram.com/{user[1]}/",
        },
        "text": text,
        "created_at": created_at,
        "from_brand": False,
        **extra,
    }


def ig_mention(external_id: str, media_id: str, created_at: str, **extra: Any) -> dict[str, Any]:
    return {
        "platform": "instagram",
        "kind": "mention",
        "external_id": external_id,
        "thread_key": f"instagram:{IG_ACCOUNT_ID}:{media_id}",
        "brand_account_id": IG_ACCOUNT_ID,
        # The mentions payload carries neither text nor author.
        "author": {"platform": "instagram", "platform_user_id": ""},
        "text": "",
        "created_at": created_at,
        "from_brand": False,
        **extra,
    }


def dm(
    platform: str,
    account: str,
    mid: str,
    sender: str,
    customer: str,
    text: str,
    created_at: str,
    from_brand: bool,
) -> dict[str, Any]:
    return {
        "platform": platform,
        "kind": "direct_message",
        "external_id": mid,
        "thread_key": f"{platform}:{account}:{customer}",
        "brand_account_id": account,
        "author": {"platform": platform, "platform_user_id": sender},
        "text": text,
        "created_at": created_at,
        "from_brand": from_brand,
    }


def batch(
    interactions: list[dict[str, Any]] | None = None,
    edits: list[dict[str, Any]] | None = None,
    removals: list[tuple[str, str, str]] | None = None,
    ignored: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "interactions": interactions or [],
        "edits": edits or [],
        "removals": removals or [],
        "ignored": ignored or [],
    }


EXPECTED: dict[str, dict[str, Any]] = {
    "feed__comment_add": batch(
        [
            fb_comment(
                SUSIE_COMMENT,
                VIDEO_POST,
                ("3450429531722233", "Susie Example"),
                "Where can I buy this?",
                "2020-12-26T03:15:28+00:00",
                parent=VIDEO_POST,
                permalink=VIDEO_PERMALINK,
            )
        ]
    ),
    # A reply to Susie's comment: parent is her comment, the thread is still the post.
    # The fixture is compact with \u escapes, as Meta sends it.
    "feed__comment_reply": batch(
        [
            fb_comment(
                "407298303721936_408075112345678",
                VIDEO_POST,
                ("5123987445012345", "María Fernández"),
                "¿Y envían a España? Llevo dos semanas esperando mi pedido 4471",
                "2020-12-26T03:25:39+00:00",
                parent=SUSIE_COMMENT,
                permalink=VIDEO_PERMALINK,
            )
        ]
    ),
    "feed__comment_edited": batch(
        edits=[
            fb_comment(
                SUSIE_COMMENT,
                VIDEO_POST,
                ("3450429531722233", "Susie Example"),
                "Where can I buy this in Madrid? The online store says out of stock",
                "2020-12-26T03:28:18+00:00",
                parent=VIDEO_POST,
                permalink=VIDEO_PERMALINK,
            )
        ]
    ),
    "feed__comment_remove": batch(removals=[("facebook", SUSIE_COMMENT, "2020-12-26T03:33:19+00:00")]),
    "feed__page_own_reply": batch(
        [
            fb_comment(
                "407298303721936_408076000000001",
                VIDEO_POST,
                (META_PAGE_ID, "Acme"),
                "¡Hola María! Te hemos escrito por mensaje privado para revisar tu pedido.",
                "2020-12-26T03:39:59+00:00",
                parent="407298303721936_408075112345678",
                permalink=VIDEO_PERMALINK,
                from_brand=True,
            )
        ]
    ),
    "feed__multiple_entries": batch(
        [
            fb_comment(
                "511112222333344_511119999000001",
                f"{META_PAGE_ID}_511112222333344",
                ("6011223344556677", "Jorge Ruiz"),
                "El cargador se calienta muchísimo, ¿es normal?",
                "2023-11-14T22:13:10+00:00",
                parent=f"{META_PAGE_ID}_511112222333344",
                permalink="https://www.facebook.com/acme/posts/511112222333344",
            ),
            fb_comment(
                "511112222333344_511119999000002",
                f"{META_PAGE_ID}_511112222333344",
                ("6099887766554433", "Ana López"),
                "A mí me pasa lo mismo desde la actualización",
                "2023-11-14T22:13:15+00:00",
                parent="511112222333344_511119999000001",
                permalink="https://www.facebook.com/acme/posts/511112222333344",
            ),
            fb_comment(
                "522223333444455_522229999000003",
                f"{META_PAGE_ID}_522223333444455",
                ("6055443322110099", "Tom Baker"),
                "Still no refund after 3 weeks. Order 88213.",
                "2023-11-14T22:13:21+00:00",
                parent=f"{META_PAGE_ID}_522223333444455",
                permalink="https://www.facebook.com/acme/posts/522223333444455",
            ),
        ]
    ),
    "feed__post_item": batch(ignored=["page.feed: item 'status' (add) is not a comment"]),
    # No created_time in Instagram comment changes: the entry's time is used.
    "instagram__comment": batch(
        [
            ig_comment(
                "17865799348089039",
                ("1234567890123456", "jane.doe"),
                "Is this available in blue?",
                "2023-11-14T22:15:00+00:00",
            )
        ]
    ),
    "instagram__comment_entry_level_field": batch(
        [
            ig_comment(
                "17865799348089555",
                ("2345678901234567", "lucia.mtz"),
                "@jane.doe sí, yo lo compré en azul la semana pasada",
                "2023-11-14T22:15:50+00:00",
                parent_external_id="17865799348089039",
            )
        ]
    ),
    "instagram__mention": batch(
        [
            ig_mention(
                "17894227972186120",
                "17887498072083520",
                "2023-11-14T22:16:40+00:00",
                parent_external_id="17887498072083520",
            )
        ]
    ),
    # A caption mention has no comment_id: the media is the mention.
    "instagram__mention_caption": batch(
        [ig_mention("17887498072099999", "17887498072099999", "2023-11-14T22:17:30+00:00")]
    ),
    "messaging__message": batch(
        [
            dm(
                "messenger",
                META_PAGE_ID,
                "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
                CUSTOMER_PSID,
                CUSTOMER_PSID,
                "Hola, mi pedido no ha llegado y el seguimiento no se actualiza desde el lunes",
                "2023-11-14T22:18:19.987000+00:00",
                from_brand=False,
            )
        ]
    ),
    # Sent by the Page: same thread (the customer's PSID), marked as ours.
    "messaging__echo": batch(
        [
            dm(
                "messenger",
                META_PAGE_ID,
                "m_echo_BB7qLm2xYc9pR4tWz0KdE5fHs8nJvA1uG6iO3yTqXwMcN",
                META_PAGE_ID,
                CUSTOMER_PSID,
                "Gracias por escribirnos. ¿Nos indicas el número de pedido?",
                "2023-11-14T22:20:00.321000+00:00",
                from_brand=True,
            )
        ]
    ),
    "messaging__attachment_only": batch(
        [
            dm(
                "messenger",
                META_PAGE_ID,
                "m_att_CC8rMn3yZd0qS5uXa1LeF6gIt9oKwB2vH7jP4zUrYxNdO",
                CUSTOMER_PSID,
                CUSTOMER_PSID,
                "[image: https://scontent.xx.fbcdn.net/v/t1.15752-9/damaged_box.jpg]",
                "2023-11-14T22:21:40.700000+00:00",
                from_brand=False,
            )
        ]
    ),
    "messaging__read": batch(ignored=["page.messaging: read: read receipts are not messages"]),
    "instagram_messaging__message": batch(
        [
            dm(
                "instagram",
                IG_ACCOUNT_ID,
                "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1MzA5MjExODQ0OjM0MDI4MjM2Njg0MTcxMDMwMTI0"
                "NDI3NjAxOTE1MTg5NTk2NjE4MjozMTk4NjY0NTg2NzQ5NDA2NjA5MjI5NzE0MDgwMjg5ODU2MAZDZD",
                "6543210987654321",
                "6543210987654321",
                "Hi! I was charged twice for order 99120, can you help?",
                "2023-11-14T22:25:00.001000+00:00",
                from_brand=False,
            )
        ]
    ),
    "unknown_object": batch(ignored=["object 'user' is not subscribed to"]),
}


def test_every_fixture_has_an_expectation() -> None:
    assert fixture_names("meta") == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_to_expected_batch(name: str) -> None:
    assert summarize_batch(parse_meta(fixture_json("meta", name), BRAND)) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_raw_is_the_change_or_message_as_sent(name: str) -> None:
    result = parse_meta(fixture_json("meta", name), BRAND)
    for item in (*result.interactions, *result.edits):
        assert item.raw
        assert item.external_id in str(item.raw)


def test_page_id_counts_as_brand_even_when_not_configured() -> None:
    result = parse_meta(fixture_json("meta", "feed__page_own_reply"), [])
    assert result.interactions[0].from_brand


def test_configured_brand_ids_count_as_brand() -> None:
    payload = fixture_json("meta", "feed__comment_add")
    result = parse_meta(payload, ["3450429531722233"])
    assert result.interactions[0].from_brand


def test_comment_without_from_is_kept_with_an_unknown_author() -> None:
    payload = fixture_json("meta", "feed__comment_add")
    del payload["entry"][0]["changes"][0]["value"]["from"]
    (comment,) = parse_meta(payload, BRAND).interactions
    assert (comment.author.platform_user_id, comment.from_brand) == ("", False)


def test_comment_without_created_time_uses_the_entry_time() -> None:
    payload = fixture_json("meta", "feed__comment_add")
    del payload["entry"][0]["changes"][0]["value"]["created_time"]
    (comment,) = parse_meta(payload, BRAND).interactions
    assert comment.created_at.isoformat() == "2020-12-26T03:15:30+00:00"


@pytest.mark.parametrize(
    ("verb", "ignored"),
    [
        ("hide", "page.feed: comment verb 'hide' is not handled"),
        ("unhide", "page.feed: comment verb 'unhide' is not handled"),
    ],
)
def test_moderation_verbs_are_ignored(verb: str, ignored: str) -> None:
    payload = fixture_json("meta", "feed__comment_add")
    payload["entry"][0]["changes"][0]["value"]["verb"] = verb
    assert parse_meta(payload, BRAND).ignored == (ignored,)


@pytest.mark.parametrize(("verb", "bucket"), [("edit", "edits"), ("delete", "removals")])
def test_verb_synonyms(verb: str, bucket: str) -> None:
    payload = fixture_json("meta", "feed__comment_add")
    payload["entry"][0]["changes"][0]["value"]["verb"] = verb
    assert len(getattr(parse_meta(payload, BRAND), bucket)) == 1


def test_group_feed_is_parsed_like_feed() -> None:
    payload = fixture_json("meta", "feed__comment_add")
    change = payload["entry"][0]["changes"][0]
    change["field"] = "group_feed"
    change["value"]["group_id"] = "880011223344"
    (comment,) = parse_meta(payload, BRAND).interactions
    assert comment.external_id == SUSIE_COMMENT


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"postback": {"payload": "GET_STARTED"}}, "page.messaging: postback: button taps are not messages"),
        ({"delivery": {"mids": ["m_1"]}}, "page.messaging: delivery: delivery receipts are not messages"),
        (
            {"reaction": {"mid": "m_1", "action": "react"}},
            "page.messaging: reaction: reactions are not messages",
        ),
        ({"pass_thread_control": {}}, "page.messaging: unknown event"),
    ],
)
def test_other_messaging_events_are_ignored(event: dict[str, Any], reason: str) -> None:
    payload = fixture_json("meta", "messaging__read")
    message = payload["entry"][0]["messaging"][0]
    del message["read"]
    message.update(event)
    assert parse_meta(payload, BRAND).ignored == (reason,)


def test_message_with_text_and_attachments_keeps_both() -> None:
    payload = fixture_json("meta", "messaging__message")
    message = payload["entry"][0]["messaging"][0]["message"]
    message["attachments"] = [
        {"type": "image", "payload": {"url": "https://cdn.example/x.jpg"}},
        {"type": "file"},
    ]
    message["reply_to"] = {"mid": "m_earlier"}
    (item,) = parse_meta(payload, BRAND).interactions
    assert item.text.splitlines()[1:] == ["[image: https://cdn.example/x.jpg]", "[file]"]
    assert item.parent_external_id == "m_earlier"


def test_instagram_unsent_message_is_a_removal() -> None:
    payload = fixture_json("meta", "instagram_messaging__message")
    payload["entry"][0]["messaging"][0]["message"]["is_deleted"] = True
    result = parse_meta(payload, BRAND)
    assert (result.interactions, [r.platform for r in result.removals]) == ((), ["instagram"])


def test_unknown_field_and_standby_are_ignored() -> None:
    payload = {
        "object": "page",
        "entry": [
            {"id": META_PAGE_ID, "time": 1, "changes": [{"field": "ratings", "value": {}}]},
            {"id": META_PAGE_ID, "time": 1, "standby": [{"sender": {"id": "1"}}]},
            {"id": META_PAGE_ID, "time": 1},
        ],
    }
    assert parse_meta(payload, BRAND).ignored == (
        "page.ratings: unknown field",
        f"page.standby: {IGNORED_EVENTS['page.standby']}",
    )


def test_dispatch_table_covers_the_documented_fields() -> None:
    assert set(EVENT_PARSERS) == {
        "page.feed",
        "page.group_feed",
        "page.messaging",
        "instagram.comments",
        "instagram.live_comments",
        "instagram.mentions",
        "instagram.messaging",
    }


# --- handshake ----------------------------------------------------------------------------


def test_handshake_echoes_the_challenge_as_plain_text(client: FlaskClient) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": META_VERIFY_TOKEN}
    response = client.get("/webhooks/meta", query_string=query)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data() == b"1158201444"


def test_handshake_without_challenge_is_400(client: FlaskClient) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": META_VERIFY_TOKEN}
    response = client.get("/webhooks/meta", query_string=query)
    assert (response.status_code, response.get_json()["error"]) == (400, "malformed")


def unconfigured_client(tmp_path: Path, store: Store) -> FlaskClient:
    data = base_config(tmp_path)
    data["platforms"]["meta"] = {"brand_account_ids": [META_PAGE_ID]}
    return create_app(config_from_dict(data), store=store).test_client()


def test_handshake_refused_when_no_token_is_configured(tmp_path: Path, store: Store) -> None:
    query = {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": ""}
    response = unconfigured_client(tmp_path, store).get("/webhooks/meta", query_string=query)
    assert (response.status_code, response.get_json()) == (
        403,
        {"error": "handshake_failed", "message": "verify token is not configured"},
    )


def test_post_refused_when_no_app_secret_is_configured(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    body = fixture_bytes("meta", "feed__comment_add")
    response = post_meta(unconfigured_client(tmp_path, store), body)
    assert (response.status_code, response.get_json()["error"]) == (401, "unauthorized")
    assert "app_secret is not configured" in caplog.text
    assert raw_event_rows(store) == []


# --- signed deliveries through the store ---------------------------------------------------


def test_signed_comment_is_stored_with_a_job(client: FlaskClient, store: Store) -> None:
    response = post_meta(client, fixture_bytes("meta", "feed__comment_add"))
    assert (response.status_code, response.get_json()) == (200, {"status": "ok", "new": 1, "duplicates": 0})
    (row,) = interaction_rows(store)
    assert (row["platform"], row["external_id"], row["text"]) == (
        "facebook",
        SUSIE_COMMENT,
        "Where can I buy this?",
    )
    assert row["thread_key"] == f"facebook:{META_PAGE_ID}:{VIDEO_POST}"
    assert outbox_refs(store) == [row["id"]]
    (raw,) = raw_event_rows(store)
    assert raw["source"] == "meta"
    assert raw["body"].encode() == fixture_bytes("meta", "feed__comment_add")


def test_charset_in_content_type_is_accepted(client: FlaskClient, store: Store) -> None:
    body = fixture_bytes("meta", "feed__comment_add")
    response = post_meta(client, body, content_type="application/json; charset=utf-8")
    assert response.status_code == 200


def test_the_same_delivery_three_times_is_one_interaction(client: FlaskClient, store: Store) -> None:
    body = fixture_bytes("meta", "feed__comment_add")
    answers = [post_meta(client, body).get_json() for _ in range(3)]
    assert [(a["new"], a["duplicates"]) for a in answers] == [(1, 0), (0, 1), (0, 1)]
    assert len(interaction_rows(store)) == 1
    assert len(outbox_refs(store)) == 1
    # Every delivery is kept raw, even the repeats.
    assert len(raw_event_rows(store)) == 3


def test_reply_to_a_reply_lands_on_the_post_thread(client: FlaskClient, store: Store) -> None:
    for name in ("feed__comment_add", "feed__comment_reply"):
        post_meta(client, fixture_bytes("meta", name))
    assert {row["thread_key"] for row in interaction_rows(store)} == {f"facebook:{META_PAGE_ID}:{VIDEO_POST}"}


@pytest.mark.parametrize("name", ["feed__page_own_reply", "messaging__echo"])
def test_brand_own_events_are_stored_without_a_job(client: FlaskClient, store: Store, name: str) -> None:
    response = post_meta(client, fixture_bytes("meta", name))
    assert response.get_json() == {"status": "ok", "new": 0, "duplicates": 0}
    (row,) = interaction_rows(store)
    assert row["from_brand"] is True
    assert outbox_refs(store) == []


def test_edit_updates_the_text_and_is_audited(client: FlaskClient, store: Store) -> None:
    post_meta(client, fixture_bytes("meta", "feed__comment_add"))
    post_meta(client, fixture_bytes("meta", "feed__comment_edited"))
    (row,) = interaction_rows(store)
    assert row["text"] == "Where can I buy this in Madrid? The online store says out of stock"
    assert row["edited_at"] is not None
    assert ("interaction.edited", f"facebook:{SUSIE_COMMENT}") in audit_actions(store)
    assert len(outbox_refs(store)) == 1


def test_edit_of_an_unseen_comment_is_stored_as_new(client: FlaskClient, store: Store) -> None:
    post_meta(client, fixture_bytes("meta", "feed__comment_edited"))
    (row,) = interaction_rows(store)
    assert row["external_id"] == SUSIE_COMMENT
    assert outbox_refs(store) == [row["id"]]


def test_removal_marks_the_comment_removed(client: FlaskClient, store: Store) -> None:
    post_meta(client, fixture_bytes("meta", "feed__comment_add"))
    post_meta(client, fixture_bytes("meta", "feed__comment_remove"))
    (row,) = interaction_rows(store)
    assert row["removed"] is True
    assert ("interaction.removed", f"facebook:{SUSIE_COMMENT}") in audit_actions(store)


def test_every_entry_and_change_is_stored(client: FlaskClient, store: Store) -> None:
    response = post_meta(client, fixture_bytes("meta", "feed__multiple_entries"))
    assert response.get_json()["new"] == 3
    assert len(interaction_rows(store)) == 3


@pytest.mark.parametrize("name", ["feed__post_item", "messaging__read", "unknown_object"])
def test_ignored_events_are_kept_raw_and_acknowledged(client: FlaskClient, store: Store, name: str) -> None:
    response = post_meta(client, fixture_bytes("meta", name))
    assert response.get_json() == {"status": "ok", "new": 0, "duplicates": 0}
    assert interaction_rows(store) == []
    (raw,) = raw_event_rows(store)
    assert raw["summary"]["ignored"] == EXPECTED[name]["ignored"]


def test_log_line_has_counts_and_no_signature(
    client: FlaskClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="ventanilla.webhooks")
    body = fixture_bytes("meta", "feed__comment_add")
    post_meta(client, body)
    assert "meta delivery: new=1 duplicates=0" in caplog.text
    assert sign_meta(body, META_APP_SECRET)["X-Hub-Signature-256"][7:] not in caplog.text
    assert META_APP_SECRET not in caplog.text
