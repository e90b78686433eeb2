"""POST /webhooks/hubspot: v3-signed ticket stage changes → status changes, stored before the 200."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector.config import config_from_dict
from connector.schema import outbox, raw_events, status_changes
from connector.store import JOB_SYNC, Store
from tests.conftest import base_config
from webhooks import create_app
from webhooks.hubspot_signature import sign_hubspot_v3

SECRET = "hubspot-client-secret-0123"
TICKET = "9001"
URL = "http://localhost/webhooks/hubspot"


def event(event_id: int = 3816279340, ticket: str = TICKET, stage: str = "4", **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 25,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "ticket.propertyChange",
        "attemptNumber": 0,
        "objectId": int(ticket),
        "propertyName": "hs_pipeline_stage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
        "sourceId": "userId:45678",
        **extra,
    }


@pytest.fixture
def hs_store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'hs.db'}")
    store.create_schema()
    store.save_link(
        "sales", "instagram:17841405309211844:17918195224117851", 1, "hubspot", TICKET, TICKET, None
    )
    return store


@pytest.fixture
def hs_client(tmp_path: Path, hs_store: Store) -> FlaskClient:
    data = base_config(
        tmp_path,
        desks=[{"name": "sales", "connector": "hubspot", "connection": "hubspot", "mapping": "hubspot.yaml"}],
        connections={"hubspot": {"access_token": "pat-unused", "client_secret": SECRET}},
    )
    return create_app(config_from_dict(data, base_dir=str(tmp_path)), store=hs_store).test_client()


def post(
    client: FlaskClient,
    events: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Any:
    raw = body if body is not None else json.dumps(events).encode()
    signed = headers if headers is not None else sign_hubspot_v3(raw, SECRET, URL)
    return client.post("/webhooks/hubspot", data=raw, headers=signed, content_type="application/json")


def count(store: Store, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_closed_stage_is_stored_once_and_queued_for_one_reply(
    hs_client: FlaskClient, hs_store: Store
) -> None:
    closing = [event(), event(event_id=1, ticket="424242"), event(event_id=2, propertyName="subject")]
    body = json.dumps(closing).encode()
    for _ in range(3):  # HubSpot retries up to 10 times over 24 h
        response = post(hs_client, closing, body=body)
        assert response.status_code == 200, response.get_json()
    with hs_store.engine.connect() as conn:
        rows = conn.execute(select(status_changes.c.ticket_id, status_changes.c.new_status)).all()
        syncs = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.kind == JOB_SYNC)
        ).scalar()
    assert [tuple(r) for r in rows] == [(TICKET, "resolved")]
    assert syncs == 1
    assert response.get_json() == {"status": "ok", "new": 0, "duplicates": 1}


def test_a_stale_or_wrongly_signed_webhook_gets_401_and_changes_nothing(
    hs_client: FlaskClient, hs_store: Store
) -> None:
    body = json.dumps([event()]).encode()
    stale = sign_hubspot_v3(body, SECRET, URL, timestamp_ms=int((time.time() - 301) * 1000))
    wrong = sign_hubspot_v3(body, "another-secret", URL)
    other_uri = sign_hubspot_v3(body, SECRET, "https://elsewhere.example/webhooks/hubspot")
    for headers in (stale, wrong, other_uri, {}):
        response = post(hs_client, [], headers=headers, body=body)
        assert response.status_code == 401
        assert response.get_json()["error"] == "invalid_signature"
    assert count(hs_store, raw_events) == count(hs_store, status_changes) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"[1]",
        b"not json",
        json.dumps(
            [{"eventId": "x", "objectId": 1, "occurredAt": 1, "subscriptionType": "ticket.propertyChange"}]
        ).encode(),
        json.dumps([event(occurredAt=10**30)]).encode(),
    ],
    ids=["object", "not-objects", "not-json", "string-id", "huge-timestamp"],
)
def test_signed_but_malformed_bodies_get_400(hs_client: FlaskClient, hs_store: Store, body: bytes) -> None:
    response = post(hs_client, [], body=body)
    assert response.status_code == 400 and response.get_json()["error"] == "malformed"
    assert count(hs_store, raw_events) == 0


def test_a_behind_the_proxy_url_is_what_gets_signed(tmp_path: Path, hs_store: Store) -> None:
    public = "https://support.example.com/hooks/hubspot"
    data = base_config(
        tmp_path,
        desks=[{"name": "sales", "connector": "hubspot", "connection": "hubspot", "mapping": "hubspot.yaml"}],
        connections={"hubspot": {"access_token": "pat", "client_secret": SECRET, "webhook_url": public}},
    )
    client = create_app(config_from_dict(data, base_dir=str(tmp_path)), store=hs_store).test_client()
    body = json.dumps([event()]).encode()
    ok = client.post(
        "/webhooks/hubspot?portal=7",
        data=body,
        content_type="application/json",
        headers=sign_hubspot_v3(body, SECRET, public + "?portal=7"),
    )
    assert ok.status_code == 200, ok.get_json()
