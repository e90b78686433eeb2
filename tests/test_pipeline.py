"""The loop after the 200: identify, triage, one ticket per thread, lifecycle, reply, dead letters."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from connector.config import Config, config_from_dict
from connector.crm.base import ConnectorError
from connector.crm.local import LocalDesk, TicketStateError, list_local_tickets, resolve_ticket
from connector.crm.local_customers import import_customers, read_customer_csv
from connector.dispatcher import Dispatcher
from connector.model import utcnow
from connector.runtime import Runtime
from connector.schema import thread_links
from connector.store import Store
from tests.conftest import META_APP_SECRET, META_PAGE_ID, base_config
from tests.signing import compact, post_x
from webhooks import create_app
from webhooks.signatures import sign_meta

POST_ID = f"{META_PAGE_ID}_407298303721936"


def comment(
    comment_id: str,
    text: str,
    user: str = "3450429531722233",
    parent: str | None = None,
    created: int = 1763800000,
) -> dict[str, Any]:
    return {
        "object": "page",
        "entry": [
            {
                "id": META_PAGE_ID,
                "time": created,
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "from": {"id": user, "name": "Susie Example"},
                            "message": text,
                            "post_id": POST_ID,
                            "comment_id": comment_id,
                            "created_time": created,
                            "item": "comment",
                            "parent_id": parent or POST_ID,
                            "verb": "add",
                        },
                    }
                ],
            }
        ],
    }


def messenger(mid: str, text: str, sender: str = "6100000000000009") -> dict[str, Any]:
    return {
        "object": "page",
        "entry": [
            {
                "id": META_PAGE_ID,
                "time": 1763801200123,
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": META_PAGE_ID},
                        "timestamp": 1763801199987,
                        "message": {"mid": mid, "text": text},
                    }
                ],
            }
        ],
    }


def post_meta(client: FlaskClient, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    headers = {**sign_meta(body, META_APP_SECRET), "Content-Type": "application/json"}
    response = client.post("/webhooks/meta", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def runtime(config: Config, store: Store) -> Runtime:
    return Runtime(config, store)


@pytest.fixture
def dispatcher(runtime: Runtime) -> Dispatcher:
    return Dispatcher(runtime)


def test_a_thread_makes_one_ticket_and_replies_are_follow_ups(
    client: FlaskClient, store: Store, dispatcher: Dispatcher
) -> None:
    post_meta(client, comment("407298303721936_1", "Me cobraron dos veces el pedido 88123"))
    dispatcher.run_until_idle()
    post_meta(
        client,
        comment(
            "407298303721936_2", "Sigo esperando respuesta", parent="407298303721936_1", created=1763800600
        ),
    )
    dispatcher.run_until_idle()
    (ticket,) = list_local_tickets(store)
    assert ticket["interaction_count"] == 2
    assert ticket["status"] == "open"
    assert ticket["priority"] in ("P1", "P2", "P3", "P4")
    assert ticket["explanation"]


def test_the_same_payload_three_times_yields_one_ticket(
    client: FlaskClient, store: Store, dispatcher: Dispatcher
) -> None:
    for _ in range(3):
        post_meta(client, comment("407298303721936_1", "No funciona la app"))
    dispatcher.run_until_idle()
    (ticket,) = list_local_tickets(store)
    assert ticket["interaction_count"] == 1


def test_the_brands_own_reply_never_makes_a_ticket(
    client: FlaskClient, store: Store, dispatcher: Dispatcher
) -> None:
    post_meta(client, comment("407298303721936_5", "Hola, te escribimos por privado", user=META_PAGE_ID))
    dispatcher.run_until_idle()
    assert list_local_tickets(store) == []


def resolved_reply_cycle(client: FlaskClient, store: Store, dispatcher: Dispatcher) -> dict[str, Any]:
    post_meta(client, comment("407298303721936_1", "My order never arrived"))
    dispatcher.run_until_idle()
    (ticket,) = list_local_tickets(store)
    resolve_ticket(store, ticket["id"], "Refunded")
    dispatcher.run_until_idle()
    return ticket


def test_resolution_produces_exactly_one_reply(
    client: FlaskClient, store: Store, dispatcher: Dispatcher
) -> None:
    ticket = resolved_reply_cycle(client, store, dispatcher)
    (reply,) = store.list_replies()
    assert (reply.ticket_id, reply.platform, reply.in_reply_to) == (
        ticket["id"],
        "facebook",
        "407298303721936_1",
    )
    assert reply.state == "posted" and reply.mode == "dry-run"
    assert "Refunded" not in reply.text  # the internal note is never posted
    with pytest.raises(TicketStateError):
        resolve_ticket(store, ticket["id"], "again")
    dispatcher.run_until_idle()
    assert len(store.list_replies()) == 1


def test_redelivered_status_change_does_not_reply_twice(
    client: FlaskClient, store: Store, runtime: Runtime, dispatcher: Dispatcher
) -> None:
    resolved_reply_cycle(client, store, dispatcher)
    (change,) = LocalDesk(store, "support").read_status_changes(None)
    assert store.record_status_change("support", change) is None
    dispatcher.run_until_idle()
    assert len(store.list_replies()) == 1


def test_a_new_message_reopens_a_ticket_resolved_within_the_window(
    client: FlaskClient, store: Store, dispatcher: Dispatcher
) -> None:
    ticket = resolved_reply_cycle(client, store, dispatcher)
    post_meta(
        client, comment("407298303721936_3", "It broke again", parent="407298303721936_1", created=1763900000)
    )
    dispatcher.run_until_idle()
    (reopened,) = list_local_tickets(store)
    assert (reopened["id"], reopened["status"], reopened["interaction_count"]) == (ticket["id"], "open", 2)


def test_after_the_window_a_new_linked_ticket_is_opened(
    client: FlaskClient, store: Store, dispatcher: Dispatcher
) -> None:
    ticket = resolved_reply_cycle(client, store, dispatcher)
    with store.engine.begin() as conn:
        conn.execute(update(thread_links).values(resolved_at=utcnow() - timedelta(days=8)))
    post_meta(
        client, comment("407298303721936_3", "It broke again", parent="407298303721936_1", created=1763900000)
    )
    dispatcher.run_until_idle()
    old, new = list_local_tickets(store)
    assert old["status"] == "resolved"
    assert (new["status"], new["linked_ticket_id"], new["thread_key"]) == (
        "open",
        ticket["id"],
        old["thread_key"],
    )


def test_customers_are_matched_by_social_id_and_by_email_in_a_private_message(
    client: FlaskClient, store: Store, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text(
        "customer_id,name,email,value,tier,facebook_id\n"
        "C-1,Susie,susie@example.com,60000,gold,3450429531722233\n"
        "C-2,Leo,leo@example.com,100,,\n",
        encoding="utf-8",
    )
    import_customers(store, read_customer_csv(csv))
    post_meta(client, comment("407298303721936_1", "The kettle is broken"))
    post_meta(client, messenger("m_1", "My order is late, my email is Leo@Example.com"))
    dispatcher.run_until_idle()
    by_platform = {t["thread_key"].split(":")[0]: t for t in list_local_tickets(store)}
    assert by_platform["facebook"]["customer_id"] == "C-1"
    assert by_platform["messenger"]["customer_id"] == "C-2"


def test_routing_sends_each_interaction_to_the_first_matching_desk(tmp_path: Path) -> None:
    data = base_config(
        tmp_path,
        desks=[
            {"name": "marketing", "connector": "local", "when": {"platforms": ["messenger"]}},
            {"name": "support", "connector": "local"},
        ],
    )
    config = config_from_dict(data, base_dir=str(tmp_path))
    store = Store(config.database_url)
    store.create_schema()
    client = create_app(config, store=store).test_client()
    post_meta(client, comment("407298303721936_1", "No funciona"))
    post_meta(client, messenger("m_1", "¿Tienen tallas grandes?"))
    Dispatcher(Runtime(config, store)).run_until_idle()
    desks = {t["thread_key"].split(":")[0]: t["desk"] for t in list_local_tickets(store)}
    assert desks == {"facebook": "support", "messenger": "marketing"}
    store.dispose()


class FailingDesk(LocalDesk):
    """A desk whose system is down: every ticket call fails like a network error would."""

    def upsert_tickets(self, drafts: Any) -> Any:
        raise ConnectorError("desk unavailable (HTTP 503)")


def test_failures_become_dead_letters_and_replaying_twice_creates_one_ticket(
    client: FlaskClient, store: Store, runtime: Runtime
) -> None:
    healthy = runtime.connectors["support"]
    runtime.connectors["support"] = FailingDesk(store, "support")
    post_meta(client, comment("407298303721936_1", "No funciona"))
    dispatcher = Dispatcher(runtime)
    for _ in range(runtime.config.dispatcher.max_attempts):
        dispatcher.run_until_idle()
        with store.engine.begin() as conn:  # skip the stored backoff instead of sleeping
            from connector.schema import outbox

            conn.execute(update(outbox).where(outbox.c.state == "pending").values(next_attempt_at=utcnow()))
    (dead,) = store.list_dead_letters()
    assert "HTTP 503" in dead.error and dead.attempts == runtime.config.dispatcher.max_attempts
    runtime.connectors["support"] = healthy
    store.replay_dead_letters([dead.id])
    store.replay_dead_letters([dead.id])
    dispatcher.run_until_idle()
    assert len(list_local_tickets(store)) == 1
    assert store.list_dead_letters() == []


def tweet(
    tweet_id: str, text: str, user_id: str, screen_name: str, reply_to: str | None = None
) -> dict[str, Any]:
    return {
        "for_user_id": "2244994945",
        "tweet_create_events": [
            {
                "created_at": "Mon Mar 17 12:00:00 +0000 2025",
                "id_str": tweet_id,
                "text": text,
                "in_reply_to_status_id_str": reply_to,
                "in_reply_to_user_id_str": "2244994945" if reply_to else None,
                "user": {
                    "id_str": user_id,
                    "screen_name": screen_name,
                    "followers_count": 10,
                    "verified": False,
                },
                "entities": {"user_mentions": [{"screen_name": "AcmeSupport", "id_str": "2244994945"}]},
                "lang": "en",
                "timestamp_ms": "1742212800000",
            }
        ],
    }


def test_a_reply_to_the_brands_reply_stays_on_the_customers_thread(
    client: FlaskClient, store: Store, dispatcher: Dispatcher
) -> None:
    post_x(client, compact(tweet("100", "@AcmeSupport my order never arrived", "987", "janedoe")))
    post_x(client, compact(tweet("101", "@janedoe sorry! DM us", "2244994945", "AcmeSupport", "100")))
    post_x(client, compact(tweet("102", "@AcmeSupport still nothing", "987", "janedoe", "101")))
    dispatcher.run_until_idle()
    (ticket,) = list_local_tickets(store)
    assert (ticket["thread_key"], ticket["interaction_count"]) == ("x:2244994945:100", 2)


def test_an_agent_reply_with_personal_data_is_blocked_and_never_posted(
    client: FlaskClient, store: Store, dispatcher: Dispatcher
) -> None:
    post_meta(client, comment("407298303721936_1", "My order never arrived"))
    dispatcher.run_until_idle()
    (ticket,) = list_local_tickets(store)
    resolve_ticket(
        store, ticket["id"], "done", public_reply="Call Ana on +34 612 345 678 or ana@acme.example"
    )
    dispatcher.run_until_idle()
    (reply,) = store.list_replies()
    assert reply.state == "blocked" and reply.platform_reply_id is None
    assert "612" not in reply.text and "ana@" not in reply.text
    assert [e["action"] for e in store.audit_entries(f"local:{ticket['id']}")][-1] == "reply.blocked"


def test_personal_data_in_public_moves_the_answer_to_a_private_channel(
    client: FlaskClient, store: Store, dispatcher: Dispatcher
) -> None:
    post_meta(client, comment("407298303721936_1", "No me llega el pedido, mi teléfono es 612 345 678"))
    dispatcher.run_until_idle()
    (ticket,) = list_local_tickets(store)
    assert "PII: phone" in ticket["explanation"]
    resolve_ticket(store, ticket["id"], "done")
    dispatcher.run_until_idle()
    (reply,) = store.list_replies()
    # The comment is older than Meta's 7-day private-reply window: a public invitation.
    assert reply.channel == "public" and reply.state == "posted"
    assert "privado" in reply.text and "612" not in reply.text


def test_a_closed_ticket_gets_the_closed_template(
    client: FlaskClient, store: Store, dispatcher: Dispatcher
) -> None:
    post_meta(client, comment("407298303721936_1", "Where can I buy this?"))
    dispatcher.run_until_idle()
    (ticket,) = list_local_tickets(store)
    resolve_ticket(store, ticket["id"], "out of stock for good", status="closed")
    dispatcher.run_until_idle()
    (reply,) = store.list_replies()
    assert reply.state == "posted" and "out of stock" not in reply.text
