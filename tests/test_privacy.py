"""Right to erasure: one person disappears from every table, the other person stays, the audit says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.config import Config, config_from_dict
from connector.crm.local import list_local_tickets, resolve_ticket
from connector.crm.local_customers import import_customers, read_customer_csv
from connector.dispatcher import Dispatcher
from connector.privacy import ERASED, erase_person, pseudonym
from connector.runtime import Runtime
from connector.schema import customers, metadata, raw_events
from connector.store import Store
from tests.conftest import META_PAGE_ID, base_config
from tests.signing import compact, post_generic, post_meta, post_x
from webhooks import create_app

POST_ID = f"{META_PAGE_ID}_407298303721936"
X_BRAND = "2244994945"

ALICE_FB, BOB_FB = "3450000000000001", "3450000000000002"
ALICE_MSG, BOB_MSG = "7012345678900001", "7012345678900002"
ALICE_X, BOB_X = "900000000000000001", "900000000000000002"

ALICE_COMMENT = "My blender from order 7781 arrived with a cracked jug and nobody answers"
ALICE_EDITED = "Edited: the blender jug is cracked and the shop refuses to exchange it"
ALICE_DM = "Hola, soy Alice y mi pedido de la cafetera no ha llegado todavía, ¿qué pasa?"
ALICE_TWEET = (
    "@AcmeSupport third time I write about the same washing machine: they replaced the board, "
    "then the motor, and it still does not spin. I want a solution or my money back, today"
)
ALICE_X_DM = "Hi, this is about case 5512: the technician never showed up on Tuesday"
BOB_COMMENT = "The same blender model leaks water from the base every single time I use it"
BOB_DM = "Buenas, quiero cambiar la dirección de envío de mi pedido 4411 por favor"
BOB_TWEET = "@AcmeSupport the app crashes whenever I open my order history page, any fix?"

#: What must vanish when each of Alice's identities is erased, and what must stay of Bob.
ALICE = {
    "facebook": (ALICE_FB, ["Alice Fbexample", ALICE_COMMENT, ALICE_EDITED]),
    "messenger": (ALICE_MSG, [ALICE_DM]),
    "x": (ALICE_X, ["alice_xample", "Alicia Xample", ALICE_TWEET, ALICE_X_DM]),
}
BOB = [
    BOB_FB,
    BOB_MSG,
    BOB_X,
    "Bob Fbexample",
    "bob_xample",
    "Roberto Xample",
    BOB_COMMENT,
    BOB_DM,
    BOB_TWEET,
]


def feed_change(comment_id: str, user: str, name: str, text: str, verb: str = "add") -> dict[str, Any]:
    return {
        "field": "feed",
        "value": {
            "from": {"id": user, "name": name},
            "post": {"permalink_url": "https://www.facebook.com/acme/posts/407298303721936/", "id": POST_ID},
            "message": text,
            "post_id": POST_ID,
            "comment_id": comment_id,
            "created_time": 1763800000 + len(comment_id),
            "item": "comment",
            "parent_id": POST_ID,
            "verb": verb,
        },
    }


def meta_delivery(*changes: dict[str, Any], messaging: list[dict[str, Any]] | None = None) -> bytes:
    entry: dict[str, Any] = {"id": META_PAGE_ID, "time": 1763800000}
    if changes:
        entry["changes"] = list(changes)
    if messaging:
        entry["messaging"] = messaging
    return compact({"object": "page", "entry": [entry]})


def dm_event(mid: str, sender: str, text: str) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": META_PAGE_ID},
        "timestamp": 1763801199987,
        "message": {"mid": mid, "text": text},
    }


def tweet(
    tweet_id: str, user_id: str, handle: str, name: str, text: str, reply_to: str | None = None
) -> bytes:
    event: dict[str, Any] = {
        "created_at": "Mon Mar 17 12:00:00 +0000 2025",
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text if len(text) <= 140 else text[:139] + "… https://t.co/AbCdEf1234",
        "truncated": len(text) > 140,
        "in_reply_to_status_id_str": reply_to,
        "in_reply_to_screen_name": "alice_xample" if reply_to else None,
        "user": {"id": int(user_id), "id_str": user_id, "name": name, "screen_name": handle},
        "entities": {"user_mentions": [{"screen_name": "AcmeSupport", "id_str": X_BRAND}]},
        "lang": "en",
        "timestamp_ms": "1742212800000",
    }
    if len(text) > 140:
        event["extended_tweet"] = {"full_text": text}
    return compact({"for_user_id": X_BRAND, "tweet_create_events": [event]})


def x_dm(message_id: str, sender: str, handle: str, name: str, text: str) -> bytes:
    return compact(
        {
            "for_user_id": X_BRAND,
            "direct_message_events": [
                {
                    "type": "message_create",
                    "id": message_id,
                    "created_timestamp": "1742212900000",
                    "message_create": {
                        "target": {"recipient_id": X_BRAND},
                        "sender_id": sender,
                        "message_data": {"text": text},
                    },
                }
            ],
            "users": {
                sender: {"id": sender, "name": name, "screen_name": handle},
                X_BRAND: {"id": X_BRAND, "name": "Acme Support", "screen_name": "AcmeSupport"},
            },
        }
    )


def send(client: FlaskClient, path: str, body: bytes) -> None:
    response = (post_meta if path == "meta" else post_x)(client, body)
    assert response.status_code == 200, response.get_data(as_text=True)


def populate(store: Store, config: Config, tmp_path: Path) -> None:
    """Alice and Bob on Facebook (one delivery, one thread), Messenger and X; all answered."""
    client = create_app(config, store=store).test_client()
    csv = tmp_path / "customers.csv"
    csv.write_text(
        "customer_id,name,email,facebook_id,x_handle\n"
        f"C-A,Alice Crm,alice@example.com,{ALICE_FB},alice_xample\n"
        f"C-B,Bob Crm,bob@example.com,{BOB_FB},bob_xample\n",
        encoding="utf-8",
    )
    import_customers(store, read_customer_csv(csv))
    send(
        client,
        "meta",
        meta_delivery(
            feed_change("407298303721936_1", ALICE_FB, "Alice Fbexample", ALICE_COMMENT),
            feed_change("407298303721936_22", BOB_FB, "Bob Fbexample", BOB_COMMENT),
        ),
    )
    send(client, "meta", meta_delivery(messaging=[dm_event("m_alice", ALICE_MSG, ALICE_DM)]))
    send(client, "meta", meta_delivery(messaging=[dm_event("m_bob", BOB_MSG, BOB_DM)]))
    send(client, "x", tweet("1901000000000000001", ALICE_X, "alice_xample", "Alicia Xample", ALICE_TWEET))
    send(client, "x", tweet("1901000000000000002", BOB_X, "bob_xample", "Roberto Xample", BOB_TWEET))
    send(client, "x", x_dm("954491830116155001", ALICE_X, "alice_xample", "Alicia Xample", ALICE_X_DM))
    runtime = Runtime(config, store)
    Dispatcher(runtime).run_until_idle()
    # The edit comes later, in a delivery of its own: the audit keeps old and new text.
    send(
        client,
        "meta",
        meta_delivery(feed_change("407298303721936_1", ALICE_FB, "Alice Fbexample", ALICE_EDITED, "edited")),
    )
    # The brand answers Alice's tweet in public; X echoes it back.
    send(
        client,
        "x",
        tweet(
            "1901000000000000003",
            X_BRAND,
            "AcmeSupport",
            "Acme",
            "@alice_xample so sorry, DM us",
            "1901000000000000001",
        ),
    )
    store.cache_customers(
        "hubspot", {f"x:{ALICE_X}": {"customer_id": "77"}, f"x:{BOB_X}": {"customer_id": "78"}}, 3600
    )
    store.set_state("x_followers", "alice_xample", {"followers": 12})
    store.set_state("x_followers", "bob_xample", {"followers": 34})
    for ticket in list_local_tickets(store):
        note = "Refunded Alice Fbexample" if ticket["thread_key"].startswith("facebook:") else "done"
        resolve_ticket(store, ticket["id"], note)
    Dispatcher(runtime).run_until_idle()
    assert len(store.list_replies()) == 6
    assert all(reply.state == "posted" for reply in store.list_replies())


def database_text(store: Store) -> dict[str, str]:
    """Every table as one string of all its values (JSON both escaped and not), for searching."""
    found: dict[str, str] = {}
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            parts = []
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, dict | list):
                        parts += [json.dumps(value), json.dumps(value, ensure_ascii=False)]
                    else:
                        parts.append(str(value))
            found[table.name] = "\n".join(parts)
    return found


def occurrences(text: dict[str, str], needle: str) -> dict[str, int]:
    """Where ``needle`` (or, for a long text, its first 24 characters) occurs, case-insensitively."""
    probe = needle[:24].lower()
    counts = {name: value.lower().count(probe) for name, value in text.items()}
    return {name: count for name, count in counts.items() if count}


@pytest.fixture
def loaded(any_store: Store, tmp_path: Path) -> tuple[Store, Config]:
    config = config_from_dict(base_config(tmp_path, database_url=any_store.url), base_dir=str(tmp_path))
    populate(any_store, config, tmp_path)
    return any_store, config


@pytest.mark.parametrize("platform", sorted(ALICE))
def test_erasure_removes_every_trace_and_leaves_the_other_person_alone(
    loaded: tuple[Store, Config], platform: str
) -> None:
    store, _ = loaded
    user_id, needles = ALICE[platform]
    before = database_text(store)
    for needle in [user_id, *needles]:
        assert occurrences(before, needle), f"the scenario never stored {needle!r}"
    bob_before = {needle: occurrences(before, needle) for needle in BOB}
    bob_rows = bobs_interactions(store)

    report = erase_person(store, platform, user_id, actor="tester")

    after = database_text(store)
    leftovers = {needle: occurrences(after, needle) for needle in [user_id, *needles]}
    assert leftovers == {needle: {} for needle in leftovers}
    assert {needle: occurrences(after, needle) for needle in BOB} == bob_before
    assert bobs_interactions(store) == bob_rows
    assert report.found and report.interactions >= 1 and report.raw_events >= 1
    assert report.lines()[0].startswith(f"Erased {platform}:{user_id}")
    with store.engine.connect() as conn:
        for (body,) in conn.execute(select(raw_events.c.body)):
            json.loads(body)  # still JSON, wherever it was
        assert {row.customer_id for row in conn.execute(select(customers))} == {"C-A", "C-B"}
    (entry,) = [e for e in store.audit_entries() if e["action"] == "privacy.erased"]
    assert entry["subject"] == pseudonym(platform, user_id) and entry["actor"] == "tester"
    assert all(isinstance(count, int) for count in entry["detail"].values())
    assert entry["detail"] == report.counts()


def test_the_erased_persons_records_keep_their_shape(loaded: tuple[Store, Config]) -> None:
    store, _ = loaded
    erase_person(store, "x", ALICE_X)
    alias = pseudonym("x", ALICE_X)
    mine = [i for i in store_interactions(store) if i["author_key"] == f"x:{alias}"]
    assert len(mine) == 2
    for row in mine:
        assert row["text"] == ERASED and row["raw"] == {} and row["permalink"] is None
        assert row["author"]["platform_user_id"] == alias and row["author"]["handle"] is None
        assert row["triage"]["priority"] in ("P1", "P2", "P3", "P4")
        assert '"' not in row["triage"]["explanation"]
    dm_thread = f"x:{X_BRAND}:{alias}"
    assert any(i["thread_key"] == dm_thread for i in mine)
    assert store.current_link("support", dm_thread) is not None
    brand_echo = next(i for i in store_interactions(store) if i["from_brand"] and i["platform"] == "x")
    assert brand_echo["text"] == ERASED
    texts = {reply.thread_key: reply.text for reply in store.list_replies()}
    assert texts[dm_thread] == ERASED
    assert all(text != ERASED for key, text in texts.items() if not key.startswith("x:"))


def bobs_interactions(store: Store) -> list[dict[str, Any]]:
    keys = {f"facebook:{BOB_FB}", f"messenger:{BOB_MSG}", f"x:{BOB_X}"}
    return [row for row in store_interactions(store) if row["author_key"] in keys]


def store_interactions(store: Store) -> list[dict[str, Any]]:
    from connector.schema import interactions

    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(interactions).order_by(interactions.c.id))]


def test_a_second_run_touches_nothing_and_says_so(loaded: tuple[Store, Config]) -> None:
    store, _ = loaded
    erase_person(store, "facebook", ALICE_FB)
    before = database_text(store)
    again = erase_person(store, "facebook", ALICE_FB)
    assert database_text(store) == before
    assert again.touched == 0 and again.found and again.erased_before is not None
    assert "already erased" in again.lines()[0]
    assert [e["action"] for e in store.audit_entries()].count("privacy.erased") == 1


def test_someone_never_seen_gets_a_clear_message(store: Store) -> None:
    report = erase_person(store, "x", "123456789012")
    assert not report.found and report.touched == 0
    assert report.lines() == [
        "Nothing is stored about x:123456789012: no interaction, event, link or copy names them."
    ]
    assert store.audit_entries() == []


def test_an_empty_user_id_is_refused_rather_than_erasing_every_unknown_author(store: Store) -> None:
    with pytest.raises(ValueError, match="user id"):
        erase_person(store, "facebook", " ")


def test_an_unsent_reply_to_them_is_rejected_so_erased_is_never_published(
    tmp_path: Path,
) -> None:
    config = config_from_dict(base_config(tmp_path, publish={"mode": "approve"}), base_dir=str(tmp_path))
    store = Store(config.database_url)
    store.create_schema()
    client = create_app(config, store=store).test_client()
    send(client, "meta", meta_delivery(messaging=[dm_event("m_alice", ALICE_MSG, ALICE_DM)]))
    runtime = Runtime(config, store)
    Dispatcher(runtime).run_until_idle()
    (ticket,) = list_local_tickets(store)
    resolve_ticket(store, ticket["id"], "done")
    Dispatcher(runtime).run_until_idle()
    assert [r.state for r in store.list_replies()] == ["awaiting_approval"]
    report = erase_person(store, "messenger", ALICE_MSG)
    (reply,) = store.list_replies()
    assert (reply.state, reply.text) == ("rejected", ERASED)
    assert report.replies == 1
    store.dispose()


def test_a_pending_interaction_is_not_turned_into_a_ticket_after_erasure(
    store: Store, config: Config
) -> None:
    client = create_app(config, store=store).test_client()
    send(client, "meta", meta_delivery(messaging=[dm_event("m_alice", ALICE_MSG, ALICE_DM)]))
    report = erase_person(store, "messenger", ALICE_MSG)
    assert report.jobs == 1
    Dispatcher(Runtime(config, store)).run_until_idle()
    assert list_local_tickets(store) == []


def test_a_quote_of_them_keeps_the_quoters_words_but_loses_theirs(store: Store, config: Config) -> None:
    client = create_app(config, store=store).test_client()
    send(client, "x", tweet("1901000000000000001", ALICE_X, "alice_xample", "Alicia Xample", ALICE_TWEET))
    quote = json.loads(tweet("1901000000000000009", BOB_X, "bob_xample", "Roberto Xample", BOB_TWEET))
    event = quote["tweet_create_events"][0]
    event["text"] = "@alice_xample same here " + BOB_TWEET
    event["is_quote_status"] = True
    event["quoted_status"] = json.loads(
        tweet("1901000000000000001", ALICE_X, "alice_xample", "Alicia Xample", ALICE_TWEET)
    )["tweet_create_events"][0]
    send(client, "x", compact(quote))

    erase_person(store, "x", ALICE_X)

    bob = next(i for i in store_interactions(store) if i["author_key"] == f"x:{BOB_X}")
    assert bob["text"] == f"{ERASED} same here {BOB_TWEET}"  # only the @mention of her goes
    quoted = bob["raw"]["quoted_status"]
    assert quoted["user"] == {"id": ERASED, "id_str": ERASED, "name": ERASED, "screen_name": ERASED}
    assert quoted["extended_tweet"]["full_text"] == ERASED and ERASED in quoted["text"]
    assert bob["raw"]["user"]["screen_name"] == "bob_xample"
    assert occurrences(database_text(store), ALICE_TWEET) == {}


def test_short_ids_and_short_texts_go_where_they_are_known_to_be_theirs(store: Store, config: Config) -> None:
    client = create_app(config, store=store).test_client()
    for external_id, user, text in (("r-1", "u-1", "ok!"), ("r-2", "u-2", "ok!")):
        body = json.dumps(
            {
                "platform": "generic",
                "kind": "review",
                "external_id": external_id,
                "author": {"platform_user_id": user, "display_name": f"Reviewer {user}"},
                "text": text,
                "created_at": "2026-11-22T10:00:00Z",
                "raw": {"stars": 1},
            }
        ).encode()
        response = post_generic(client, body, msg_id=f"msg_{external_id}")
        assert response.status_code == 200, response.get_json()

    report = erase_person(store, "generic", "u-1")

    assert report.interactions == 1 and report.raw_events == 1
    with store.engine.connect() as conn:
        bodies = [json.loads(body) for (body,) in conn.execute(select(raw_events.c.body))]
    mine, theirs = sorted(bodies, key=lambda b: b["external_id"])
    assert mine["author"] == {"platform_user_id": ERASED, "display_name": ERASED}
    assert mine["text"] == ERASED and mine["raw"] == {"stars": 1}
    assert theirs["author"]["platform_user_id"] == "u-2" and theirs["text"] == "ok!"
