"""The SOAP connector through zeep against the ServiceNow emulator, over real HTTP(S).

The shared contract suite covers the common scenarios; these cover what is SOAP's own:
idempotent creates without upserts, journal follow-ups, polling with pages, faults,
pauses, hostile XML, and the whole loop from a signed webhook to exactly one reply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner
from flask.testing import FlaskClient

from connector.cli import main
from connector.config import ConfigError, config_from_dict
from connector.crm.base import (
    ConnectorError,
    FollowUp,
    IdentifyRequest,
    PermanentConnectorError,
    RecordFailure,
)
from connector.crm.batching import RateLimitedError, RetryableError
from connector.crm.soap import journal_text
from connector.crm.soap_client import HostileResponseError, ResponseTooLargeError
from connector.dispatcher import Dispatcher
from connector.model import Author, TicketRef
from connector.poll_schedule import PollSchedule
from connector.runtime import Runtime
from connector.store import Store
from mappings import Mapping, MappingError, load_mapping, load_mapping_text
from tests.conftest import X_BRAND_IDS, base_config
from tests.emulators.servicenow_soap import ServiceNowSoapEmulator
from tests.emulators.servicenow_soap_schema import load_table
from tests.emulators.tls import make_tls
from tests.salesforce_support import draft, interaction
from tests.signing import post_x
from tests.signing import x_delivery as tweet
from tests.soap_support import PASSWORD, connection, connector, seed_person, start_emulator
from webhooks import create_app

SHIPPED = Path(load_mapping("servicenow.yaml").source)


@pytest.fixture
def emulator() -> Iterator[ServiceNowSoapEmulator]:
    server = start_emulator()
    yield server
    server.stop()


def variant(*replacements: tuple[str, str]) -> Mapping:
    """The shipped mapping with some text replaced (its WSDL paths made absolute)."""
    text = SHIPPED.read_text(encoding="utf-8").replace(
        "wsdl: servicenow/", f"wsdl: {SHIPPED.parent}/servicenow/"
    )
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return load_mapping_text(text, str(SHIPPED))


def tickets(emulator: ServiceNowSoapEmulator) -> list[dict[str, str]]:
    return emulator.records("incident")


# --- tickets ---------------------------------------------------------------------------------


def test_a_ticket_is_an_incident_keyed_by_correlation_id(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator)
    item = interaction(text="my router is dead since Monday")
    (ref,) = soap.upsert_tickets([draft(item, soap.mapping)])
    assert isinstance(ref, TicketRef) and ref.status == "open" and ref.number == "INC0010001"
    (incident,) = tickets(emulator)
    assert incident["sys_id"] == ref.ticket_id
    assert incident["correlation_id"] == f"{item.thread_key}#1"
    assert incident["correlation_display"] == "Ventanilla"
    assert incident["short_description"].startswith("[x] marta_rg: my router is dead")
    assert (incident["urgency"], incident["impact"], incident["contact_type"]) == ("2", "3", "social")
    # The lookup came first, with the thread key in the encoded query; then one insert.
    lookup, insert = emulator.soap_log()
    assert (lookup.operation, insert.operation) == ("getRecords", "insert")
    assert lookup.params["__encoded_query"] == f"correlation_idIN{item.thread_key}#1"
    assert lookup.soap_action == "http://www.service-now.com/incident/getRecords"
    assert lookup.user == "integration.user"


def test_a_crash_between_the_insert_and_our_bookkeeping_is_healed_by_the_lookup(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator)
    ticket = draft(interaction(), soap.mapping)
    # The desk creates the incident, then the answer is lost (a broken body).
    emulator.hostile_next("truncated", "insert", perform=True)
    with pytest.raises(ConnectorError):
        soap.upsert_tickets([ticket])
    assert len(tickets(emulator)) == 1 and len(emulator.calls("insert")) == 1
    (ref,) = soap.upsert_tickets([ticket])  # the job's retry
    assert isinstance(ref, TicketRef) and ref.ticket_id == tickets(emulator)[0]["sys_id"]
    assert len(tickets(emulator)) == 1 and len(emulator.calls("insert")) == 1


def test_an_incident_whose_state_is_resolved_comes_back_resolved(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator)
    ticket = draft(interaction(), soap.mapping)
    (first,) = soap.upsert_tickets([ticket])
    assert isinstance(first, TicketRef)
    emulator.update_record("incident", first.ticket_id, {"state": "6"})
    (again,) = soap.upsert_tickets([ticket])
    assert isinstance(again, TicketRef) and (again.ticket_id, again.status) == (first.ticket_id, "resolved")


def test_a_validation_fault_fails_that_record_with_the_fault_string(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    emulator.require_fields("incident", ["category"])
    soap = connector(store, emulator)
    (failure,) = soap.upsert_tickets([draft(interaction(), soap.mapping)])
    assert isinstance(failure, RecordFailure) and failure.permanent
    assert "SOAP Fault" in failure.message and "category" in failure.message
    assert len(emulator.calls("insert")) == 1  # a refusal is not retried


def test_a_busy_server_is_retried_in_place_for_reads_but_a_create_is_never_repeated(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator)
    emulator.fault_next(2, "Server is busy, please try again later", "getRecords")
    (ref,) = soap.upsert_tickets([draft(interaction(), soap.mapping)])
    assert isinstance(ref, TicketRef) and len(emulator.calls("getRecords")) == 3
    emulator.fault_next(1, "Transaction cancelled: maximum execution time exceeded (timeout)", "insert")
    with pytest.raises(RetryableError):
        soap.upsert_tickets([draft(interaction(), soap.mapping)])
    assert len(emulator.calls("insert")) == 2  # one success, one busy answer, no blind repeat


def test_later_drafts_fail_softly_when_the_desk_goes_away_midway(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator)
    first, second, third = (draft(interaction(), soap.mapping) for _ in range(3))
    soap.upsert_tickets([first])
    emulator.fault_next(1, "Server is busy", "insert")
    results = soap.upsert_tickets([first, second, third])
    assert isinstance(results[0], TicketRef)
    assert all(isinstance(r, RecordFailure) and not r.permanent for r in results[1:])


def test_a_slow_desk_times_out_and_is_retried(store: Store, emulator: ServiceNowSoapEmulator) -> None:
    soap = connector(store, emulator, timeout_s=0.3)
    emulator.latency(1.0, "getRecords", n=1)
    (ref,) = soap.upsert_tickets([draft(interaction(), soap.mapping)])
    assert isinstance(ref, TicketRef) and len(emulator.calls("getRecords")) == 2


def test_wrong_credentials_pause_the_connector_with_a_clear_error_and_no_secret(
    store: Store, emulator: ServiceNowSoapEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    soap = connector(store, emulator, password="not-the-password")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RateLimitedError, match=r"HTTP 401.*connections\.soap"):
        soap.upsert_tickets([draft(interaction(), soap.mapping)])
    sent = len(emulator.request_log)
    with pytest.raises(RateLimitedError, match="paused until"):
        soap.upsert_tickets([draft(interaction(), soap.mapping)])
    assert len(emulator.request_log) == sent  # paused: nothing reaches the desk
    assert "not-the-password" not in caplog.text and PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("kind", "error", "words"),
    [
        ("billion_laughs", HostileResponseError, "DTD"),
        ("external_entity", HostileResponseError, "DTD"),
        ("not_xml", HostileResponseError, "not valid XML"),
        ("truncated", HostileResponseError, "not valid XML"),
    ],
)
def test_hostile_or_malformed_answers_are_refused_quickly(
    store: Store, emulator: ServiceNowSoapEmulator, kind: str, error: type[Exception], words: str
) -> None:
    soap = connector(store, emulator)
    emulator.hostile_next(kind, "getRecords", n=5)
    started = time.monotonic()
    with pytest.raises(error, match=words):
        soap.upsert_tickets([draft(interaction(), soap.mapping)])
    assert time.monotonic() - started < 2.0
    assert len(emulator.calls("getRecords")) == 1  # not retried in place: it is not an outage
    assert tickets(emulator) == []


def test_an_oversized_answer_is_cut_off(store: Store, emulator: ServiceNowSoapEmulator) -> None:
    soap = connector(store, emulator, max_response_bytes=200_000)
    emulator.hostile_next("huge", "getRecords", size=3_000_000)
    with pytest.raises(ResponseTooLargeError, match="exceeds 200000 bytes"):
        soap.upsert_tickets([draft(interaction(), soap.mapping)])


def test_a_lookup_the_desk_ignores_is_an_error_not_a_match(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    # ServiceNow ignores a condition on an unknown field and answers with other incidents.
    soap = connector(store, emulator)
    soap.upsert_tickets([draft(interaction(), soap.mapping)])
    broken = connector(store, emulator, variant(("correlation_idIN{keys}", "u_threadIN{keys}")))
    (failure,) = broken.upsert_tickets([draft(interaction(), broken.mapping)])
    assert isinstance(failure, RecordFailure) and failure.permanent
    assert "ignored the condition" in failure.message
    assert len(tickets(emulator)) == 1


# --- follow-ups, reopen ----------------------------------------------------------------------


def test_follow_ups_go_to_the_journal_once_with_their_marker(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator)
    root = interaction()
    (ref,) = soap.upsert_tickets([draft(root, soap.mapping)])
    assert isinstance(ref, TicketRef)
    reply = interaction(thread=root.external_id, text="any news? still nothing")
    followup = FollowUp(ref.ticket_id, reply, reply.text)
    assert soap.append_followups([followup]) == [None]
    assert soap.append_followups([followup]) == [None]
    (note,) = emulator.journal("incident", ref.ticket_id, "work_notes")
    assert note == journal_text(followup)
    assert "@marta_rg on x (mention" in note and note.endswith(f"[ventanilla:x:{reply.external_id}]")
    assert emulator.record("incident", ref.ticket_id).get("work_notes") in ("", None)  # write-only


def test_a_refused_follow_up_fails_alone(store: Store, emulator: ServiceNowSoapEmulator) -> None:
    soap = connector(store, emulator)
    root = interaction()
    (ref,) = soap.upsert_tickets([draft(root, soap.mapping)])
    assert isinstance(ref, TicketRef)
    items = [interaction(thread=root.external_id, text=f"msg {n}") for n in range(2)]
    emulator.fault_next(1, "Operation against file 'incident' was aborted by Business Rule", "update")
    results = soap.append_followups([FollowUp(ref.ticket_id, i, i.text) for i in items])
    assert isinstance(results[0], RecordFailure) and results[0].permanent and results[1] is None
    assert len(emulator.journal("incident", ref.ticket_id, "work_notes")) == 1


def test_reopen_sets_the_first_open_state(store: Store, emulator: ServiceNowSoapEmulator) -> None:
    soap = connector(store, emulator)
    (ref,) = soap.upsert_tickets([draft(interaction(), soap.mapping)])
    assert isinstance(ref, TicketRef)
    emulator.update_record("incident", ref.ticket_id, {"state": "7"})
    opened, unknown = soap.reopen_tickets([ref.ticket_id, "0" * 32])
    assert opened is None and isinstance(unknown, RecordFailure) and unknown.permanent
    assert emulator.record("incident", ref.ticket_id)["state"] == "1"


# --- customers -------------------------------------------------------------------------------


def test_customers_are_matched_with_their_value_and_tier(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    person = seed_person(
        emulator, "x", user_id="1122334455", u_lifetime_value="EUR;80000.50", u_customer_tier="gold"
    )
    seed_person(emulator, "x", user_id="999", active="false")
    found = connector(store, emulator).find_customers([IdentifyRequest(Author("x", "1122334455"))])
    customer = found["x:1122334455"]
    assert (customer.customer_id, customer.value, customer.tier, customer.matched_by) == (
        person,
        80000.5,
        "gold",
        "social_id",
    )
    query = emulator.calls("getRecords", "sys_user")[0].params["__encoded_query"]
    assert query == "u_x_user_idIN1122334455^active=true"


def test_a_handle_shared_by_two_people_is_audited_not_guessed(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    for _ in range(2):
        seed_person(emulator, "x", handle="twin")
    assert (
        connector(store, emulator).find_customers([IdentifyRequest(Author("x", "5", handle="@Twin"))]) == {}
    )
    (entry,) = [e for e in store.audit_entries() if e["action"] == "customer.ambiguous"]
    assert len(entry["detail"]["candidates"]) == 2


def test_a_strategy_on_a_field_the_desk_lacks_is_skipped_and_tickets_still_flow(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    seed_person(emulator, "x", user_id="42", email="ana@example.com")
    mapping = variant(("field: u_x_user_id", "field: u_twitter_id"))
    soap = connector(store, emulator, mapping)
    request = IdentifyRequest(Author("messenger", "42"), emails=("ana@example.com",))
    x_request = IdentifyRequest(Author("x", "42"))
    found = soap.find_customers([request, x_request])
    assert set(found) == {"messenger:42"}  # by email; the x strategy was skipped
    (entry,) = [e for e in store.audit_entries() if e["action"] == "identify.strategy_failed"]
    assert entry["detail"]["field"] == "u_twitter_id" and "ignored the condition" in entry["detail"]["error"]


# --- status back -----------------------------------------------------------------------------


def test_polling_reads_our_changed_incidents_page_by_page(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator, variant(("size: 250", "size: 3")))
    refs = soap.upsert_tickets([draft(interaction(), soap.mapping) for _ in range(7)])
    emulator.add_record("incident", {"short_description": "not ours", "state": "6"})
    emulator.advance(60)
    for ref in refs[:5]:
        assert isinstance(ref, TicketRef)
        emulator.update_record("incident", ref.ticket_id, {"state": "6"})
    since = emulator.now
    changes = soap.read_status_changes(None)
    assert len(changes) == 7 and {c.new_status for c in changes} == {"open", "resolved"}
    assert len(emulator.calls("getRecords", "incident")) == 1 + 3  # 1 lookup of 7 keys, 3 pages
    newer = soap.read_status_changes(since)
    assert sorted(c.ticket_id for c in newer) == sorted(
        r.ticket_id for r in refs[:5] if isinstance(r, TicketRef)
    )
    last = emulator.calls("getRecords", "incident")[-1].params
    assert last["__encoded_query"].startswith(
        f"correlation_display=Ventanilla^sys_updated_on>={since:%Y-%m-%d %H:%M:%S}"
    )


# --- the whole loop --------------------------------------------------------------------------


def soap_config(tmp_path: Path, emulator: ServiceNowSoapEmulator, **overrides: Any) -> dict[str, Any]:
    desk = {"name": "it", "connector": "soap", "connection": "servicenow", "mapping": "servicenow.yaml"}
    return base_config(tmp_path, desks=[desk], connections={"servicenow": connection(emulator)}, **overrides)


@pytest.fixture
def soap_runtime(tmp_path: Path) -> Iterator[tuple[Runtime, FlaskClient, ServiceNowSoapEmulator]]:
    emulator = start_emulator(tls=make_tls(tmp_path))
    config = config_from_dict(soap_config(tmp_path, emulator), base_dir=str(tmp_path))
    store = Store(config.database_url)
    store.create_schema()
    yield Runtime(config, store), create_app(config, store=store).test_client(), emulator
    store.dispose()
    emulator.stop()


def test_signed_webhooks_become_incidents_and_a_resolved_one_gets_exactly_one_reply(
    tmp_path: Path, soap_runtime: tuple[Runtime, FlaskClient, ServiceNowSoapEmulator]
) -> None:
    runtime, client, emulator = soap_runtime
    carmen = seed_person(emulator, "x", handle="carmenvidal", u_lifetime_value="80000")
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
    thread = f"x:{X_BRAND_IDS[0]}:1901570000000000001#1"
    by_key = {t["correlation_id"]: t for t in tickets(emulator)}
    assert sorted(by_key) == sorted([thread, f"x:{X_BRAND_IDS[0]}:1901570000000000003#1"])
    incident = by_key[thread]
    assert incident["caller_id"] == carmen and "Triage: P" in incident["description"]
    other = by_key[f"x:{X_BRAND_IDS[0]}:1901570000000000003#1"]
    assert other.get("caller_id") in ("", None)
    (note,) = emulator.journal("incident", incident["sys_id"], "work_notes")
    assert note.endswith("[ventanilla:x:1901570000000000002]")
    # Redelivered webhooks create nothing and append nothing.
    for body in deliveries:
        post_x(client, body)
    Dispatcher(runtime).run_until_idle()
    assert (
        len(tickets(emulator)) == 2
        and len(emulator.journal("incident", incident["sys_id"], "work_notes")) == 1
    )
    # An agent resolves the incident; polling finds it, twice, and the customer gets one reply.
    emulator.advance(120)
    emulator.update_record(
        "incident", incident["sys_id"], {"state": "6", "close_code": "Solved (Permanently)"}
    )
    config_file = tmp_path / "ventanilla.yaml"
    config_file.write_text(yaml.safe_dump(soap_config(tmp_path, emulator)), encoding="utf-8")
    outputs = [CliRunner().invoke(main, ["sync", "poll", "--config", str(config_file)]) for _ in range(2)]
    assert all(r.exit_code == 0 for r in outputs), outputs[0].output
    assert "it: " in outputs[0].output and "0 new" in outputs[1].output
    (reply,) = runtime.store.list_replies()
    assert (reply.ticket_id, reply.in_reply_to) == (incident["sys_id"], "1901570000000000002")
    assert reply.state == "posted" and "INC0010001" in reply.text


def test_serve_polls_soap_desks_on_a_schedule(
    soap_runtime: tuple[Runtime, FlaskClient, ServiceNowSoapEmulator],
) -> None:
    runtime, _, emulator = soap_runtime
    clock = [1000.0]
    schedule = PollSchedule(runtime, clock=lambda: clock[0])
    assert schedule.intervals == {"it": 300.0}
    assert schedule.run_due() == ["it"]
    clock[0] += 10
    assert schedule.run_due() == []  # not due yet
    clock[0] += 300
    emulator.fault_next(1, "Server is busy", "getRecords")
    emulator.fault_next(5, "Server is busy", "getRecords")
    assert schedule.run_due() == ["it"]  # a failing poll is logged, the schedule goes on
    assert len(emulator.calls("getRecords")) >= 2


# --- configuration and mappings --------------------------------------------------------------


def test_connection_settings_are_checked_without_showing_secrets(tmp_path: Path) -> None:
    desk = {"name": "it", "connector": "soap", "connection": "servicenow", "mapping": "servicenow.yaml"}
    data = base_config(
        tmp_path,
        desks=[desk],
        connections={"servicenow": {"endpoint": "ftp://x", "username": "u", "password": "hunter2-secret"}},
    )
    config = config_from_dict(data, base_dir=str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        Runtime(config, Store(config.database_url))
    assert "connections.servicenow.endpoint" in str(caught.value) and "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "correlation_idIN{keys}",
            "correlation_idIN{thread}",
            "unknown placeholder {thread} for find_ticket",
        ),
        ("      service: users\n", "      service: people\n", "unknown service 'people'"),
        (
            "__encoded_query: correlation_idIN{keys}",
            "__encoded_query: correlation_id=x",
            "must use {key} or {keys}",
        ),
        (
            "correlation_idIN{keys}",
            "correlation_idIN{keys}^ORcorrelation_id={key}",
            "uses both {key} and {keys}",
        ),
    ],
)
def test_soap_blocks_are_validated_before_anything_runs(old: str, new: str, problem: str) -> None:
    with pytest.raises(MappingError) as caught:
        variant((old, new))
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_a_soap_mapping_needs_its_soap_block() -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    start, end = text.index("\nsoap:\n"), text.index("\n# Ventanilla's bookkeeping")
    with pytest.raises(MappingError, match="soap: required for soap mappings"):
        load_mapping_text(text[:start] + text[end:], "x.yaml")


def test_live_validation_loads_the_wsdls_and_names_what_they_lack(
    tmp_path: Path, emulator: ServiceNowSoapEmulator
) -> None:
    config_file = tmp_path / "ventanilla.yaml"
    config_file.write_text(yaml.safe_dump(soap_config(tmp_path, emulator)), encoding="utf-8")
    ok = CliRunner().invoke(
        main, ["mappings", "validate", "--live", "--config", str(config_file), "servicenow.yaml"]
    )
    assert ok.exit_code == 0 and "servicenow.yaml: ok" in ok.output, ok.output
    bad = tmp_path / "bad.yaml"
    text = SHIPPED.read_text(encoding="utf-8").replace(
        "wsdl: servicenow/", f"wsdl: {SHIPPED.parent}/servicenow/"
    )
    text = text.replace("operation: get\n", "operation: fetch\n").replace("u_lifetime_value", "u_value")
    bad.write_text(text.replace("correlation_idIN{keys}", "correlationidIN{keys}"), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["mappings", "validate", "--live", "--config", str(config_file), str(bad)]
    )
    assert result.exit_code == 1
    assert "soap.operations.get.operation: fetch is not in incident" in result.output
    assert "the query names 'correlationid'" in result.output
    assert "answer has no field 'u_value'" in result.output


def test_a_wsdl_fetched_by_url_is_used_with_the_connection(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    mapping = variant(
        ("wsdl: " + str(SHIPPED.parent) + "/servicenow/incident.wsdl", "wsdl: " + emulator.wsdl_url())
    )
    soap = connector(store, emulator, mapping)
    (ref,) = soap.upsert_tickets([draft(interaction(), mapping)])
    assert isinstance(ref, TicketRef)


def test_the_configured_ca_bundle_wins_over_the_environment(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_emulator(tls=make_tls(tmp_path))
    try:
        (tmp_path / "other").mkdir()
        wrong = make_tls(tmp_path / "other")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", wrong.ca_path)
        soap = connector(store, server)
        (ref,) = soap.upsert_tickets([draft(interaction(), soap.mapping)])
        assert isinstance(ref, TicketRef)
    finally:
        server.stop()


def test_an_unusable_wsdl_is_a_permanent_configuration_error(
    tmp_path: Path, store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    hostile = tmp_path / "evil.wsdl"
    hostile.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', encoding="utf-8")
    soap = connector(
        store,
        emulator,
        variant(("wsdl: " + str(SHIPPED.parent) + "/servicenow/incident.wsdl", f"wsdl: {hostile}")),
    )
    (failure,) = soap.upsert_tickets([draft(interaction(), soap.mapping)])
    assert isinstance(failure, RecordFailure) and failure.permanent and "not a usable WSDL" in failure.message
    with pytest.raises(PermanentConnectorError, match=r"DTDForbidden|not a usable WSDL"):
        soap.client.client("incident")


def test_a_thread_key_that_would_change_an_encoded_query_is_refused(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator)
    item = interaction(platform="generic", external_id="abc^active=false")
    (failure,) = soap.upsert_tickets([draft(item, soap.mapping)])
    assert isinstance(failure, RecordFailure) and failure.permanent and "contains '^'" in failure.message
    assert emulator.soap_log() == []


def test_ws_security_sends_a_username_token_instead_of_basic_auth(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator, auth="wsse")
    with pytest.raises(RateLimitedError):  # the emulator only knows Basic: 401, as a desk without WS-Security
        soap.upsert_tickets([draft(interaction(), soap.mapping)])
    (sent,) = emulator.soap_log()
    body = sent.raw_body.decode()
    assert "authorization" not in sent.headers
    assert "UsernameToken" in body and "<wsse:Username>integration.user</wsse:Username>" in body
    assert "#PasswordText" in body


def test_crisis_children_are_linked_to_the_parent_incident(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator)
    parent, *children = soap.upsert_tickets([draft(interaction(), soap.mapping) for _ in range(3)])
    assert isinstance(parent, TicketRef) and all(isinstance(c, TicketRef) for c in children)
    ids = [c.ticket_id for c in children if isinstance(c, TicketRef)]
    for _ in range(2):
        soap.link_to_incident(parent.ticket_id, ids)
    assert [emulator.record("incident", i).get("parent_incident") for i in ids] == [parent.ticket_id] * 2


def test_a_desk_answering_a_create_with_the_bare_id_and_local_times_works(
    tmp_path: Path, store: Store
) -> None:
    """Another desk's WSDL: insert answers only the id (zeep unwraps it), times are Madrid's."""
    wsdl = (SHIPPED.parent / "servicenow" / "incident.wsdl").read_text(encoding="utf-8")
    start = wsdl.index('<xsd:element name="insertResponse">')
    end = wsdl.index("</xsd:element>", wsdl.index('name="number"', start)) + len("</xsd:element>")
    own = tmp_path / "incident.wsdl"
    own.write_text(
        wsdl[:start]
        + wsdl[start:end].replace(
            '<xsd:element maxOccurs="1" minOccurs="0" name="number" type="xsd:string"/>', ""
        )
        + wsdl[end:],
        encoding="utf-8",
    )
    mapping = variant(
        (f"wsdl: {SHIPPED.parent}/servicenow/incident.wsdl", f"wsdl: {own}"),
        ('time_format: "%Y-%m-%d %H:%M:%S"', 'time_format: "%Y-%m-%d %H:%M:%S"\n  time_zone: Europe/Madrid'),
    )
    emulator = start_emulator(tables=[load_table("incident", own), "sys_user"])
    try:
        soap = connector(store, emulator, mapping)
        (ref,) = soap.upsert_tickets([draft(interaction(), mapping)])
        assert isinstance(ref, TicketRef) and ref.ticket_id == tickets(emulator)[0]["sys_id"]
        assert ref.number is None and soap.ticket_number(ref.ticket_id) == "INC0010001"
        (change,) = soap.read_status_changes(None)
        stamp = datetime.strptime(tickets(emulator)[0]["sys_updated_on"], "%Y-%m-%d %H:%M:%S")
        assert change.occurred_at == stamp.replace(tzinfo=ZoneInfo("Europe/Madrid")).astimezone(UTC)
    finally:
        emulator.stop()


def test_one_lookup_per_key_and_per_value_works_too(store: Store, emulator: ServiceNowSoapEmulator) -> None:
    """A desk without IN lists: the mapping asks for one key / one value per call."""
    mapping = variant(
        ("correlation_idIN{keys}", "correlation_id={key}"), ("{field}IN{values}", "{field}={value}")
    )
    soap = connector(store, emulator, mapping)
    person = seed_person(emulator, "x", user_id="77")
    items = [interaction(user_id="77"), interaction(user_id="78")]
    found = soap.find_customers([IdentifyRequest(i.author) for i in items])
    assert {k: c.customer_id for k, c in found.items()} == {"x:77": person}
    first = soap.upsert_tickets([draft(i, mapping) for i in items])
    again = soap.upsert_tickets([draft(i, mapping) for i in items])
    assert [r.ticket_id for r in again if isinstance(r, TicketRef)] == [
        r.ticket_id for r in first if isinstance(r, TicketRef)
    ]
    assert len(tickets(emulator)) == 2
    queries = [c.params["__encoded_query"] for c in emulator.calls("getRecords", "incident")]
    assert all(q.startswith("correlation_id=") for q in queries) and len(queries) == 4


def test_a_burst_of_new_threads_costs_one_lookup_per_fifty(
    store: Store, emulator: ServiceNowSoapEmulator
) -> None:
    soap = connector(store, emulator)
    results = soap.upsert_tickets([draft(interaction(), soap.mapping) for _ in range(120)])
    assert all(isinstance(r, TicketRef) for r in results)
    assert (len(emulator.calls("getRecords")), len(emulator.calls("insert"))) == (3, 120)


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("create_unmatched", "create_unmatched: true\n# ", "create_unmatched is not available"),
        ("field: u_lifetime_value", "field: company.u_value", "related fields"),
    ],
)
def test_what_soap_desks_cannot_do_stops_start_up(
    store: Store, emulator: ServiceNowSoapEmulator, old: str, new: str, problem: str
) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    if old == "create_unmatched":
        text = text.replace("lifecycle:\n", "create_unmatched: true\n\nlifecycle:\n")
        mapping = load_mapping_text(
            text.replace("wsdl: servicenow/", f"wsdl: {SHIPPED.parent}/servicenow/"), "x"
        )
    else:
        mapping = variant((old, new))
    with pytest.raises(ConfigError, match=problem):
        connector(store, emulator, mapping)
