"""The HubSpot connector against the emulator, through hubspot-api-client over real HTTPS.

Assertions look at both sides: what the connector returns, and the requests the emulator
logged (method, path, body, status), so the protocol itself is under test.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from flask.testing import FlaskClient

from connector.cli import main
from connector.config import ConfigError, config_from_dict
from connector.crm.base import ConnectorError, FollowUp, IdentifyRequest, RecordFailure
from connector.crm.batching import RateLimitedError, RetryableError
from connector.crm.hubspot import HubSpotConnector, note_body
from connector.crm.hubspot_client import translate_error
from connector.crm.hubspot_settings import HubSpotSettings, RateLimitSettings, load_settings
from connector.crm.local import list_local_tickets
from connector.crm.matching import marker_for
from connector.crm.rate_limit import TokenBucket
from connector.dispatcher import Dispatcher
from connector.model import Author, Customer, InboundBatch, Interaction, TicketRef
from connector.runtime import Runtime
from connector.store import Store
from mappings import Mapping, load_mapping, load_mapping_text
from tests.conftest import X_BRAND_IDS, base_config
from tests.emulators.hubspot import HubSpotEmulator
from tests.emulators.tls import TlsMaterial, make_tls
from tests.hubspot_support import CLIENT_SECRET, TOKEN, bodies, connection, connector, paths
from tests.salesforce_support import draft, interaction
from tests.signing import post_x
from tests.signing import x_delivery as tweet
from webhooks import create_app
from webhooks.hubspot_signature import sign_hubspot_v3

SHIPPED = Path(__file__).parents[1] / "mappings" / "hubspot.yaml"
MAPPING = load_mapping("hubspot.yaml")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def emulator(tls: TlsMaterial) -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(tls) as emu:
        emu.add_token(TOKEN)
        yield emu


@pytest.fixture
def hs(store: Store, emulator: HubSpotEmulator) -> HubSpotConnector:
    return connector(store, emulator)


def tickets(results: list[TicketRef | RecordFailure]) -> list[TicketRef]:
    refs = [r for r in results if isinstance(r, TicketRef)]
    assert len(refs) == len(results), results
    return refs


def calls(emulator: HubSpotEmulator) -> list[str]:
    """``METHOD /path`` of every answered request, without the API prefix noise."""
    return [f"{method} {path}" for method, path, _ in paths(emulator)]


def mapping_with(old: str, new: str) -> Mapping:
    """The shipped mapping with every ``old`` replaced by ``new``."""
    text = SHIPPED.read_text()
    assert old in text
    return load_mapping_text(text.replace(old, new), "custom.yaml")


def customer(contact_id: str, company_id: str | None = None) -> Customer:
    return Customer("hubspot", contact_id, company_id, matched_by="social_id", confidence=1.0)


# --- settings and wiring ---------------------------------------------------------------------


def test_settings_never_show_secrets_and_problems_name_the_key(tmp_path: Path) -> None:
    parsed = HubSpotSettings.model_validate(
        {"access_token": "pat-hunter2-token", "client_secret": "hunter2-secret"}
    )
    shown = repr(parsed) + str(parsed.model_dump())
    assert "hunter2" not in shown and parsed.account_key.startswith("token-")
    cases: list[tuple[dict[str, dict[str, Any]], str]] = [
        ({}, "connections.hubspot: missing"),
        (
            {"hubspot": {"client_secret": "hunter2-secret"}},
            "connections.hubspot.access_token: Field required",
        ),
        (
            {"hubspot": {"access_token": "t", "batch_size": 500}},
            "connections.hubspot.batch_size: Input should",
        ),
        (
            {"hubspot": {"access_token": "t", "acces_token": "x"}},
            "connections.hubspot.acces_token: Extra inputs",
        ),
        (
            {"hubspot": {"access_token": "t", "ca_bundle": "nope.pem"}},
            "connections.hubspot.ca_bundle: no such file",
        ),
        (
            {"hubspot": {"access_token": "t", "rate_limit": {"time_zone": "Mars/Olympus"}}},
            "connections.hubspot.rate_limit.time_zone: Value error, unknown time zone",
        ),
    ]
    for connections, expected in cases:
        with pytest.raises(ConfigError) as caught:
            load_settings(connections, "hubspot", tmp_path)
        assert str(caught.value).startswith(expected), caught.value
        assert "hunter2" not in str(caught.value)


def test_runtime_wires_hubspot_desks_and_names_missing_settings(tmp_path: Path) -> None:
    desk = {"name": "sales", "connector": "hubspot", "connection": "crm", "mapping": "hubspot.yaml"}
    data = base_config(tmp_path, desks=[desk], connections={})
    with pytest.raises(ConfigError, match=r"connections\.crm: missing"):
        Runtime(config_from_dict(data, base_dir=str(tmp_path)))
    data["connections"] = {"crm": {"access_token": "pat-x", "signature_versions": ["v3"]}}
    runtime = Runtime(config_from_dict(data, base_dir=str(tmp_path)))
    assert isinstance(runtime.connector("sales"), HubSpotConnector)
    keyless = SHIPPED.read_text().replace("  key_field: ventanilla_thread_key\n", "")
    (tmp_path / "keyless.yaml").write_text(keyless)
    data["desks"] = [{**desk, "mapping": "keyless.yaml"}]
    with pytest.raises(ConfigError, match=r"needs target\.key_field for hubspot"):
        Runtime(config_from_dict(data, base_dir=str(tmp_path)))


def test_shipped_mapping() -> None:
    target = MAPPING.target
    assert target is not None
    assert (target.key_field, target.status_field, target.number_field) == (
        "ventanilla_thread_key",
        "hs_pipeline_stage",
        "hs_object_id",
    )
    assert (target.followup.object, target.followup.body_field, target.followup.association_type_id) == (
        "notes",
        "hs_note_body",
        228,
    )
    assert [(s.strategy, s.field, s.unique) for s in MAPPING.customer_match][:2] == [
        ("social_id", "ventanilla_social_id", True),
        ("handle", "twitterhandle", False),
    ]
    assert (MAPPING.status_for("3"), MAPPING.status_for("4"), MAPPING.desk_status_for("open")) == (
        "open",
        "resolved",
        "1",
    )


# --- identify --------------------------------------------------------------------------------------


def test_every_strategy_is_batched_and_searches_share_requests(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    """150 X authors by id, 30 by handle, 20 Instagram handles, 40 Facebook ids, 5 by email."""
    expected: dict[str, tuple[str, str]] = {}
    requests = []
    for n in range(150):
        expected[f"x:{n}"] = (emulator.add_record("contacts", {"ventanilla_social_id": str(n)}), "social_id")
        requests.append(IdentifyRequest(Author("x", str(n), handle=f"someone{n}")))
    for n in range(30):
        contact = emulator.add_record("contacts", {"twitterhandle": f"Handle{n}" if n % 2 else f"@handle{n}"})
        expected[f"x:h{n}"] = (contact, "handle")
        requests.append(IdentifyRequest(Author("x", f"h{n}", handle=f"@HANDLE{n}")))
    for n in range(20):
        expected[f"instagram:i{n}"] = (
            emulator.add_record("contacts", {"instagram_handle": f"ig{n}"}),
            "handle",
        )
        requests.append(IdentifyRequest(Author("instagram", f"i{n}", handle=f"ig{n}")))
    for n in range(40):
        expected[f"facebook:f{n}"] = (emulator.add_record("contacts", {"facebook_id": f"f{n}"}), "social_id")
        requests.append(IdentifyRequest(Author("facebook", f"f{n}")))
    for n in range(5):
        email = f"dm{n}@example.com"
        expected[f"messenger:m{n}"] = (emulator.add_record("contacts", {"email": email}), "email")
        requests.append(IdentifyRequest(Author("messenger", f"m{n}"), emails=(email.upper(),)))
    requests.append(IdentifyRequest(Author("x", "stranger", handle="nobody")))
    emulator.reset_log()
    found = hs.find_customers(requests)
    assert {key: (c.customer_id, c.matched_by) for key, c in found.items()} == expected
    # 245 ids in 3 batch reads; handles and Facebook ids in ONE search; emails in one read.
    assert calls(emulator) == [
        "POST /crm/v3/objects/contacts/batch/read",
        "POST /crm/v3/objects/contacts/batch/read",
        "POST /crm/v3/objects/contacts/batch/read",
        "POST /crm/v3/objects/contacts/search",
        "POST /crm/v3/objects/contacts/batch/read",
    ]
    assert emulator.search_calls() == 1
    reads = bodies(emulator, "/batch/read")
    assert [(b["idProperty"], len(b["inputs"])) for b in reads] == [
        ("ventanilla_social_id", 100),
        ("ventanilla_social_id", 100),
        ("ventanilla_social_id", 46),
        ("email", 5),
    ]
    assert reads[-1]["inputs"][0] == {"id": "dm0@example.com"}
    (search,) = bodies(emulator, "/search")
    groups = {g["filters"][0]["propertyName"]: g["filters"][0] for g in search["filterGroups"]}
    assert sorted(groups) == ["facebook_id", "instagram_handle", "twitterhandle"]
    assert groups["twitterhandle"]["operator"] == "IN"
    assert {"handle1", "@handle1", "nobody"} <= set(groups["twitterhandle"]["values"])
    assert all(v == v.lower() for g in groups.values() for v in g["values"])
    assert {"lifetime_value", "lifecyclestage", "twitterhandle"} <= set(search["properties"])


def test_value_and_tier_come_with_the_match_and_company_values_in_one_more_read(
    store: Store, emulator: HubSpotEmulator
) -> None:
    acme = emulator.add_record("companies", {"name": "Acme", "annualrevenue": "250000", "tier": "gold"})
    rich = emulator.add_record(
        "contacts",
        {"ventanilla_social_id": "1", "lifetime_value": "1200.5", "lifecyclestage": "customer"},
    )
    staff = emulator.add_record(
        "contacts", {"ventanilla_social_id": "2", "associatedcompanyid": acme, "firstname": "Ana"}
    )
    plain = connector(store, emulator).find_customers([IdentifyRequest(Author("x", "1"))])["x:1"]
    assert (plain.customer_id, plain.value, plain.tier) == (rich, 1200.5, "customer")
    by_company = mapping_with(
        "  field: lifetime_value\n  tier_field: lifecyclestage",
        "  field: company.annualrevenue\n  tier_field: company.tier",
    )
    emulator.reset_log()
    found = connector(store, emulator, by_company).find_customers(
        [IdentifyRequest(Author("x", "1")), IdentifyRequest(Author("x", "2"))]
    )
    assert (found["x:2"].customer_id, found["x:2"].account_id, found["x:2"].value, found["x:2"].tier) == (
        staff,
        acme,
        250000.0,
        "gold",
    )
    assert (found["x:2"].name, found["x:1"].value) == ("Ana", None)
    assert calls(emulator) == [
        "POST /crm/v3/objects/contacts/batch/read",
        "POST /crm/v3/objects/companies/batch/read",
    ]
    assert bodies(emulator, "companies")[0]["properties"] == ["annualrevenue", "tier"]


def test_a_strategy_the_portal_refuses_is_skipped_logged_and_audited(
    store: Store, emulator: HubSpotEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    mapping = mapping_with("field: instagram_handle", "field: tiktok_handle")
    known = emulator.add_record("contacts", {"twitterhandle": "carmen"})
    fb = emulator.add_record("contacts", {"facebook_id": "555"})
    requests = [
        IdentifyRequest(Author("x", "9", handle="carmen")),
        IdentifyRequest(Author("instagram", "8", handle="carmen_ig")),
        IdentifyRequest(Author("facebook", "555")),
    ]
    hs = connector(store, emulator, mapping)
    emulator.reset_log()
    with caplog.at_level(logging.ERROR, logger="ventanilla.hubspot"):
        found = hs.find_customers(requests)
    assert {k: c.customer_id for k, c in found.items()} == {"x:9": known, "facebook:555": fb}
    assert "strategy handle on tiktok_handle refused by HubSpot, skipped for 10 min" in caplog.text
    (entry,) = [e for e in store.audit_entries() if e["action"] == "identify.strategy_failed"]
    assert entry["detail"]["field"] == "tiktok_handle" and "tiktok_handle" in entry["detail"]["error"]
    # The shared search failed, so each strategy was searched alone to find the refused one.
    assert [s for _, _, s in paths(emulator)] == [207, 400, 200, 400, 200]
    emulator.reset_log()
    assert (
        hs.find_customers([IdentifyRequest(Author("x", "10", handle="carmen"))])["x:10"].customer_id == known
    )
    assert [s for _, _, s in paths(emulator)] == [207, 200]  # left out for a while: one search again
    # An idProperty the portal lacks is refused too, and skipped the same way.
    no_unique = mapping_with("field: ventanilla_social_id", "field: social_uid")
    assert connector(store, emulator, no_unique).find_customers([IdentifyRequest(Author("x", "1"))]) == {}


def test_a_value_shared_by_two_contacts_is_audited_not_guessed(
    store: Store, emulator: HubSpotEmulator
) -> None:
    first = emulator.add_record("contacts", {"twitterhandle": "twin"})
    second = emulator.add_record("contacts", {"twitterhandle": "@Twin"})
    hs = connector(store, emulator)
    assert hs.find_customers([IdentifyRequest(Author("x", "7", handle="twin"))]) == {}
    (entry,) = [e for e in store.audit_entries() if e["action"] == "customer.ambiguous"]
    assert entry["detail"]["candidates"] == sorted([first, second])


def test_contacts_are_created_only_when_the_mapping_says_so(store: Store, emulator: HubSpotEmulator) -> None:
    request = IdentifyRequest(Author("x", "424242", handle="newbie", display_name="New Bie"))
    assert connector(store, emulator).find_customers([request]) == {}
    assert emulator.records["contacts"] == {}
    creating = connector(store, emulator, mapping_with("create_unmatched: false", "create_unmatched: true"))
    created = creating.find_customers([request])["x:424242"]
    again = creating.find_customers([request])["x:424242"]
    (contact,) = emulator.records["contacts"].values()
    assert contact["ventanilla_social_id"] == "424242" and contact["firstname"] == "New Bie"
    assert created.customer_id == again.customer_id == contact["hs_object_id"]
    assert (again.matched_by, again.confidence) == ("social_id", 1.0)


# --- tickets ---------------------------------------------------------------------------------------


def test_tickets_are_upserted_on_the_thread_key_in_batches_of_100(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    items = [interaction(user_id=str(n)) for n in range(150)]
    first = tickets(hs.upsert_tickets([draft(i, MAPPING) for i in items]))
    again = tickets(hs.upsert_tickets([draft(i, MAPPING) for i in items]))
    assert [r.ticket_id for r in again] == [r.ticket_id for r in first]
    assert len(emulator.records["tickets"]) == 150  # one ticket per thread
    # New threads are created (with their associations) in batches of 100; the replay is
    # refused by the unique key and goes through the upsert. The key is checked once.
    create, upsert = "POST /crm/v3/objects/tickets/batch/create", "POST /crm/v3/objects/tickets/batch/upsert"
    assert calls(emulator) == [
        "GET /crm/v3/properties/tickets",
        create,
        create,
        create,
        upsert,
        create,
        upsert,
    ]
    assert [len(b["inputs"]) for b in bodies(emulator, "tickets/batch/create")] == [100, 50, 100, 50]
    body = bodies(emulator, "/batch/upsert")[0]
    assert len(body["inputs"]) == 100
    sent = body["inputs"][0]
    assert (sent["idProperty"], sent["id"]) == ("ventanilla_thread_key", f"{items[0].thread_key}#1")
    ticket = emulator.records["tickets"][first[0].ticket_id]
    assert (ticket["hs_pipeline"], ticket["hs_pipeline_stage"], ticket["hs_ticket_priority"]) == (
        "0",
        "1",
        "MEDIUM",
    )
    assert ticket["subject"].startswith("[x] marta_rg: where is my order?")
    assert ticket["ventanilla_thread_key"] == f"{items[0].thread_key}#1"
    assert ticket["ventanilla_language"] == "en" and ticket["ventanilla_permalink"] == items[0].permalink
    ref = first[0]
    assert (ref.system, ref.number, ref.status) == ("hubspot", ref.ticket_id, "open")
    assert ref.url == f"https://app.hubspot.com/contacts/62515/record/0-5/{ref.ticket_id}"
    assert hs.ticket_number(ref.ticket_id) == ref.ticket_id


def test_new_tickets_are_associated_to_their_contact_and_company_once(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    company = emulator.add_record("companies", {"name": "Acme"})
    contact = emulator.add_record("contacts", {"ventanilla_social_id": "1", "associatedcompanyid": company})
    lone = emulator.add_record("contacts", {"ventanilla_social_id": "2"})
    drafts = [
        draft(interaction(), MAPPING, customer(contact, company)),
        draft(interaction(), MAPPING, customer(lone)),
        draft(interaction(), MAPPING),  # nobody matched: no association at all
    ]
    with_both, with_contact, without = tickets(hs.upsert_tickets(drafts))
    assert emulator.associations("tickets", with_both.ticket_id, "contacts") == [(contact, 16)]
    assert emulator.associations("tickets", with_both.ticket_id, "companies") == [(company, 26)]
    assert emulator.associations("tickets", with_contact.ticket_id, "contacts") == [(lone, 16)]
    assert emulator.associations("tickets", without.ticket_id, "contacts") == []
    # One call: the associations ride along with the create.
    assert calls(emulator) == ["GET /crm/v3/properties/tickets", "POST /crm/v3/objects/tickets/batch/create"]
    sent = bodies(emulator, "tickets/batch/create")[0]["inputs"]
    assert [len(i.get("associations") or []) for i in sent] == [2, 1, 0]
    emulator.reset_log()
    tickets(hs.upsert_tickets(drafts))  # existing tickets: the create is refused, the upsert finds them
    assert calls(emulator) == [
        "POST /crm/v3/objects/tickets/batch/create",
        "POST /crm/v3/objects/tickets/batch/upsert",
    ]
    assert emulator.associations("tickets", with_both.ticket_id, "contacts") == [(contact, 16)]  # not twice


def test_a_contact_deleted_meanwhile_leaves_its_ticket_without_association(
    store: Store, emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    kept = emulator.add_record("contacts", {"ventanilla_social_id": "1"})
    drafts = [
        draft(interaction(), MAPPING, customer("404404")),
        draft(interaction(), MAPPING, customer(kept)),
    ]
    orphan, fine = tickets(hs.upsert_tickets(drafts))
    assert emulator.associations("tickets", orphan.ticket_id, "contacts") == []
    assert emulator.associations("tickets", fine.ticket_id, "contacts") == [(kept, 16)]
    (entry,) = [e for e in store.audit_entries() if e["action"] == "ticket.association_failed"]
    assert (
        entry["detail"]["pairs"] == [[orphan.ticket_id, "404404"]]
        and "does not exist" in entry["detail"]["error"]
    )


def test_associations_cut_short_by_a_failure_are_completed_on_retry(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    contact = emulator.add_record("contacts", {"ventanilla_social_id": "1"})
    # A refused neighbour sends the batch down the upsert path, where associations are separate calls.
    drafts = [
        draft(interaction(), MAPPING, customer(contact)),
        draft(interaction(), MAPPING, hs_ticket_priority="CRITICAL"),
    ]
    emulator.fail_next(hs.settings.retries, 503, path_contains="/associations/")
    with pytest.raises(ConnectorError, match="503"):
        hs.upsert_tickets(drafts)
    (ticket_id,) = emulator.records["tickets"]
    assert emulator.associations("tickets", ticket_id, "contacts") == []
    ref, refused = hs.upsert_tickets(drafts)  # the upsert now answers new: false
    assert isinstance(ref, TicketRef) and isinstance(refused, RecordFailure)
    assert ref.ticket_id == ticket_id
    assert emulator.associations("tickets", ticket_id, "contacts") == [(contact, 16)]


def test_a_refused_ticket_fails_alone_with_hubspots_message(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    drafts = [
        draft(interaction(), MAPPING),
        draft(interaction(), MAPPING, hs_ticket_priority="CRITICAL"),
        draft(interaction(), MAPPING),
    ]
    good, refused, other = hs.upsert_tickets(drafts)
    assert isinstance(good, TicketRef) and isinstance(other, TicketRef)
    assert isinstance(refused, RecordFailure) and refused.permanent
    assert "CRITICAL was not one of the allowed options" in refused.message
    assert refused.fields == ("hs_ticket_priority",)
    assert len(emulator.records["tickets"]) == 2
    # The refused create, the refused upsert, then the rest again: not one call per ticket.
    assert [s for _, _, s in paths(emulator)] == [200, 400, 400, 200]


def test_a_property_the_portal_lacks_fails_every_ticket_in_one_call(
    emulator: HubSpotEmulator, store: Store
) -> None:
    hs = connector(store, emulator, mapping_with("ventanilla_permalink", "ventanilla_link"))
    results = hs.upsert_tickets([draft(interaction(), hs.mapping) for _ in range(3)])
    assert all(
        isinstance(r, RecordFailure) and 'Property "ventanilla_link" does not exist' in r.message
        for r in results
    )
    assert len(emulator.request_log) == 3  # properties, the refused create, the refused upsert


def test_a_refusal_no_ticket_explains_costs_a_bounded_number_of_calls(
    store: Store, emulator: HubSpotEmulator
) -> None:
    hs = connector(store, emulator, mapping_with("key_field: ventanilla_thread_key", "key_field: subject"))
    results = hs.upsert_tickets([draft(interaction(), hs.mapping) for _ in range(100)])
    assert all(isinstance(r, RecordFailure) and "not a unique value property" in r.message for r in results)
    # Not unique: never created blindly (a replay would duplicate); the upsert path refuses,
    # halving within a budget, not 199 calls.
    assert calls(emulator)[0] == "GET /crm/v3/properties/tickets"
    assert not bodies(emulator, "tickets/batch/create")
    assert len(emulator.request_log) == 19
    assert emulator.records["tickets"] == {}


# --- follow-ups and reopen --------------------------------------------------------------------------


def followup_for(ref: TicketRef, text: str = "any news?") -> FollowUp:
    return FollowUp(ref.ticket_id, interaction(text=text), text)


def test_follow_ups_become_notes_on_the_ticket_once(emulator: HubSpotEmulator, hs: HubSpotConnector) -> None:
    one, two = tickets(hs.upsert_tickets([draft(interaction(), MAPPING), draft(interaction(), MAPPING)]))
    followups = [followup_for(one, "still <nothing> & no answer"), followup_for(two)]
    emulator.reset_log()
    assert hs.append_followups(followups) == [None, None]
    assert calls(emulator) == ["POST /crm/v3/objects/notes/batch/create"]
    ((note_id, type_id),) = emulator.associations("notes", next(iter(emulator.records["notes"])), "tickets")
    assert (note_id, type_id) == (one.ticket_id, 228)
    note = emulator.records["notes"][emulator.associations("tickets", one.ticket_id, "notes")[0][0]]
    assert "still &lt;nothing&gt; &amp; no answer" in note["hs_note_body"]
    assert note["hs_note_body"].endswith(f"<p>{marker_for(followups[0].interaction)}</p>")
    assert note["hs_timestamp"] == followups[0].interaction.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    emulator.reset_log()
    assert hs.append_followups(followups) == [None, None]
    assert emulator.request_log == []  # known from the stored intents: no request at all
    assert len(emulator.records["notes"]) == 2


def test_a_note_created_before_a_crash_is_found_not_posted_again(
    store: Store, emulator: HubSpotEmulator
) -> None:
    hs = connector(store, emulator, timeout_s=0.3)
    (ref,) = tickets(hs.upsert_tickets([draft(interaction(), MAPPING)]))
    followup = followup_for(ref)
    emulator.latency_s = 0.6  # HubSpot creates the note, but the answer comes too late
    with pytest.raises(ConnectorError, match="timed out"):
        hs.append_followups([followup])
    emulator.latency_s = 0.0
    deadline = time.monotonic() + 5
    while not emulator.records["notes"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(emulator.records["notes"]) == 1
    emulator.reset_log()
    assert hs.append_followups([followup]) == [None]
    assert calls(emulator) == [
        "POST /crm/v4/associations/tickets/notes/batch/read",
        "POST /crm/v3/objects/notes/batch/read",
    ]
    assert len(emulator.records["notes"]) == 1
    # A create that certainly failed (connection dropped before HubSpot read it) is posted.
    other = followup_for(ref, "hello?")
    emulator.drop_connection_next(1, path_contains="/notes/batch/create")
    with pytest.raises(ConnectorError, match="connection failed"):
        hs.append_followups([other])
    assert hs.append_followups([other]) == [None]
    assert len(emulator.records["notes"]) == 2


def test_reopen_moves_the_stage_back_to_the_first_open_one(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    (ref,) = tickets(hs.upsert_tickets([draft(interaction(), MAPPING)]))
    emulator.update_record("tickets", ref.ticket_id, {"hs_pipeline_stage": "4"})
    emulator.reset_log()
    ok, missing = hs.reopen_tickets([ref.ticket_id, "999999"])
    assert ok is None and emulator.records["tickets"][ref.ticket_id]["hs_pipeline_stage"] == "1"
    assert isinstance(missing, RecordFailure) and "OBJECT_NOT_FOUND" in missing.message
    assert calls(emulator) == ["POST /crm/v3/objects/tickets/batch/update"]


def test_the_agent_reply_property_is_read_for_the_reply(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    (ref,) = tickets(hs.upsert_tickets([draft(interaction(), MAPPING)]))
    assert hs.ticket_fields(ref.ticket_id) == {}
    emulator.update_record("tickets", ref.ticket_id, {"public_reply": "Sent a new one today!"})
    assert hs.ticket_fields(ref.ticket_id) == {"public_reply": "Sent a new one today!"}


# --- status back ---------------------------------------------------------------------------------


def test_status_changes_are_polled_oldest_first_across_pages(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    ours = [
        emulator.add_record(
            "tickets",
            {
                "subject": f"t{n}",
                "hs_pipeline_stage": "4" if n % 2 else "2",
                "ventanilla_thread_key": f"k{n}#1",
            },
        )
        for n in range(230)
    ]
    emulator.add_record("tickets", {"subject": "not ours", "hs_pipeline_stage": "4"})
    emulator.reset_log()
    changes = hs.read_status_changes(None)
    assert sorted(c.ticket_id for c in changes) == sorted(ours)
    assert [c.occurred_at for c in changes] == sorted(c.occurred_at for c in changes)
    assert {c.new_status for c in changes} == {"open", "resolved"}
    assert len({c.event_id for c in changes}) == 230 and changes[0].event_id.startswith("poll:")
    assert emulator.search_calls() == 2
    first, second = bodies(emulator, "/search")
    assert first["filterGroups"] == [
        {"filters": [{"propertyName": "ventanilla_thread_key", "operator": "HAS_PROPERTY"}]}
    ]
    assert first["sorts"] == [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]
    assert (first["limit"], second["after"]) == (200, "200")
    emulator.update_record("tickets", ours[0], {"hs_pipeline_stage": "4"})
    later = hs.read_status_changes(changes[-1].occurred_at + timedelta(milliseconds=1))
    assert [(c.ticket_id, c.new_status) for c in later] == [(ours[0], "resolved")]
    since = bodies(emulator, "/search")[-1]["filterGroups"][0]["filters"][1]
    assert since["propertyName"] == "hs_lastmodifieddate" and since["operator"] == "GTE"


# --- limits, retries and errors ------------------------------------------------------------------


def test_the_token_bucket_never_lets_a_rolling_window_exceed_its_capacity() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(3, 10.0, clock=lambda: now[0], sleep=sleep)
    starts = []
    for _ in range(7):
        bucket.acquire()
        starts.append(now[0])
        now[0] += 1.0
    assert starts == [0.0, 1.0, 2.0, 10.0, 11.0, 12.0, 20.0]
    assert all(sum(1 for s in starts if t <= s < t + 10) <= 3 for t in starts)
    bucket.drain()
    assert bucket.reserve() == pytest.approx(10.0)


def test_the_bucket_is_shared_by_threads() -> None:
    bucket = TokenBucket(4, 0.4)
    started: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        bucket.acquire()
        with lock:
            started.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    started.sort()
    assert all(started[i + 4] - started[i] >= 0.39 for i in range(len(started) - 4))


def test_the_client_bucket_keeps_hubspot_from_answering_429(store: Store, tls: TlsMaterial) -> None:
    with HubSpotEmulator(tls, burst_limit=3, burst_window_s=0.4) as emu:
        emu.add_token(TOKEN)
        hs = connector(store, emu, rate_limit={"requests_per_10s": 3, "burst_window_s": 0.4})
        started = time.monotonic()
        for _ in range(7):
            hs.ticket_fields("1")
        assert time.monotonic() - started >= 0.8
        assert 429 not in {s for _, _, s in paths(emu)}


def test_a_burst_429_waits_for_the_window_and_retries(store: Store, emulator: HubSpotEmulator) -> None:
    hs = connector(store, emulator, rate_limit={"burst_window_s": 0.3})
    emulator.rate_limited_next(2, "TEN_SECONDLY_ROLLING")
    started = time.monotonic()
    assert hs.ticket_fields("1") == {}
    assert time.monotonic() - started >= 0.6
    assert [s for _, _, s in paths(emulator)] == [429, 429, 207]  # 207: no ticket 1


def test_a_search_429_waits_a_second_window_and_retries(store: Store, emulator: HubSpotEmulator) -> None:
    hs = connector(store, emulator, rate_limit={"search_window_s": 0.2})
    emulator.rate_limited_next(1, "SECONDLY")
    started = time.monotonic()
    assert hs.read_status_changes(None) == []
    assert time.monotonic() - started >= 0.2
    assert [s for _, _, s in paths(emulator)] == [429, 200]


def test_the_real_search_limit_is_respected(store: Store, tls: TlsMaterial) -> None:
    with HubSpotEmulator(tls, search_per_second=2) as emu:
        emu.add_token(TOKEN)
        hs = connector(store, emu, rate_limit={"search_per_second": 2})
        started = time.monotonic()
        for _ in range(5):
            hs.read_status_changes(None)
        assert time.monotonic() - started >= 1.0
        assert emu.search_calls() == 5 and {s for _, _, s in paths(emu)} == {200}


def test_the_daily_limit_pauses_the_connector_until_midnight_in_the_account_zone(
    store: Store, emulator: HubSpotEmulator
) -> None:
    hs = connector(store, emulator, rate_limit={"time_zone": "America/New_York"})
    emulator.rate_limited_next(1, "DAILY")
    with pytest.raises(RateLimitedError, match="daily limit") as caught:
        hs.find_customers([IdentifyRequest(Author("x", "1"))])
    assert "paused until" in str(caught.value)
    state = store.get_state(hs.client.scope, "paused_until")
    until = datetime.fromisoformat(state["until"])
    local = until.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (0, 0) and until > datetime.now(UTC)
    emulator.reset_log()
    other_desk = connector(store, emulator, desk="other")  # same account: paused too
    with pytest.raises(RateLimitedError, match="paused until"):
        other_desk.read_status_changes(None)
    assert emulator.request_log == []


def test_our_own_daily_count_stops_before_hubspot_has_to(store: Store, emulator: HubSpotEmulator) -> None:
    hs = connector(store, emulator, rate_limit={"daily": 3})
    for _ in range(3):  # search answers carry no rate-limit headers: we count ourselves
        hs.read_status_changes(None)
    with pytest.raises(RateLimitedError, match="daily API budget is spent"):
        hs.read_status_changes(None)
    assert len(emulator.request_log) == 3
    usage = store.get_state(hs.client.scope, "api_usage")
    assert (usage["used"], usage["source"]) == (3, "counted")


def test_api_usage_is_recorded_from_the_headers_and_warned_past_80_percent(
    store: Store, emulator: HubSpotEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.daily_limit = 10
    hs = connector(store, emulator)
    hs.upsert_tickets([draft(interaction(), MAPPING)])
    usage = store.get_state(hs.client.scope, "api_usage")
    # Two calls: the key property's definition (checked once), then the create.
    assert (usage["remaining"], usage["limit"], usage["source"], usage["used"]) == (8, 10, "header", 2)
    with caplog.at_level(logging.WARNING, logger="ventanilla.hubspot"):
        for _ in range(6):
            hs.ticket_fields("1")
    assert "8 of 10 daily API requests used (80%)" in caplog.text


def test_server_errors_are_retried_in_call(emulator: HubSpotEmulator, hs: HubSpotConnector) -> None:
    emulator.fail_next(2, 502)
    assert hs.ticket_fields("1") == {}
    assert [s for _, _, s in paths(emulator)] == [502, 502, 207]
    emulator.fail_next(10, 500)
    with pytest.raises(RetryableError, match="500 INTERNAL_ERROR: internal error"):
        hs.ticket_fields("1")


def test_a_dropped_read_is_retried(emulator: HubSpotEmulator, hs: HubSpotConnector) -> None:
    emulator.drop_connection_next(1)
    assert hs.read_status_changes(None) == []
    assert [s for _, _, s in paths(emulator)] == [0, 200]


def test_every_request_has_a_timeout(store: Store, emulator: HubSpotEmulator) -> None:
    hs = connector(store, emulator, timeout_s=0.2, retries=2)
    emulator.latency_s = 1.0
    started = time.monotonic()
    with pytest.raises(ConnectorError, match="timed out"):
        hs.find_customers([IdentifyRequest(Author("x", "1"))])
    assert time.monotonic() - started < 1.5


def test_a_rejected_token_is_a_configuration_error_that_never_shows_it(
    store: Store, emulator: HubSpotEmulator
) -> None:
    hs = connector(store, emulator, access_token="pat-wrong-secret-token")
    with pytest.raises(ConnectorError, match="401 the access token was rejected") as caught:
        hs.find_customers([IdentifyRequest(Author("x", "1"))])
    assert not isinstance(caught.value, RetryableError)
    assert "pat-wrong" not in str(caught.value)


def test_a_wrong_ca_bundle_is_reported_as_such(
    store: Store, emulator: HubSpotEmulator, tmp_path: Path
) -> None:
    hs = connector(store, emulator, ca_bundle=make_tls(tmp_path).ca_path)
    with pytest.raises(ConnectorError, match=r"TLS verification failed .*check ca_bundle"):
        hs.read_status_changes(None)


@pytest.mark.parametrize(
    ("status", "body", "expected", "wait"),
    [
        (423, {"category": "LOCKED", "message": "locked"}, RetryableError, 2.0),
        (429, {"policyName": "TEN_SECONDLY_ROLLING", "errorType": "RATE_LIMIT"}, RetryableError, 10.0),
        (429, {"policyName": "SECONDLY", "errorType": "RATE_LIMIT"}, RetryableError, 1.0),
        (429, {"policyName": "DAILY", "errorType": "RATE_LIMIT"}, RateLimitedError, None),
        (400, {"category": "VALIDATION_ERROR", "message": "bad"}, ConnectorError, None),
        (403, {"category": "MISSING_SCOPES", "message": "scopes"}, ConnectorError, None),
    ],
)
def test_error_translation(
    status: int, body: dict[str, Any], expected: type[Exception], wait: float | None
) -> None:
    from hubspot.crm.objects.exceptions import ApiException

    exc = ApiException(status=status, reason="x")
    exc.body = json.dumps(body).encode()
    exc.headers = {}
    error = translate_error("test", exc, RateLimitSettings())
    assert type(error) is not ConnectorError or expected is ConnectorError
    assert isinstance(error, expected)
    assert getattr(error, "retry_after_s", None) == wait


def test_note_bodies_escape_html_and_end_with_the_marker() -> None:
    item = interaction(text="<b>hi</b>\nsecond line")
    body = note_body(FollowUp("1", item, item.text))
    assert body.startswith("<p>@marta_rg on x (mention, ")
    assert "<p>&lt;b&gt;hi&lt;/b&gt;<br>second line</p>" in body
    assert body.endswith(f"<p>{marker_for(item)}</p>")


# --- mappings validate --live ----------------------------------------------------------------------


def test_live_validation_reads_the_property_definitions(tmp_path: Path, emulator: HubSpotEmulator) -> None:
    config_file = tmp_path / "ventanilla.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{tmp_path / 'v.db'}",
                "desks": [
                    {
                        "name": "sales",
                        "connector": "hubspot",
                        "connection": "portal",
                        "mapping": "hubspot.yaml",
                    }
                ],
                "connections": {"portal": connection(emulator)},
            }
        )
    )
    runner = CliRunner()
    ok = runner.invoke(main, ["mappings", "validate", "--live", "--config", str(config_file), "hubspot.yaml"])
    assert (ok.exit_code, ok.output) == (0, "hubspot.yaml: ok\n"), ok.output
    assert len(emulator.requests_to("/crm/v3/properties/")) == 3  # tickets, notes, contacts
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        SHIPPED.read_text()
        .replace("key_field: ventanilla_thread_key", "key_field: subject")
        .replace("P1: URGENT", "P1: CRITICAL")
        .replace("    field: twitterhandle\n", "    field: twitterhandle\n    unique: true\n")
        .replace("ventanilla_permalink", "ventanilla_link")
        .replace("  field: public_reply", "  field: agent_reply")
    )
    failed = runner.invoke(main, ["mappings", "validate", "--live", "--config", str(config_file), str(bad)])
    assert failed.exit_code == 1
    assert failed.output.splitlines() == [
        f"{bad}: fields.hs_ticket_priority: CRITICAL is not an option of tickets.hs_ticket_priority "
        "(LOW, MEDIUM, HIGH, URGENT)",
        f"{bad}: fields.ventanilla_link: no property ventanilla_link on tickets",
        f"{bad}: target.key_field: tickets.subject does not require unique values",
        f"{bad}: reply.field: no property agent_reply on tickets",
        f"{bad}: customer_match[1].field: contacts.twitterhandle does not require unique values",
    ]


# --- the whole loop ------------------------------------------------------------------------------


def hubspot_desk_config(tmp_path: Path, emulator: HubSpotEmulator, **overrides: Any) -> dict[str, Any]:
    desk = {"name": "sales", "connector": "hubspot", "connection": "hubspot", "mapping": "hubspot.yaml"}
    data = {"desks": [desk], "connections": {"hubspot": connection(emulator)}, **overrides}
    return base_config(tmp_path, **data)


@pytest.fixture
def hs_runtime(tmp_path: Path, emulator: HubSpotEmulator) -> Iterator[tuple[Runtime, FlaskClient]]:
    config = config_from_dict(hubspot_desk_config(tmp_path, emulator), base_dir=str(tmp_path))
    store = Store(config.database_url)
    store.create_schema()
    yield Runtime(config, store), create_app(config, store=store).test_client()
    store.dispose()


def stage_change(ticket_id: str, stage: str, event_id: int) -> bytes:
    event = {
        "eventId": event_id,
        "subscriptionId": 25,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "ticket.propertyChange",
        "attemptNumber": 0,
        "objectId": int(ticket_id),
        "propertyName": "hs_pipeline_stage",
        "propertyValue": stage,
        "changeSource": "CRM_UI",
    }
    return json.dumps([event]).encode()


def test_signed_webhooks_become_tickets_notes_and_exactly_one_reply(
    emulator: HubSpotEmulator, hs_runtime: tuple[Runtime, FlaskClient]
) -> None:
    runtime, client = hs_runtime
    company = emulator.add_record("companies", {"name": "Acme Corp"})
    carmen = emulator.add_record(
        "contacts",
        {"twitterhandle": "carmenvidal", "associatedcompanyid": company, "lifetime_value": "80000"},
    )
    deliveries = [
        tweet(
            "1901570000000000001", "@AcmeSupport my parcel is lost, order 7731", "1122334455", "carmenvidal"
        ),
        tweet(
            "1901570000000000002",
            "@AcmeSupport still nothing",
            "1122334455",
            "carmenvidal",
            "1901570000000000001",
        ),
        tweet("1901570000000000003", "@AcmeSupport refund please", "987654321", "dana"),
    ]
    for body in deliveries:
        assert post_x(client, body).status_code == 200
    Dispatcher(runtime).run_until_idle()
    by_key = {t["ventanilla_thread_key"]: t for t in emulator.records["tickets"].values()}
    thread = f"x:{X_BRAND_IDS[0]}:1901570000000000001"
    assert sorted(by_key) == sorted([f"{thread}#1", f"x:{X_BRAND_IDS[0]}:1901570000000000003#1"])
    ticket = by_key[f"{thread}#1"]
    ticket_id = ticket["hs_object_id"]
    assert ticket["subject"].startswith("[x] carmenvidal: @AcmeSupport my parcel is lost")
    assert ticket["hs_pipeline_stage"] == "1" and "Triage: P" in ticket["content"]
    assert emulator.associations("tickets", ticket_id, "contacts") == [(carmen, 16)]
    assert emulator.associations("tickets", ticket_id, "companies") == [(company, 26)]
    other_id = by_key[f"x:{X_BRAND_IDS[0]}:1901570000000000003#1"]["hs_object_id"]
    assert emulator.associations("tickets", other_id, "contacts") == []
    ((note_id, _),) = emulator.associations("tickets", ticket_id, "notes")
    assert emulator.records["notes"][note_id]["hs_note_body"].endswith(
        "[ventanilla:x:1901570000000000002]</p>"
    )
    # Redelivered webhooks change nothing.
    for body in deliveries:
        post_x(client, body)
    Dispatcher(runtime).run_until_idle()
    assert (len(emulator.records["tickets"]), len(emulator.records["notes"])) == (2, 1)
    # An agent closes the ticket: a v3-signed stage change, redelivered, and the poller too.
    emulator.update_record(
        "tickets", ticket_id, {"hs_pipeline_stage": "4", "public_reply": "Found it, on its way!"}
    )
    body = stage_change(ticket_id, "4", 3816279340)
    for _ in range(3):
        headers = sign_hubspot_v3(body, CLIENT_SECRET, "http://localhost/webhooks/hubspot")
        response = client.post(
            "/webhooks/hubspot", data=body, headers=headers, content_type="application/json"
        )
        assert response.status_code == 200, response.get_json()
        Dispatcher(runtime).run_until_idle()
    for change in runtime.connector("sales").read_status_changes(None):
        runtime.store.record_status_change("sales", change)
    Dispatcher(runtime).run_until_idle()
    (reply,) = runtime.store.list_replies()
    assert (reply.ticket_id, reply.in_reply_to, reply.state) == (ticket_id, "1901570000000000002", "posted")
    assert reply.text == "Found it, on its way!"  # the agent's public reply, read from the ticket


def test_two_desks_each_receive_only_their_interactions(tmp_path: Path, emulator: HubSpotEmulator) -> None:
    desks = [
        {
            "name": "sales",
            "connector": "hubspot",
            "connection": "hubspot",
            "mapping": "hubspot.yaml",
            "when": {"natures": ["question", "pricing"]},
        },
        {"name": "support", "connector": "local", "mapping": "local.yaml"},
    ]
    config = config_from_dict(hubspot_desk_config(tmp_path, emulator, desks=desks), base_dir=str(tmp_path))
    store = Store(config.database_url)
    store.create_schema()
    client = create_app(config, store=store).test_client()
    post_x(client, tweet("1901600000000000001", "@AcmeSupport how much is the annual plan?", "71", "buyer"))
    post_x(client, tweet("1901600000000000002", "@AcmeSupport my parcel never arrived", "72", "waiting"))
    Dispatcher(Runtime(config, store)).run_until_idle()
    (ticket,) = emulator.records["tickets"].values()
    assert ticket["ventanilla_thread_key"].endswith("1901600000000000001#1")
    (local,) = list_local_tickets(store)
    assert local["thread_key"].endswith("1901600000000000002")
    store.dispose()


def test_sync_poll_reads_closed_tickets_and_replies_once(
    tmp_path: Path, emulator: HubSpotEmulator, hs_runtime: tuple[Runtime, FlaskClient]
) -> None:
    runtime, client = hs_runtime
    assert (
        post_x(client, tweet("1901590000000000001", "@AcmeSupport no refund yet", "556", "eli")).status_code
        == 200
    )
    Dispatcher(runtime).run_until_idle()
    (ticket_id,) = emulator.records["tickets"]
    config_file = tmp_path / "ventanilla.yaml"
    config_file.write_text(yaml.safe_dump(hubspot_desk_config(tmp_path, emulator)), encoding="utf-8")
    emulator.update_record("tickets", ticket_id, {"hs_pipeline_stage": "4"})
    for expected in ("1 new", "0 new"):
        result = CliRunner().invoke(main, ["sync", "poll", "--config", str(config_file)])
        assert result.exit_code == 0 and expected in result.output, result.output
    (reply,) = runtime.store.list_replies()
    assert reply.ticket_id == ticket_id and reply.state == "posted" and ticket_id in reply.text


def test_a_burst_of_1000_interactions_from_300_authors_costs_at_most_3_calls_per_hundred(
    emulator: HubSpotEmulator, hs_runtime: tuple[Runtime, FlaskClient]
) -> None:
    """900 threads and 100 follow-ups; a third of the authors are contacts; batches of 200."""
    runtime = hs_runtime[0]
    assert runtime.config.dispatcher.batch_size == 200
    platforms = ["x"] * 150 + ["facebook"] * 100 + ["instagram"] * 50
    authors = [
        Author(p, f"{p[:2]}{n:06d}", handle=None if p == "facebook" else f"user{n}", display_name=f"U{n}")
        for n, p in enumerate(platforms)
    ]
    properties = {"x": "twitterhandle", "instagram": "instagram_handle", "facebook": "facebook_id"}
    for author in authors[::3]:
        company = emulator.add_record("companies", {"name": f"Co {author.platform_user_id}"})
        emulator.add_record(
            "contacts",
            {
                properties[author.platform]: author.handle or author.platform_user_id,
                "associatedcompanyid": company,
            },
        )
    roots: list[Interaction] = [
        interaction(
            platform=a.platform,
            user_id=a.platform_user_id,
            handle=a.handle,
            author=a,
            kind="mention" if a.platform == "x" else "comment",
            id=None,
        )
        for a in (authors[n % 300] for n in range(900))
    ]
    replies = [
        interaction(platform=r.platform, author=r.author, kind="comment", thread_key=r.thread_key, id=None)
        for r in roots[:100]
    ]
    runtime.store.ingest("test", b"{}", {}, InboundBatch(interactions=tuple(roots + replies)))
    emulator.reset_log()
    Dispatcher(runtime).run_until_idle(120)
    assert (len(emulator.records["tickets"]), len(emulator.records["notes"])) == (900, 100)
    assert runtime.store.list_dead_letters() == []
    associated = sum(
        1 for t in emulator.records["tickets"] if emulator.associations("tickets", t, "contacts")
    )
    assert associated == 300  # every thread of a known author
    # 3 contact reads and 2 searches (authors are cached after their first batch), the key
    # property checked once, 9 ticket creates carrying their associations, 1 note batch.
    assert emulator.api_calls() == 16, calls(emulator)
    assert emulator.api_calls() / 1000 <= 0.03


def test_without_the_schema_endpoint_every_ticket_is_upserted(
    emulator: HubSpotEmulator, hs: HubSpotConnector
) -> None:
    """A portal (or token) that cannot read property definitions still gets its tickets, by upsert."""
    contact = emulator.add_record("contacts", {"ventanilla_social_id": "1"})
    emulator.fail_next(1, 403, path_contains="/properties/")
    (ref,) = tickets(hs.upsert_tickets([draft(interaction(), MAPPING, customer(contact))]))
    assert calls(emulator) == [
        "GET /crm/v3/properties/tickets",  # refused (403)
        "POST /crm/v3/objects/tickets/batch/upsert",
        "POST /crm/v4/associations/tickets/contacts/batch/create",
    ]
    assert emulator.associations("tickets", ref.ticket_id, "contacts") == [(contact, 16)]
