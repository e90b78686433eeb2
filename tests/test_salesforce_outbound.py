"""POST /webhooks/salesforce/outbound: Outbound Message notifications → status changes → Ack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connector.config import Config, config_from_dict
from connector.schema import outbox, raw_events, status_changes
from connector.store import JOB_SYNC, Store
from tests.conftest import base_config
from webhooks import create_app

FIXTURES = Path(__file__).parent / "fixtures" / "salesforce"
ORG_ID = "00D70000000IVNpEAO"
CASE_ID = "5007000000OFL5FAAX"
XML = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def salesforce_config(tmp_path: Path, organization_id: str = ORG_ID) -> Config:
    data = base_config(
        tmp_path,
        desks=[
            {"name": "cases", "connector": "salesforce", "connection": "org", "mapping": "salesforce.yaml"}
        ],
        connections={
            "org": {
                "instance_url": "https://127.0.0.1:9",
                "token_url": "https://127.0.0.1:9/services/oauth2/token",
                "auth": "access_token",
                "access_token": "unused-here",
                "organization_id": organization_id,
            }
        },
    )
    return config_from_dict(data, base_dir=str(tmp_path))


@pytest.fixture
def sf_store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'sf.db'}")
    store.create_schema()
    store.save_link("cases", "x:2244994945:1901612345678901234", 1, "salesforce", CASE_ID, "00001026", None)
    return store


def client_for(tmp_path: Path, store: Store, organization_id: str = ORG_ID) -> FlaskClient:
    return create_app(salesforce_config(tmp_path, organization_id), store=store).test_client()


def count(store: Store, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_closed_case_is_acknowledged_and_queued_for_one_reply(tmp_path: Path, sf_store: Store) -> None:
    client = client_for(tmp_path, sf_store)
    for _ in range(3):  # Salesforce redelivers until it gets the Ack
        response = client.post(
            "/webhooks/salesforce/outbound", data=fixture("outbound__case_closed.xml"), headers=XML
        )
        assert response.status_code == 200
        assert response.mimetype == "text/xml"
        assert b"<Ack>true</Ack>" in response.data
        assert b"http://soap.sforce.com/2005/09/outbound" in response.data
    with sf_store.engine.connect() as conn:
        changes = conn.execute(select(status_changes.c.ticket_id, status_changes.c.new_status)).all()
        sync_jobs = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.kind == JOB_SYNC)
        ).scalar()
    assert [tuple(row) for row in changes] == [(CASE_ID, "resolved")]  # the second Case is not ours
    assert sync_jobs == 1
    assert count(sf_store, raw_events) == 3


def test_a_15_character_org_id_in_the_config_matches(tmp_path: Path, sf_store: Store) -> None:
    client = client_for(tmp_path, sf_store, organization_id=ORG_ID[:15])
    response = client.post(
        "/webhooks/salesforce/outbound", data=fixture("outbound__case_closed.xml"), headers=XML
    )
    assert response.status_code == 200


BAD_INPUTS = [
    (
        "another org",
        fixture("outbound__case_closed.xml").replace(b"00D70000000IVNpEAO", b"00D99999999ZZZZEAO"),
        XML,
        401,
        "unauthorized",
    ),
    ("billion laughs", fixture("outbound__entity_expansion.xml"), XML, 400, "malformed"),
    ("external entity", fixture("outbound__external_entity.xml"), XML, 400, "malformed"),
    ("not XML", b'{"Ack": true}', XML, 400, "malformed"),
    ("truncated", fixture("outbound__case_closed.xml")[:300], XML, 400, "malformed"),
    (
        "JSON content type",
        fixture("outbound__case_closed.xml"),
        {"Content-Type": "application/json"},
        415,
        "unsupported_media_type",
    ),
    (
        "no notifications",
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
        b'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D70000000IVNpEAO'
        b"</OrganizationId></notifications></e:Body></e:Envelope>",
        XML,
        400,
        "malformed",
    ),
    (
        "wrong namespace",
        fixture("outbound__case_closed.xml").replace(b"2005/09/outbound", b"2099/01/outbound"),
        XML,
        400,
        "malformed",
    ),
    (
        "too many notifications",
        fixture("outbound__case_closed.xml").replace(
            b"<Notification>",
            b"<Notification><Id>x</Id><sObject><sf:Id xmlns:sf='urn:x'>1</sf:Id></sObject>"
            b"</Notification>" * 100 + b"<Notification>",
            1,
        ),
        XML,
        400,
        "malformed",
    ),
]


@pytest.mark.parametrize(
    ("label", "body", "headers", "status", "code"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_outbound_messages_are_refused_and_nothing_is_stored(
    tmp_path: Path, sf_store: Store, label: str, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response = client_for(tmp_path, sf_store).post(
        "/webhooks/salesforce/outbound", data=body, headers=headers
    )
    assert (response.status_code, response.get_json()["error"]) == (status, code), label
    assert count(sf_store, raw_events) == 0
    assert count(sf_store, status_changes) == 0


def test_without_a_configured_org_everything_is_refused(tmp_path: Path, store: Store) -> None:
    client = create_app(config_from_dict(base_config(tmp_path)), store=store).test_client()
    response = client.post(
        "/webhooks/salesforce/outbound", data=fixture("outbound__case_closed.xml"), headers=XML
    )
    assert response.status_code == 401
