"""The Salesforce connector against the HTTPS emulator, through simple-salesforce over real TLS.

Assertions look at both sides: what the connector returns, and the requests the emulator
logged (method, path, SOQL, body), so the protocol itself is under test.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from connector.cli import main
from connector.config import ConfigError, config_from_dict
from connector.crm.base import (
    ConnectorError,
    FollowUp,
    IdentifyRequest,
    PermanentConnectorError,
    RecordFailure,
)
from connector.crm.salesforce import SalesforceConnector, message_type
from connector.crm.salesforce_session import parse_limit_info
from connector.crm.salesforce_settings import SalesforceSettings, load_settings
from connector.dispatcher import Dispatcher
from connector.model import Author, Customer, InboundBatch, TicketRef
from connector.runtime import Runtime
from connector.schema import audit_log
from connector.store import Store
from mappings import MappingError, load_mapping, load_mapping_text
from tests.conftest import X_BRAND_IDS, base_config
from tests.emulators.salesforce import SalesforceEmulator
from tests.emulators.tls import TlsMaterial, make_tls
from tests.salesforce_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    connection,
    connector,
    data_requests,
    draft,
    interaction,
    rsa_pem_pair,
    settings,
    soql,
)
from tests.signing import post_x
from tests.signing import x_delivery as tweet
from webhooks import create_app

MAPPINGS = Path(__file__).parent / "fixtures" / "mappings"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def emulator(tls: TlsMaterial) -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(tls) as emu:
        emu.register_client(CLIENT_ID, CLIENT_SECRET)
        yield emu


@pytest.fixture
def sf(store: Store, emulator: SalesforceEmulator) -> SalesforceConnector:
    return connector(store, emulator)


def tickets(results: list[TicketRef | RecordFailure]) -> list[TicketRef]:
    refs = [r for r in results if isinstance(r, TicketRef)]
    assert len(refs) == len(results), results
    return refs


def x_author(user_id: str, handle: str | None = None) -> Author:
    return Author("x", user_id, handle=handle, display_name=f"User {user_id}")


# --- settings --------------------------------------------------------------------------------


def test_settings_name_the_missing_credentials_and_never_show_secrets() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {"salesforce": {"auth": "password", "client_secret": "hunter2-secret"}}, "salesforce", Path()
        )
    message = str(caught.value)
    assert "connections.salesforce" in message
    assert "client_id, username, password, token_url" in message
    assert "hunter2" not in message
    parsed = SalesforceSettings(token_url="https://t.example", client_id="c", client_secret="hunter2-secret")
    assert "hunter2" not in repr(parsed) and "hunter2" not in str(parsed.model_dump())


@pytest.mark.parametrize(
    ("connections", "expected"),
    [
        ({}, "connections.salesforce: missing"),
        ({"salesforce": {"batch_size": 500}}, "connections.salesforce.batch_size: Input should be less than"),
        (
            {"salesforce": {"tokn_url": "x"}},
            "connections.salesforce.tokn_url: Extra inputs are not permitted",
        ),
        (
            {"salesforce": {"ca_bundle": "/nonexistent/ca.pem"}},
            "connections.salesforce.ca_bundle: no such file",
        ),
    ],
)
def test_runtime_reports_bad_connection_settings_by_key(
    tmp_path: Path, connections: dict[str, Any], expected: str
) -> None:
    data = base_config(
        tmp_path,
        desks=[{"name": "sf", "connector": "salesforce", "mapping": "salesforce.yaml"}],
        connections=connections,
    )
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        Runtime(config_from_dict(data, base_dir=str(tmp_path)))


def test_a_salesforce_mapping_needs_the_key_field() -> None:
    text = (
        "version: 1\nconnector: salesforce\nobject: Case\nfields: {}\n"
        "status_map: {open: [New], resolved: [Closed]}\nwritable_fields: []\n"
    )
    with pytest.raises(MappingError) as caught:
        load_mapping_text(text, "sf.yaml")
    assert caught.value.problems == [
        "sf.yaml:1: target: required for salesforce mappings: the External ID field holding the thread key "
        "(target.key_field)"
    ]
    with pytest.raises(MappingError, match=r"sf.yaml:7: target.key_field: required"):
        load_mapping_text(text + "target: {status_field: Status}\n", "sf.yaml")


def test_shipped_mapping_target_defaults() -> None:
    target = load_mapping("salesforce.yaml").target
    assert target is not None
    assert (target.key_field, target.status_field, target.number_field) == (
        "Social_Post_Id__c",
        "Status",
        "CaseNumber",
    )
    assert target.followup.fields == {"IsPublished": False}
    assert target.social_posts is False


# --- authentication ------------------------------------------------------------------------------


def _grant(emulator: SalesforceEmulator, grant: str) -> dict[str, Any]:
    if grant == "client_credentials":
        return {}
    if grant == "password":
        emulator.add_user("agent@acme.example", "pa55word", "TOKEN123")
        return {
            "auth": "password",
            "username": "agent@acme.example",
            "password": "pa55word",
            "security_token": "TOKEN123",
        }
    if grant == "jwt":
        private, public = rsa_pem_pair()
        emulator.add_user("jwt@acme.example", "unused")
        emulator.register_jwt_key(CLIENT_ID, public)
        return {"auth": "jwt", "username": "jwt@acme.example", "private_key": private, "client_secret": None}
    return {
        "auth": "access_token",
        "access_token": emulator.issue_token(),
        "instance_url": emulator.instance_url,
    }


@pytest.mark.parametrize("grant", ["client_credentials", "password", "jwt", "access_token"])
def test_every_auth_grant_reaches_the_api(store: Store, emulator: SalesforceEmulator, grant: str) -> None:
    sf = connector(store, emulator, **_grant(emulator, grant))
    assert sf.find_customers([IdentifyRequest(x_author("1"))]) == {}
    tokens = list(emulator.requests_to("/services/oauth2/token"))
    if grant == "access_token":
        assert tokens == []
        return
    (token,) = tokens
    assert token.status == 200
    expected = {"client_credentials": "client_credentials", "password": "password"}.get(
        grant, "urn:ietf:params:oauth:grant-type:jwt-bearer"
    )
    assert token.body["grant_type"] == expected
    if grant == "password":
        assert token.body["password"] == "pa55wordTOKEN123"  # the security token is appended
    if grant == "jwt":
        import jwt

        claims = jwt.decode(token.body["assertion"], options={"verify_signature": False})
        assert (claims["iss"], claims["sub"], claims["aud"]) == (
            CLIENT_ID,
            "jwt@acme.example",
            "https://login.salesforce.com",
        )
        assert 0 < claims["exp"] - time.time() <= 180


def test_wrong_credentials_fail_without_echoing_the_secret(
    store: Store, emulator: SalesforceEmulator
) -> None:
    sf = connector(store, emulator, client_secret="wrong-secret-value")
    with pytest.raises(ConnectorError, match="client_credentials authentication failed") as caught:
        sf.find_customers([IdentifyRequest(x_author("1"))])
    assert "wrong-secret-value" not in str(caught.value)
    assert emulator.api_calls() == 0


def test_an_expired_session_is_renewed_once_and_the_call_repeated(
    store: Store, emulator: SalesforceEmulator, sf: SalesforceConnector
) -> None:
    sf.find_customers([IdentifyRequest(x_author("1"))])
    emulator.expire_sessions()
    emulator.reset_log()
    sf.find_customers([IdentifyRequest(x_author("2"))])
    statuses = [("token" if "oauth2" in e.path else "data", e.status) for e in emulator.request_log]
    assert statuses[:3] == [("data", 401), ("token", 200), ("data", 200)]
    assert statuses[3:] == [("data", 200)] * (len(statuses) - 3)


def test_a_rejected_pre_issued_token_is_reported(store: Store, emulator: SalesforceEmulator) -> None:
    sf = connector(store, emulator, **_grant(emulator, "access_token"))
    emulator.expire_sessions()
    with pytest.raises(ConnectorError, match="access token was rejected"):
        sf.find_customers([IdentifyRequest(x_author("1"))])


def test_the_configured_ca_bundle_wins_over_the_environment(
    store: Store,
    emulator: SalesforceEmulator,
    sf: SalesforceConnector,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = make_tls(tmp_path)  # another CA: it does not sign the emulator's certificate
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", wrong.ca_path)
    monkeypatch.setenv("CURL_CA_BUNDLE", wrong.ca_path)
    plain = requests.Session()
    plain.verify = emulator.ca_path
    with pytest.raises(requests.exceptions.SSLError):  # the pitfall: the environment overrides verify
        plain.get(emulator.instance_url + "/services/data/", timeout=5)
    assert sf.find_customers([IdentifyRequest(x_author("1"))]) == {}


# --- identify ------------------------------------------------------------------------------------


def test_a_handle_with_quote_and_backslash_is_escaped_and_matches(
    emulator: SalesforceEmulator, sf: SalesforceConnector
) -> None:
    contact = emulator.add_record("Contact", {"LastName": "O'Brien", "Twitter_Handle__c": "o'brien\\"})
    found = sf.find_customers([IdentifyRequest(x_author("77", handle="@O'Brien\\"))])
    assert found["x:77"].customer_id == contact
    assert (found["x:77"].matched_by, found["x:77"].confidence) == ("handle", 0.8)
    assert any(q.endswith("WHERE Twitter_Handle__c IN ('o\\'brien\\\\')") for q in soql(emulator))


def test_one_query_per_strategy_per_chunk_of_authors(store: Store, emulator: SalesforceEmulator) -> None:
    sf = connector(store, emulator, query_chunk=200)
    requests_ = [IdentifyRequest(x_author(str(1000 + n), handle=f"user{n}")) for n in range(450)]
    assert sf.find_customers(requests_) == {}
    queries = soql(emulator)
    # SocialPersona, Social_Id__c and Twitter_Handle__c: 450 values in chunks of 200 → 3 each.
    assert [q.split(" FROM ")[1].split(" IN ")[0] for q in queries] == (
        ["SocialPersona WHERE ExternalId"] * 3
        + ["Contact WHERE Social_Id__c"] * 3
        + ["Contact WHERE Twitter_Handle__c"] * 3
    )
    assert max(q.count(",") for q in queries if "Contact WHERE" in q) <= 200 + 6
    assert emulator.api_calls() == 9


def test_strategies_run_in_mapping_order_with_value_and_tier_through_relationships(
    emulator: SalesforceEmulator, store: Store
) -> None:
    text = load_mapping_text_source().replace(
        "  # tier_field: Account.Tier__c", "  tier_field: Account.Tier__c"
    )
    sf = connector(store, emulator, load_mapping_text(text, "salesforce-with-tier.yaml"))
    account = emulator.add_record("Account", {"Name": "Acme", "AnnualRevenue": 250000, "Tier__c": "gold"})
    by_persona = emulator.add_record("Contact", {"LastName": "Persona", "AccountId": account})
    emulator.add_record(
        "SocialPersona",
        {"Name": "persona", "ParentId": by_persona, "Provider": "Twitter", "ExternalId": "11"},
    )
    by_id = emulator.add_record("Contact", {"LastName": "Id", "Social_Id__c": "12"})
    by_fb = emulator.add_record("Contact", {"LastName": "Fb", "Facebook_Id__c": "3450429531722233"})
    by_ig = emulator.add_record("Contact", {"LastName": "Ig", "Instagram_Handle__c": "susie.ig"})
    by_mail = emulator.add_record("Contact", {"LastName": "Mail", "Email": "jane@example.com"})
    by_phone = emulator.add_record("Contact", {"LastName": "Phone", "Phone": "+34 600 123 456"})
    found = sf.find_customers(
        [
            IdentifyRequest(x_author("11", handle="persona")),
            IdentifyRequest(x_author("12")),
            IdentifyRequest(Author("facebook", "3450429531722233")),
            IdentifyRequest(Author("instagram", "901", handle="Susie.IG")),
            IdentifyRequest(Author("messenger", "61000001"), emails=("Jane@Example.com",)),
            IdentifyRequest(Author("messenger", "61000002"), phones=("+34 600 123 456",)),
            IdentifyRequest(x_author("13", handle="nobody")),
        ]
    )
    summary = {key: (c.customer_id, c.matched_by, c.confidence) for key, c in found.items()}
    assert summary == {
        "x:11": (by_persona, "social_id", 1.0),
        "x:12": (by_id, "social_id", 1.0),
        "facebook:3450429531722233": (by_fb, "social_id", 1.0),
        "instagram:901": (by_ig, "handle", 0.8),
        "messenger:61000001": (by_mail, "email", 0.95),
        "messenger:61000002": (by_phone, "phone", 0.9),
    }
    assert found["x:11"] == Customer(
        "salesforce", by_persona, account, "Persona", None, 250000.0, "gold", "social_id", 1.0
    )


def test_a_strategy_the_org_refuses_is_skipped_and_the_rest_still_match(
    emulator: SalesforceEmulator, store: Store
) -> None:
    text = load_mapping_text_source().replace("field: Twitter_Handle__c", "field: Twitter_Handel__c")
    sf = connector(store, emulator, load_mapping_text(text, "typo.yaml"))
    by_mail = emulator.add_record("Contact", {"LastName": "Mail", "Email": "jane@example.com"})
    found = sf.find_customers(
        [
            IdentifyRequest(x_author("12", handle="jane")),
            IdentifyRequest(Author("x", "77"), emails=("jane@example.com",)),
        ]
    )
    assert {k: c.customer_id for k, c in found.items()} == {"x:77": by_mail}
    with store.engine.connect() as conn:
        actions = [row.action for row in conn.execute(select(audit_log))]
    assert "identify.strategy_failed" in actions


def test_persona_ids_are_compared_per_network(emulator: SalesforceEmulator, sf: SalesforceConnector) -> None:
    on_x = emulator.add_record("Contact", {"LastName": "On X"})
    on_fb = emulator.add_record("Contact", {"LastName": "On Facebook"})
    account = emulator.add_record("Account", {"Name": "Not a contact"})
    for parent, provider, external in (
        (on_x, "Twitter", "555"),
        (on_fb, "Facebook", "555"),
        (account, "Instagram", "9"),
    ):
        emulator.add_record(
            "SocialPersona", {"Name": "p", "ParentId": parent, "Provider": provider, "ExternalId": external}
        )
    found = sf.find_customers(
        [
            IdentifyRequest(x_author("555")),
            IdentifyRequest(Author("facebook", "555")),
            IdentifyRequest(Author("instagram", "9")),
        ]
    )
    assert {k: c.customer_id for k, c in found.items()} == {"x:555": on_x, "facebook:555": on_fb}
    persona_queries = [q for q in soql(emulator) if "FROM SocialPersona" in q]
    assert persona_queries == [
        "SELECT Id, ParentId, ExternalId, Name, Provider FROM SocialPersona WHERE ExternalId IN ('555','9') "
        "AND Provider IN ('Facebook','Instagram','Twitter')"
    ]


def test_a_value_shared_by_two_contacts_is_not_guessed(
    store: Store, emulator: SalesforceEmulator, sf: SalesforceConnector
) -> None:
    first = emulator.add_record("Contact", {"LastName": "A", "Twitter_Handle__c": "twin"})
    second = emulator.add_record("Contact", {"LastName": "B", "Twitter_Handle__c": "TWIN"})
    assert sf.find_customers([IdentifyRequest(x_author("5", handle="twin"))]) == {}
    with store.engine.connect() as conn:
        (row,) = conn.execute(select(audit_log).where(audit_log.c.action == "customer.ambiguous")).all()
    assert row.subject == "support:x:5"
    assert row.detail["candidates"] == sorted([first, second])
    assert row.detail["confidence"] == 0


def test_contacts_are_created_only_when_the_mapping_says_so(
    store: Store, emulator: SalesforceEmulator, sf: SalesforceConnector
) -> None:
    assert sf.find_customers([IdentifyRequest(x_author("42", handle="newbie"))]) == {}
    assert emulator.records["Contact"] == {}
    text = (MAPPINGS / "salesforce_create_unmatched.yaml").read_text()
    creating = connector(store, emulator, load_mapping_text(text, "create.yaml"))
    found = creating.find_customers([IdentifyRequest(x_author("42", handle="newbie"))])
    (contact,) = emulator.records["Contact"].values()
    assert (contact["LastName"], contact["Social_Id__c"]) == ("User 42", "42")
    assert found["x:42"].customer_id == contact["Id"]
    emulator.reset_log()
    again = creating.find_customers([IdentifyRequest(x_author("42", handle="newbie"))])
    assert again["x:42"].customer_id == contact["Id"]
    assert len(emulator.records["Contact"]) == 1
    assert ("POST", "/composite/sobjects") not in data_requests(emulator)


# --- tickets -------------------------------------------------------------------------------------


def test_cases_are_upserted_on_the_thread_key_in_one_collection_call(
    emulator: SalesforceEmulator, sf: SalesforceConnector
) -> None:
    items = [interaction(user_id=str(n), handle=f"h{n}") for n in range(3)]
    contact = emulator.add_record("Contact", {"LastName": "Known"})
    customer = Customer("salesforce", contact, None, "Known", matched_by="email", confidence=0.95)
    drafts = [draft(items[0], customer=customer), draft(items[1]), draft(items[2])]
    first = tickets(sf.upsert_tickets(drafts))
    assert data_requests(emulator) == [("PATCH", "/composite/sobjects/Case/Social_Post_Id__c")]
    (upsert,) = list(emulator.requests_to("/composite/sobjects/Case/"))
    assert upsert.body["allOrNone"] is False
    record = upsert.body["records"][0]
    assert record["attributes"] == {"type": "Case"}
    assert record["Social_Post_Id__c"] == drafts[0].external_key
    assert record["ContactId"] == contact and "ContactId" not in upsert.body["records"][1]
    assert (record["Origin"], record["Priority"], record["Language__c"]) == ("Web", "Medium", "en")
    again = tickets(sf.upsert_tickets(drafts))
    assert [r.ticket_id for r in again] == [r.ticket_id for r in first]
    assert len(emulator.records["Case"]) == 3
    case = emulator.records["Case"][first[0].ticket_id]
    assert first[0].number is None and first[0].status == "open"  # read only when a reply needs it
    assert sf.ticket_number(first[0].ticket_id) == case["CaseNumber"]
    assert first[0].url == f"{emulator.instance_url}/{case['Id']}"
    assert case["Subject"] == drafts[0].fields["Subject"]


def test_a_refused_case_fails_alone_with_salesforces_message_and_field(
    emulator: SalesforceEmulator, sf: SalesforceConnector
) -> None:
    good, bad, other = (interaction() for _ in range(3))
    results = sf.upsert_tickets([draft(good), draft(bad, Origin="Carrier pigeon"), draft(other)])
    assert isinstance(results[0], TicketRef) and isinstance(results[2], TicketRef)
    failure = results[1]
    assert isinstance(failure, RecordFailure)
    assert failure.permanent and failure.fields == ("Origin",)
    assert "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in failure.message
    assert len(emulator.records["Case"]) == 2


def test_follow_ups_become_unpublished_comments_once(
    emulator: SalesforceEmulator, sf: SalesforceConnector
) -> None:
    root = interaction(text="first")
    (ref,) = tickets(sf.upsert_tickets([draft(root)]))
    replies = [interaction(text=f"reply {n}", thread=root.external_id) for n in range(3)]
    followups = [FollowUp(ref.ticket_id, item, item.text) for item in replies]
    emulator.reset_log()
    assert sf.append_followups(followups) == [None, None, None]
    assert data_requests(emulator) == [("POST", "/composite/sobjects")]
    comments = sorted(emulator.records["CaseComment"].values(), key=lambda c: c["CommentBody"])
    assert [c["IsPublished"] for c in comments] == [False] * 3
    assert comments[0]["ParentId"] == ref.ticket_id
    assert comments[0]["CommentBody"].endswith(
        f"reply 0\n{replies[0].permalink}\n[ventanilla:x:{replies[0].external_id}]"
    )
    emulator.reset_log()
    assert sf.append_followups(followups) == [None, None, None]
    assert emulator.api_calls() == 0  # recorded results: nothing to ask Salesforce
    assert len(emulator.records["CaseComment"]) == 3


def test_a_comment_created_before_a_crash_is_found_not_posted_again(
    store: Store, emulator: SalesforceEmulator
) -> None:
    sf = connector(store, emulator, timeout_s=0.3)
    (ref,) = tickets(sf.upsert_tickets([draft(interaction())]))
    followup = FollowUp(ref.ticket_id, interaction(text="are you there?"), "are you there?")
    emulator.latency_s = 0.6  # Salesforce creates the comment, but the answer comes too late
    with pytest.raises(ConnectorError, match="timed out"):
        sf.append_followups([followup])
    time.sleep(0.5)
    emulator.latency_s = 0
    assert len(emulator.records["CaseComment"]) == 1
    posts = [e for e in emulator.request_log if e.method == "POST" and e.path.endswith("/composite/sobjects")]
    assert len(posts) == 1  # a create that may have been applied is not retried in-call
    emulator.reset_log()
    assert sf.append_followups([followup]) == [None]
    assert len(emulator.records["CaseComment"]) == 1
    assert [q.split(" WHERE ")[0] for q in soql(emulator)] == [
        "SELECT Id, ParentId, CommentBody FROM CaseComment"
    ]
    assert ("POST", "/composite/sobjects") not in data_requests(emulator)


def test_social_posts_ride_with_the_comments_when_the_mapping_asks(
    store: Store, emulator: SalesforceEmulator
) -> None:
    mapping = load_mapping(MAPPINGS / "salesforce_social_posts.yaml")
    sf = connector(store, emulator, mapping)
    root = interaction(text="first")
    (ref,) = tickets(sf.upsert_tickets([draft(root, mapping)]))
    (post,) = emulator.records["SocialPost"].values()
    assert (post["ParentId"], post["ExternalPostId"], post["Provider"], post["MessageType"]) == (
        ref.ticket_id,
        root.external_id,
        "Twitter",
        "Tweet",
    )
    emulator.reset_log()
    reply = interaction(text="second", thread=root.external_id)
    assert sf.append_followups([FollowUp(ref.ticket_id, reply, reply.text)]) == [None]
    (call,) = list(emulator.requests_to("/composite/sobjects"))
    assert [r["attributes"]["type"] for r in call.body["records"]] == ["CaseComment", "SocialPost"]
    assert len(emulator.records["SocialPost"]) == 2
    assert tickets(sf.upsert_tickets([draft(root, mapping)]))[0].ticket_id == ref.ticket_id
    assert len(emulator.records["SocialPost"]) == 2


def test_reopen_sets_the_first_open_status(emulator: SalesforceEmulator, sf: SalesforceConnector) -> None:
    (ref,) = tickets(sf.upsert_tickets([draft(interaction())]))
    emulator.update_record("Case", ref.ticket_id, {"Status": "Closed"})
    emulator.reset_log()
    assert sf.reopen_tickets([ref.ticket_id, "500RO0000000000AAA"])[0] is None
    (call,) = list(emulator.requests_to("/composite/sobjects"))
    assert call.method == "PATCH"
    assert call.body["records"][0] == {"attributes": {"type": "Case"}, "id": ref.ticket_id, "Status": "New"}
    assert emulator.records["Case"][ref.ticket_id]["Status"] == "New"


def test_status_changes_are_polled_across_pages(
    emulator: SalesforceEmulator, sf: SalesforceConnector
) -> None:
    refs = tickets(sf.upsert_tickets([draft(interaction()) for _ in range(5)]))
    emulator.add_record("Case", {"Subject": "not ours", "Status": "Closed"})
    for ref in refs[:3]:
        emulator.update_record("Case", ref.ticket_id, {"Status": "Closed"})
    emulator.query_page_size = 2
    emulator.reset_log()
    changes = sf.read_status_changes(None)
    assert [(c.ticket_id, c.new_status) for c in changes] == [
        *((r.ticket_id, "open") for r in refs[3:]),
        *((r.ticket_id, "resolved") for r in refs[:3]),
    ]
    assert len(list(emulator.requests_to("/query/"))) == 3  # the query and two nextRecordsUrl pages
    (query,) = soql(emulator)
    assert query.startswith("SELECT Id, CaseNumber, Status, LastModifiedDate, Social_Post_Id__c FROM Case")
    assert (
        changes[-1].event_id
        == f"poll:{refs[2].ticket_id}:{emulator.records['Case'][refs[2].ticket_id]['LastModifiedDate']}"
    )
    since = changes[2].occurred_at
    later = sf.read_status_changes(since)
    assert [c.ticket_id for c in later] == [r.ticket_id for r in refs[1:3]]
    assert "LastModifiedDate > 20" in soql(emulator)[-1]


# --- failures ------------------------------------------------------------------------------------


def test_request_limit_exceeded_pauses_the_connector(store: Store, emulator: SalesforceEmulator) -> None:
    sf = connector(store, emulator, pause_base_s=0.4)
    emulator.fail_next(1, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", "/query/")
    with pytest.raises(ConnectorError, match="paused until"):
        sf.find_customers([IdentifyRequest(x_author("1"))])
    state = store.get_state("salesforce:support", "paused_until")
    assert state["trips"] == 1 and "REQUEST_LIMIT_EXCEEDED" in state["reason"]
    logged = len(emulator.request_log)
    with pytest.raises(ConnectorError, match="paused until"):
        sf.upsert_tickets([draft(interaction())])
    assert len(emulator.request_log) == logged  # refused without calling Salesforce
    time.sleep(0.45)
    assert isinstance(sf.upsert_tickets([draft(interaction())])[0], TicketRef)
    assert store.get_state("salesforce:support", "paused_until")["trips"] == 0


def test_a_repeated_throttle_doubles_the_pause(store: Store, emulator: SalesforceEmulator) -> None:
    sf = connector(store, emulator, pause_base_s=0.05)
    for trips in (1, 2):
        emulator.fail_next(1, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", "/query/")
        with pytest.raises(ConnectorError):
            sf.find_customers([IdentifyRequest(x_author("1"))])
        assert store.get_state("salesforce:support", "paused_until")["trips"] == trips
        time.sleep(0.05 * 2 ** (trips - 1) + 0.02)


def test_server_errors_are_retried_in_call(emulator: SalesforceEmulator, sf: SalesforceConnector) -> None:
    emulator.fail_next(2, 503, "SERVER_UNAVAILABLE", "Service unavailable", path_contains="/composite/")
    assert isinstance(sf.upsert_tickets([draft(interaction())])[0], TicketRef)
    statuses = [e.status for e in emulator.requests_to("/composite/sobjects/Case")]
    assert statuses == [503, 503, 200]
    emulator.fail_next(3, 500, "UNKNOWN_EXCEPTION", "boom", path_contains="/query/")
    with pytest.raises(ConnectorError, match="500 UNKNOWN_EXCEPTION: boom"):
        sf.read_status_changes(None)


def test_slow_answers_time_out_and_are_retried(store: Store, emulator: SalesforceEmulator) -> None:
    sf = connector(store, emulator, timeout_s=0.2, retries=2)
    sf.find_customers([IdentifyRequest(x_author("1"))])  # authenticated
    emulator.latency_s = 0.4
    emulator.reset_log()
    with pytest.raises(ConnectorError, match="timed out"):
        sf.read_status_changes(None)
    assert len(emulator.request_log) == 2


def test_a_malformed_request_is_permanent(emulator: SalesforceEmulator, sf: SalesforceConnector) -> None:
    emulator.fail_next(1, 400, "MALFORMED_QUERY", "unexpected token", path_contains="/query/")
    with pytest.raises(PermanentConnectorError, match="MALFORMED_QUERY: unexpected token"):
        sf.read_status_changes(None)


def test_api_usage_is_recorded_once_per_batch_and_warned_past_80_percent(
    store: Store, tls: TlsMaterial, caplog: pytest.LogCaptureFixture
) -> None:
    with SalesforceEmulator(tls, limit=10) as emulator:
        emulator.register_client(CLIENT_ID, CLIENT_SECRET)
        sf = connector(store, emulator)
        sf.find_customers([IdentifyRequest(x_author("1"))])
        usage = store.get_state("salesforce:support", "api_usage")
        assert usage["api-usage"] == {"used": 2, "total": 10}
        assert usage["raw"] == "api-usage=2/10"
        with caplog.at_level(logging.WARNING, logger="ventanilla.salesforce"):
            for _ in range(6):
                sf.upsert_tickets([draft(interaction()) for _ in range(3)])
        assert store.get_state("salesforce:support", "api_usage")["api-usage"] == {"used": 8, "total": 10}
        assert "8 of 10 daily API requests used (80%)" in caplog.text


def test_limit_info_parsing_keeps_every_pair() -> None:
    assert parse_limit_info(
        "api-usage=10018/100000; api-bursts=1/750; per-app-api-usage=17/250(appName=x)"
    ) == {
        "api-usage": {"used": 10018, "total": 100000},
        "api-bursts": {"used": 1, "total": 750},
        "per-app-api-usage": {"used": 17, "total": 250, "app": "x"},
    }


def test_connection_helper_matches_the_settings(emulator: SalesforceEmulator) -> None:
    assert settings(emulator).token_url == connection(emulator)["token_url"]


# --- the whole loop ------------------------------------------------------------------------------


def social_desk_config(tmp_path: Path, emulator: SalesforceEmulator) -> dict[str, Any]:
    """A configuration with one Salesforce desk ("social") on the emulator."""
    desk = {
        "name": "social",
        "connector": "salesforce",
        "connection": "salesforce",
        "mapping": "salesforce.yaml",
    }
    return base_config(tmp_path, desks=[desk], connections={"salesforce": connection(emulator)})


@pytest.fixture
def sf_runtime(tmp_path: Path, emulator: SalesforceEmulator) -> Iterator[tuple[Runtime, FlaskClient]]:
    data = social_desk_config(tmp_path, emulator)
    config = config_from_dict(data, base_dir=str(tmp_path))
    store = Store(config.database_url)
    store.create_schema()
    yield Runtime(config, store), create_app(config, store=store).test_client()
    store.dispose()


def test_signed_webhooks_become_cases_comments_and_one_reply(
    emulator: SalesforceEmulator, sf_runtime: tuple[Runtime, FlaskClient]
) -> None:
    runtime, client = sf_runtime
    account = emulator.add_record("Account", {"Name": "Acme Corp", "AnnualRevenue": 120000})
    carmen = emulator.add_record(
        "Contact", {"LastName": "Vidal", "Twitter_Handle__c": "carmenvidal", "AccountId": account}
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
        tweet("1901570000000000003", "@AcmeSupport refund please", "987654321", "o'brien\\"),
    ]
    for body in deliveries:
        assert post_x(client, body).status_code == 200
    Dispatcher(runtime).run_until_idle()
    cases = {c["Social_Post_Id__c"]: c for c in emulator.records["Case"].values()}
    thread = f"x:{X_BRAND_IDS[0]}:1901570000000000001"
    assert sorted(cases) == sorted([f"{thread}#1", f"x:{X_BRAND_IDS[0]}:1901570000000000003#1"])
    case = cases[f"{thread}#1"]
    assert (case["ContactId"], case["AccountId"], case["Origin"], case["Language__c"]) == (
        carmen,
        account,
        "Web",
        "en",
    )
    assert case["Subject"].startswith("[x] carmenvidal: @AcmeSupport my parcel is lost")
    assert case["Priority"] in ("High", "Medium", "Low") and "Triage: P" in case["Description"]
    assert (case["Origin"], case["SuppliedName"]) == ("Web", "carmenvidal name")
    (comment,) = emulator.records["CaseComment"].values()
    assert comment["ParentId"] == case["Id"] and comment["IsPublished"] is False
    assert comment["CommentBody"].endswith("[ventanilla:x:1901570000000000002]")
    assert any("Twitter_Handle__c IN ('carmenvidal','o\\'brien\\\\')" in q for q in soql(emulator))
    # Redelivered webhooks change nothing; an agent closing the Case yields exactly one reply.
    for body in deliveries:
        post_x(client, body)
    Dispatcher(runtime).run_until_idle()
    assert (len(emulator.records["Case"]), len(emulator.records["CaseComment"])) == (2, 1)
    emulator.update_record("Case", case["Id"], {"Status": "Closed"})
    for _ in range(2):
        for change in runtime.connector("social").read_status_changes(None):
            runtime.store.record_status_change("social", change)
        Dispatcher(runtime).run_until_idle()
    (reply,) = runtime.store.list_replies()
    assert (reply.ticket_id, reply.in_reply_to, reply.state) == (case["Id"], "1901570000000000002", "posted")
    assert f"case #{case['CaseNumber']}" in reply.text  # the Case number read back at upsert


def outbound_message(org_id: str, notification_id: str, case: dict[str, Any], status: str) -> bytes:
    """An Outbound Message as Salesforce sends it (protocols.md D.7), for one Case."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>{org_id}</OrganizationId><ActionId>04k70000000TN3iAAG</ActionId>
<SessionId xsi:nil="true"/>
<Notification><Id>{notification_id}</Id>
<sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
<sf:Id>{case["Id"]}</sf:Id><sf:CaseNumber>{case["CaseNumber"]}</sf:CaseNumber><sf:Status>{status}</sf:Status>
<sf:Social_Post_Id__c>{case["Social_Post_Id__c"]}</sf:Social_Post_Id__c>
</sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>""".encode()


def test_an_outbound_message_for_a_closed_case_yields_exactly_one_reply(
    emulator: SalesforceEmulator, sf_runtime: tuple[Runtime, FlaskClient]
) -> None:
    runtime, client = sf_runtime
    assert (
        post_x(client, tweet("1901580000000000001", "@AcmeSupport broken again", "555", "dana")).status_code
        == 200
    )
    Dispatcher(runtime).run_until_idle()
    (case,) = emulator.records["Case"].values()
    emulator.update_record("Case", case["Id"], {"Status": "Closed"})
    body = outbound_message(emulator.org_id, "04l7000000DjbKjAAJ", case, "Closed")
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    for _ in range(3):  # Salesforce redelivers until acknowledged, in any order
        response = client.post("/webhooks/salesforce/outbound", data=body, headers=headers)
        assert response.status_code == 200 and b"<Ack>true</Ack>" in response.data
        Dispatcher(runtime).run_until_idle()
    # The poller reads the same closure too: still one reply.
    for change in runtime.connector("social").read_status_changes(None):
        runtime.store.record_status_change("social", change)
    Dispatcher(runtime).run_until_idle()
    (reply,) = runtime.store.list_replies()
    assert (reply.ticket_id, reply.in_reply_to, reply.state) == (case["Id"], "1901580000000000001", "posted")
    assert case["CaseNumber"] in reply.text  # taken from the outbound message, no extra call


def test_sync_poll_reads_closed_cases_from_the_watermark_and_replies_once(
    tmp_path: Path, emulator: SalesforceEmulator, sf_runtime: tuple[Runtime, FlaskClient]
) -> None:
    runtime, client = sf_runtime
    assert (
        post_x(client, tweet("1901590000000000001", "@AcmeSupport no refund yet", "556", "eli")).status_code
        == 200
    )
    Dispatcher(runtime).run_until_idle()
    (case,) = emulator.records["Case"].values()
    config_file = tmp_path / "ventanilla.yaml"
    data = social_desk_config(tmp_path, emulator)
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    first = CliRunner().invoke(main, ["sync", "poll", "--config", str(config_file)])
    assert first.exit_code == 0, first.output
    assert "social: 0 change(s) read" not in first.output  # the open Case maps to "open": read, no reply
    emulator.update_record("Case", case["Id"], {"Status": "Closed"})
    second = CliRunner().invoke(main, ["sync", "poll", "--config", str(config_file)])
    assert second.exit_code == 0 and "1 new" in second.output, second.output
    third = CliRunner().invoke(main, ["sync", "poll", "--config", str(config_file)])
    assert "0 new" in third.output, third.output
    (reply,) = runtime.store.list_replies()
    assert reply.ticket_id == case["Id"] and reply.state == "posted"
    unknown = CliRunner().invoke(main, ["sync", "poll", "--desk", "nope", "--config", str(config_file)])
    assert unknown.exit_code == 1 and "no such desk: nope" in unknown.output


# --- mappings validate --live --------------------------------------------------------------------


def test_live_validation_reads_the_describe(tmp_path: Path, emulator: SalesforceEmulator) -> None:
    config_file = tmp_path / "ventanilla.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "database_url": f"sqlite:///{tmp_path / 'v.db'}",
                "desks": [{"name": "social", "connector": "salesforce", "mapping": "salesforce.yaml"}],
                "connections": {"salesforce": connection(emulator)},
            }
        )
    )
    runner = CliRunner()
    ok = runner.invoke(
        main, ["mappings", "validate", "--live", "--config", str(config_file), "salesforce.yaml"]
    )
    assert (ok.exit_code, ok.output) == (0, "salesforce.yaml: ok\n"), ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        load_mapping_text_source()
        .replace("key_field: Social_Post_Id__c", "key_field: Subject")
        .replace("  Permalink__c:\n", "  Permalnk__c:\n")
        .replace("  - Permalink__c\n", "  - Permalnk__c\n  - CaseNumber\n")
        .replace("# reply:\n#   field: Public_Reply__c", "reply:\n  field: Public_Reply__c")
        + "\n"
    )
    failed = runner.invoke(main, ["mappings", "validate", "--live", "--config", str(config_file), str(bad)])
    assert failed.exit_code == 1
    assert failed.output.splitlines() == [
        f"{bad}: fields.Permalnk__c: no such field on Case",
        f"{bad}: writable_fields.CaseNumber: Case.CaseNumber is not createable",
        f"{bad}: target.key_field: Case.Subject is not an External ID field",
        f"{bad}: reply.field: no such field on Case",
    ]


def load_mapping_text_source() -> str:
    return (Path(__file__).parents[1] / "mappings" / "salesforce.yaml").read_text()


def test_a_burst_of_1000_interactions_costs_under_two_calls_per_hundred(
    emulator: SalesforceEmulator, sf_runtime: tuple[Runtime, FlaskClient]
) -> None:
    """300 authors (a third known Contacts), 900 threads, 100 follow-ups, one dispatcher batch."""
    config = sf_runtime[0].config
    large = config.model_copy(
        update={"dispatcher": config.dispatcher.model_copy(update={"batch_size": 1000})}
    )
    runtime = Runtime(large, sf_runtime[0].store)
    platforms = ["x"] * 150 + ["facebook"] * 100 + ["instagram"] * 50
    authors = [
        Author(p, f"{p[:2]}{n:06d}", handle=None if p == "facebook" else f"user{n}", display_name=f"U{n}")
        for n, p in enumerate(platforms)
    ]
    fields = {"x": "Twitter_Handle__c", "instagram": "Instagram_Handle__c", "facebook": "Facebook_Id__c"}
    for author in authors[::3]:
        emulator.add_record(
            "Contact",
            {"LastName": "Known", fields[author.platform]: author.handle or author.platform_user_id},
        )
    roots = [
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
    Dispatcher(runtime).run_until_idle(60)
    assert (len(emulator.records["Case"]), len(emulator.records["CaseComment"])) == (900, 100)
    # 2 SocialPersona + 4 Contact queries, 5 Case upserts, 1 comment post (numbers: read at reply time).
    assert emulator.api_calls() == 12
    assert emulator.api_calls() / 1000 <= 0.02


def test_a_dropped_connection_is_retried_for_reads_and_settled_by_intent_for_creates(
    emulator: SalesforceEmulator, sf: SalesforceConnector
) -> None:
    (ref,) = tickets(sf.upsert_tickets([draft(interaction())]))
    emulator.drop_connection_next(1, path_contains="/query/")
    assert sf.read_status_changes(None)[0].ticket_id == ref.ticket_id
    followup = FollowUp(ref.ticket_id, interaction(text="hello?"), "hello?")
    emulator.drop_connection_next(1, path_contains="/composite/sobjects")
    with pytest.raises(ConnectorError, match="connection failed"):
        sf.append_followups([followup])
    assert emulator.records["CaseComment"] == {}
    emulator.reset_log()
    assert sf.append_followups([followup]) == [None]  # looked for first, then posted once
    assert data_requests(emulator) == [("GET", "/query/"), ("POST", "/composite/sobjects")]
    assert len(emulator.records["CaseComment"]) == 1


def test_the_agent_reply_field_is_read_when_the_org_has_it(
    store: Store, emulator: SalesforceEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    text = load_mapping_text_source().replace(
        "# reply:\n#   field: Public_Reply__c", "reply:\n  field: Public_Reply__c"
    )
    sf = connector(store, emulator, load_mapping_text(text, "with-reply.yaml"))
    (ref,) = tickets(sf.upsert_tickets([draft(interaction())]))
    with caplog.at_level(logging.WARNING, logger="ventanilla.salesforce"):
        assert sf.ticket_fields(ref.ticket_id) == {}
    assert "cannot read Case.Public_Reply__c" in caplog.text
    emulator.describe_field("Case", "Public_Reply__c", type="textarea", length=32768)
    emulator.update_record("Case", ref.ticket_id, {"Public_Reply__c": "Sent a new one today!"})
    assert sf.ticket_fields(ref.ticket_id) == {"Public_Reply__c": "Sent a new one today!"}


def test_names_that_cannot_go_into_soql_are_refused_at_start(
    store: Store, emulator: SalesforceEmulator
) -> None:
    text = load_mapping_text_source().replace("field: Phone", "field: Phone) OR (Id != null")
    with pytest.raises(
        ConfigError, match=r"'Phone\) OR \(Id != null' is not a Salesforce object or field name"
    ):
        connector(store, emulator, load_mapping_text(text, "evil.yaml"))


@pytest.mark.parametrize(
    ("platform", "kind", "parent", "expected"),
    [
        ("x", "mention", None, "Tweet"),
        ("x", "mention", "1901", "Reply"),
        ("x", "direct_message", None, "Direct"),
        ("messenger", "direct_message", None, "PrivateMessage"),
        ("facebook", "comment", "1", "Comment"),
        ("generic", "review", None, "Post"),
    ],
)
def test_social_post_message_types(platform: str, kind: str, parent: str | None, expected: str) -> None:
    assert message_type(interaction(platform=platform, kind=kind, parent_external_id=parent)) == expected


def test_crisis_children_get_the_parent_case_as_parent(
    emulator: SalesforceEmulator, sf: SalesforceConnector
) -> None:
    parent, *children = tickets(sf.upsert_tickets([draft(interaction()) for _ in range(3)]))
    ids = [c.ticket_id for c in children]
    emulator.reset_log()
    for _ in range(2):
        sf.link_to_incident(parent.ticket_id, ids)
    assert [emulator.records["Case"][i]["ParentId"] for i in ids] == [parent.ticket_id] * 2
    assert len(emulator.request_log) == 2  # one collection call per link run
