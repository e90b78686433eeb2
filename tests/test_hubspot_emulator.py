"""The HubSpot emulator, driven by the real hubspot-api-client over real HTTP (and once over HTTPS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import hubspot
import pytest
import requests
from hubspot.crm import contacts as hs_contacts
from hubspot.crm import tickets as hs_tickets
from hubspot.crm.associations import v4 as hs_assoc
from hubspot.crm.objects import notes as hs_notes
from hubspot.crm.pipelines import ApiException as PipelinesApiException
from urllib3.util.retry import Retry

from tests.emulators.hubspot import HubSpotEmulator
from tests.emulators.hubspot_server import join_repeated_query
from tests.emulators.tls import make_tls

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
RATE_HEADERS = (
    "X-HubSpot-RateLimit-Max",
    "X-HubSpot-RateLimit-Remaining",
    "X-HubSpot-RateLimit-Interval-Milliseconds",
    "X-HubSpot-RateLimit-Daily",
    "X-HubSpot-RateLimit-Daily-Remaining",
)


@pytest.fixture(scope="module")
def emu() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator() as emulator:
        emulator.add_token(TOKEN)
        yield emulator


@pytest.fixture(autouse=True)
def _clean_slate(emu: HubSpotEmulator) -> Iterator[None]:
    """Tests share one portal: give each a fresh log, no faults and full rate-limit budgets."""
    emu.reset_log()
    emu.clear_faults()
    yield
    emu.clear_faults()
    emu.burst_limit, emu.search_per_second, emu.daily_limit = 190, 5, 650_000


@pytest.fixture
def client(emu: HubSpotEmulator) -> hubspot.Client:
    return hubspot.HubSpot(access_token=TOKEN, host=emu.base_url)


def _body(error: Any) -> dict[str, Any]:
    return json.loads(error.body)  # type: ignore[no-any-return]


def _search(*groups: list[hs_contacts.Filter], **kwargs: Any) -> hs_contacts.PublicObjectSearchRequest:
    return hs_contacts.PublicObjectSearchRequest(
        filter_groups=[hs_contacts.FilterGroup(filters=list(g)) for g in groups], **kwargs
    )


def _ticket(emu: HubSpotEmulator, key: str, **props: str) -> str:
    return emu.add_record(
        "tickets",
        {"subject": f"ticket {key}", "hs_pipeline_stage": "1", "ventanilla_thread_key": key, **props},
    )


# -- the SDK against a local host -------------------------------------------------------------------


def test_the_sdk_factory_points_every_api_at_the_emulator(
    emu: HubSpotEmulator, client: hubspot.Client
) -> None:
    apis = [
        client.crm.contacts.search_api,
        client.crm.tickets.batch_api,
        client.crm.objects.notes.batch_api,
        client.crm.associations.v4.basic_api,
        client.crm.associations.v4.batch_api,
        client.crm.pipelines.pipelines_api,
    ]
    assert {api.api_client.configuration.host for api in apis} == {emu.base_url}
    client.crm.pipelines.pipelines_api.get_all("tickets")
    (entry,) = emu.request_log
    assert entry.headers["authorization"] == f"Bearer {TOKEN}"
    assert entry.headers["user-agent"].startswith("hubspot-api-client-python; 12.")


def test_https_mode_serves_the_same_api_with_a_ca_bundle(tmp_path: Any) -> None:
    tls = make_tls(tmp_path)
    with HubSpotEmulator(tls) as secure:
        secure.add_token(TOKEN)
        assert secure.base_url.startswith("https://127.0.0.1:") and secure.ca_path == tls.ca_path
        secure_client = hubspot.HubSpot(access_token=TOKEN, host=secure.base_url, ssl_ca_cert=secure.ca_path)
        page = secure_client.crm.pipelines.pipelines_api.get_all("tickets")
    assert [p.id for p in page.results] == ["0"]


# -- search -----------------------------------------------------------------------------------------


def test_search_ors_groups_ands_filters_and_pages_with_after(
    emu: HubSpotEmulator, client: hubspot.Client
) -> None:
    for n in range(5):
        emu.add_record("contacts", {"email": f"s{n}@paging.test", "tier": "gold" if n % 2 else "silver"})
    emu.add_record("contacts", {"email": "other@elsewhere.test", "tier": "gold"})
    domain = hs_contacts.Filter(property_name="email", operator="CONTAINS_TOKEN", value="*@paging.test")
    gold = hs_contacts.Filter(property_name="tier", operator="IN", values=["gold", "platinum"])
    first = hs_contacts.Filter(property_name="email", operator="EQ", value="S0@PAGING.TEST")
    request = _search([domain, gold], [first], properties=["email", "tier"], limit=2)

    page1 = client.crm.contacts.search_api.do_search(public_object_search_request=request)
    assert page1.total == 3 and page1.paging.next.after == "2"
    request.after = page1.paging.next.after
    page2, status, headers = client.crm.contacts.search_api.do_search_with_http_info(
        public_object_search_request=request
    )
    assert status == 200 and page2.paging is None
    emails = sorted(r.properties["email"] for r in page1.results + page2.results)
    assert emails == ["s0@paging.test", "s1@paging.test", "s3@paging.test"]
    assert set(page1.results[0].properties) == {
        "email",
        "tier",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
    }
    assert not any(name in headers for name in RATE_HEADERS)  # search answers carry none
    sent = emu.request_log[0].json
    assert sent["filterGroups"][0]["filters"][1] == {
        "propertyName": "tier",
        "operator": "IN",
        "values": ["gold", "platinum"],
    }
    assert emu.search_calls() == 2


def test_search_in_needs_lowercase_values_for_string_properties(
    emu: HubSpotEmulator, client: hubspot.Client
) -> None:
    emu.add_record("contacts", {"email": "case@in.test", "twitterhandle": "JaneDoe"})

    def total(operator: str, **values: Any) -> int:
        f = hs_contacts.Filter(property_name="twitterhandle", operator=operator, **values)
        return int(client.crm.contacts.search_api.do_search(public_object_search_request=_search([f])).total)

    assert total("EQ", value="janedoe") == 1  # EQ ignores case
    assert total("IN", values=["janedoe"]) == 1
    assert total("IN", values=["JaneDoe"]) == 0  # the docs: values must be lowercase


def test_search_compares_datetimes_given_as_epoch_ms_or_iso(
    emu: HubSpotEmulator, client: hubspot.Client
) -> None:
    old = _ticket(emu, "dt-old")
    new = _ticket(emu, "dt-new")
    since = emu.records["tickets"][new]["hs_lastmodifieddate"]
    emu.update_record("tickets", old, {"hs_ticket_priority": "HIGH"})
    epoch_ms = str(int(datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() * 1000))
    for value in (since, epoch_ms):
        modified = hs_tickets.Filter(property_name="hs_lastmodifieddate", operator="GT", value=value)
        keyed = hs_tickets.Filter(
            property_name="ventanilla_thread_key", operator="IN", values=["dt-old", "dt-new"]
        )
        request = hs_tickets.PublicObjectSearchRequest(
            filter_groups=[hs_tickets.FilterGroup(filters=[modified, keyed])],
            sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
        )
        page = client.crm.tickets.search_api.do_search(public_object_search_request=request)
        assert [r.id for r in page.results] == [old]
        assert page.results[0].properties["hs_ticket_priority"] == "HIGH"  # a default ticket property


@pytest.mark.parametrize(
    ("groups", "limit", "fragment"),
    [
        ([[("email", "EQ", "a")]] * 6, 10, "filter groups"),
        ([[("email", "EQ", "a")] * 11], 10, "filters in a filter group"),
        ([[("email", "EQ", "a")] * 9] * 3, 10, "Too many filters: 27"),
        ([[("email", "EQ", "a")]], 201, "limit"),
        ([[("nosuchproperty", "EQ", "a")]], 10, "nosuchproperty"),
    ],
)
def test_search_rejects_what_hubspot_rejects(
    client: hubspot.Client, groups: list[list[tuple[str, str, str]]], limit: int, fragment: str
) -> None:
    filters = [[hs_contacts.Filter(property_name=p, operator=o, value=v) for p, o, v in g] for g in groups]
    with pytest.raises(hs_contacts.ApiException) as caught:
        client.crm.contacts.search_api.do_search(public_object_search_request=_search(*filters, limit=limit))
    assert caught.value.status == 400
    assert _body(caught.value)["category"] == "VALIDATION_ERROR"
    assert fragment in _body(caught.value)["message"]


# -- batch read / upsert / create ------------------------------------------------------------------


def test_batch_read_by_unique_property_reports_missing_ids_in_a_207(
    emu: HubSpotEmulator, client: hubspot.Client
) -> None:
    found = emu.add_record("contacts", {"email": "read@batch.test", "ventanilla_social_id": "x:42"})
    request = hs_contacts.BatchReadInputSimplePublicObjectId(
        inputs=[hs_contacts.SimplePublicObjectId(id=i) for i in ("x:42", "x:404")],
        id_property="ventanilla_social_id",
        properties=["email"],
        properties_with_history=[],
    )
    answer, status, _ = client.crm.contacts.batch_api.read_with_http_info(request)
    # The SDK deserializes the 207 (client-side validation is off in its Configuration), no exception.
    assert status == 207
    assert isinstance(answer, hs_contacts.BatchResponseSimplePublicObjectWithErrors)
    assert [r.id for r in answer.results] == [found] and answer.num_errors == 1
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    assert answer.errors[0].context == {"ids": ["x:404"]}
    with pytest.raises(hs_contacts.ApiException) as caught:
        request.id_property = "firstname"  # not a unique property
        client.crm.contacts.batch_api.read(request)
    assert caught.value.status == 400


def test_batch_read_207_body_is_the_live_shape(emu: HubSpotEmulator) -> None:
    answer = requests.post(
        f"{emu.base_url}/crm/v3/objects/contacts/batch/read",
        json={"inputs": [{"id": "999999999"}], "properties": [], "propertiesWithHistory": []},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    body = answer.json()
    assert answer.status_code == 207 and body["results"] == [] and body["numErrors"] == 1
    assert body["errors"] == [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some CONTACT objects, they may be deleted or not exist. "
            "Check that ids are valid.",
            "context": {"ids": ["999999999"]},
        }
    ]


def test_batch_upsert_creates_new_and_updates_existing(emu: HubSpotEmulator, client: hubspot.Client) -> None:
    existing = emu.add_record("contacts", {"email": "old@upsert.test", "firstname": "Old"})
    before = emu.records["contacts"][existing]["lastmodifieddate"]
    inputs = [
        hs_contacts.SimplePublicObjectBatchInputUpsert(
            id_property="email", id=email, properties={"firstname": name, "lifetime_value": 12.5}
        )
        for email, name in (("OLD@upsert.test", "Renamed"), ("new@upsert.test", "New"))
    ]
    answer = client.crm.contacts.batch_api.upsert(
        hs_contacts.BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs)
    )
    assert [(r.id == existing, r.new) for r in answer.results] == [(True, False), (False, True)]
    assert emu.records["contacts"][existing]["firstname"] == "Renamed"
    assert emu.records["contacts"][existing]["lastmodifieddate"] > before
    (created,) = emu.find("contacts", email="new@upsert.test")
    assert created["lifetime_value"] == "12.5"
    too_many = [
        hs_contacts.SimplePublicObjectBatchInputUpsert(
            id_property="email", id=f"m{n}@upsert.test", properties={}
        )
        for n in range(101)
    ]
    with pytest.raises(hs_contacts.ApiException) as caught:
        client.crm.contacts.batch_api.upsert(
            hs_contacts.BatchInputSimplePublicObjectBatchInputUpsert(inputs=too_many)
        )
    assert caught.value.status == 400 and emu.find("contacts", email="m0@upsert.test") == []


def test_batch_create_notes_with_ticket_associations(emu: HubSpotEmulator, client: hubspot.Client) -> None:
    ticket = _ticket(emu, "notes-1")
    spec = hs_notes.AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=228)
    note_input = hs_notes.SimplePublicObjectBatchInputForCreate(
        properties={"hs_note_body": "Reply sent on X", "hs_timestamp": "2026-11-23T12:00:00Z"},
        associations=[
            hs_notes.PublicAssociationsForObject(to=hs_notes.PublicObjectId(id=ticket), types=[spec])
        ],
    )
    answer, status, _ = client.crm.objects.notes.batch_api.create_with_http_info(
        hs_notes.BatchInputSimplePublicObjectBatchInputForCreate(inputs=[note_input])
    )
    assert status == 201 and answer.status == "COMPLETE"
    (note,) = answer.results
    assert note.properties["hs_timestamp"] == "2026-11-23T12:00:00.000Z"
    assert emu.associations("notes", note.id, "tickets") == [(ticket, 228)]
    assert emu.associations("tickets", ticket, "notes") == [(note.id, 227)]

    note_input.properties = {"hs_note_body": "no timestamp"}
    with pytest.raises(hs_notes.ApiException) as caught:
        client.crm.objects.notes.batch_api.create(
            hs_notes.BatchInputSimplePublicObjectBatchInputForCreate(inputs=[note_input])
        )
    assert caught.value.status == 400
    assert _body(caught.value)["message"] == "Error creating NOTE. Some required properties were not set."
    assert _body(caught.value)["context"] == {"properties": ["hs_timestamp"]}


# -- single records, validation -----------------------------------------------------------------


def test_ticket_create_with_contact_association_and_read_back(
    emu: HubSpotEmulator, client: hubspot.Client
) -> None:
    contact = emu.add_record("contacts", {"email": "assoc@create.test"})
    spec = hs_tickets.AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=16)
    created = client.crm.tickets.basic_api.create(
        hs_tickets.SimplePublicObjectInputForCreate(
            properties={"subject": "Package lost", "hs_pipeline_stage": "1", "hs_ticket_priority": "HIGH"},
            associations=[
                hs_tickets.PublicAssociationsForObject(to=hs_tickets.PublicObjectId(id=contact), types=[spec])
            ],
        )
    )
    assert created.properties["hs_pipeline"] == "0"  # the default pipeline when none is given
    read = client.crm.tickets.basic_api.get_by_id(
        created.id, properties=["subject"], associations=["contacts"]
    )
    assert read.properties["subject"] == "Package lost"
    assert [(a.id, a.type) for a in read.associations["contacts"].results] == [(contact, "ticket_to_contact")]
    assert emu.associations("contacts", contact, "tickets") == [(created.id, 15)]
    assert emu.request_log[-1].query == {"properties": "subject", "associations": "contacts"}
    by_contact = hs_tickets.Filter(property_name="associations.contact", operator="EQ", value=contact)
    found = client.crm.tickets.search_api.do_search(
        public_object_search_request=hs_tickets.PublicObjectSearchRequest(
            filter_groups=[hs_tickets.FilterGroup(filters=[by_contact])]
        )
    )
    assert [r.id for r in found.results] == [created.id]
    with pytest.raises(hs_tickets.ApiException) as caught:
        client.crm.tickets.basic_api.get_by_id("424242424242")
    assert caught.value.status == 404
    assert _body(caught.value)["message"] == "Object not found.  objectId are usually numeric."


def test_invalid_properties_are_a_validation_error_listing_each_one(client: hubspot.Client) -> None:
    properties = {"subject": "x", "hs_pipeline_stage": "9", "foo": "bar", "source_type": "FAX"}
    with pytest.raises(hs_tickets.ApiException) as caught:
        client.crm.tickets.basic_api.create(
            hs_tickets.SimplePublicObjectInputForCreate(properties=properties)
        )
    body = _body(caught.value)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR" and body["correlationId"]
    prefix = "Property values were not valid: "
    assert body["message"].startswith(prefix)
    entries = {e["name"]: e for e in json.loads(body["message"][len(prefix) :])}
    assert entries["foo"]["error"] == "PROPERTY_DOESNT_EXIST"
    assert entries["foo"]["message"] == 'Property "foo" does not exist'
    assert entries["hs_pipeline_stage"]["error"] == "INVALID_OPTION"
    assert entries["hs_pipeline_stage"]["message"] == "9 was not one of the allowed options: [1, 2, 3, 4]"
    assert entries["source_type"]["error"] == "INVALID_OPTION"


def test_a_duplicate_unique_value_is_a_409(emu: HubSpotEmulator, client: hubspot.Client) -> None:
    existing = emu.add_record("contacts", {"email": "dupe@conflict.test"})
    with pytest.raises(hs_contacts.ApiException) as caught:
        client.crm.contacts.basic_api.create(
            hs_contacts.SimplePublicObjectInputForCreate(properties={"email": "Dupe@Conflict.test"})
        )
    assert caught.value.status == 409
    assert _body(caught.value)["category"] == "CONFLICT"
    assert _body(caught.value)["message"] == f"Contact already exists. Existing ID: {existing}"


def test_patch_by_id_property_moves_the_modified_date(emu: HubSpotEmulator, client: hubspot.Client) -> None:
    ticket = _ticket(emu, "patch-1")
    before = emu.records["tickets"][ticket]["hs_lastmodifieddate"]
    updated = client.crm.tickets.basic_api.update(
        "patch-1",
        hs_tickets.SimplePublicObjectInput(properties={"hs_pipeline_stage": "4"}),
        id_property="ventanilla_thread_key",
    )
    assert updated.id == ticket and updated.properties["hs_lastmodifieddate"] > before
    assert emu.records["tickets"][ticket]["hs_pipeline_stage"] == "4"


# -- associations v4, pipelines ------------------------------------------------------------------


def test_associations_v4_default_labeled_batch_and_archive(
    emu: HubSpotEmulator, client: hubspot.Client
) -> None:
    ticket = _ticket(emu, "v4-1")
    first = emu.add_record("contacts", {"email": "v4a@assoc.test"})
    second = emu.add_record("contacts", {"email": "v4b@assoc.test"})
    lonely = _ticket(emu, "v4-lonely")
    basic, batch = client.crm.associations.v4.basic_api, client.crm.associations.v4.batch_api

    default = basic.create_default("tickets", ticket, "contacts", first)
    assert [(r._from.id, r.to.id, r.association_spec.association_type_id) for r in default.results] == [
        (ticket, first, 16),
        (first, ticket, 15),
    ]
    pair = basic.create(
        "contact",
        second,
        "ticket",
        ticket,
        [hs_assoc.AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=15)],
    )
    assert (pair.from_object_type_id, pair.to_object_type_id, pair.to_object_id) == ("0-1", "0-5", ticket)
    page = basic.get_page("tickets", ticket, "contacts")
    assert [(r.to_object_id, r.association_types[0].type_id) for r in page.results] == [
        (first, 16),
        (second, 16),
    ]

    read = batch.get_page(
        "tickets",
        "contacts",
        hs_assoc.BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[hs_assoc.PublicFetchAssociationsBatchRequest(id=i) for i in (ticket, lonely)]
        ),
    )
    assert [r._from.id for r in read.results] == [ticket] and read.num_errors == 1
    assert read.errors[0].sub_category == "crm.associations.NO_ASSOCIATIONS_FOUND"

    batch.create_default(
        "tickets",
        "contacts",
        hs_assoc.BatchInputPublicDefaultAssociationMultiPost(
            inputs=[
                hs_assoc.PublicDefaultAssociationMultiPost(
                    _from=hs_assoc.PublicObjectId(id=lonely), to=hs_assoc.PublicObjectId(id=first)
                )
            ]
        ),
    )
    assert emu.associations("contacts", first, "tickets") == [(ticket, 15), (lonely, 15)]
    basic.archive("tickets", ticket, "contacts", first)
    assert emu.associations("contacts", first, "tickets") == [(lonely, 15)]
    with pytest.raises(hs_assoc.ApiException) as caught:
        basic.create_default("tickets", ticket, "contacts", "777777777")
    assert caught.value.status == 400


def test_ticket_pipeline_and_stages(client: hubspot.Client) -> None:
    (pipeline,) = client.crm.pipelines.pipelines_api.get_all("tickets").results
    assert (pipeline.id, pipeline.label) == ("0", "Support Pipeline")
    assert [(s.id, s.label, s.metadata["ticketState"]) for s in pipeline.stages] == [
        ("1", "New", "OPEN"),
        ("2", "Waiting on contact", "OPEN"),
        ("3", "Waiting on us", "OPEN"),
        ("4", "Closed", "CLOSED"),
    ]
    with pytest.raises(PipelinesApiException) as caught:
        client.crm.pipelines.pipelines_api.get_by_id("tickets", "77")
    assert caught.value.status == 404


# -- auth, rate limits, faults, the log ----------------------------------------------------------


def test_an_unknown_token_gets_401_and_is_not_counted(emu: HubSpotEmulator) -> None:
    stranger = hubspot.HubSpot(access_token="pat-na1-unknown", host=emu.base_url)
    with pytest.raises(hs_contacts.ApiException) as caught:
        stranger.crm.contacts.basic_api.get_page()
    assert caught.value.status == 401
    assert _body(caught.value)["category"] == "INVALID_AUTHENTICATION"
    assert _body(caught.value)["message"].startswith("Authentication credentials not found.")
    assert emu.api_calls() == 0 and emu.request_log[0].status == 401


def test_rate_limit_headers_on_every_non_search_answer(emu: HubSpotEmulator, client: hubspot.Client) -> None:
    _, _, headers = client.crm.pipelines.pipelines_api.get_all_with_http_info("tickets")
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "189"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Daily"] == "650000"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "649999"
    assert "Retry-After" not in headers


def test_the_ten_second_burst_limit_is_enforced_per_token(emu: HubSpotEmulator) -> None:
    emu.add_token("pat-burst")
    emu.burst_limit = 3
    burst = hubspot.HubSpot(access_token="pat-burst", host=emu.base_url)
    for _ in range(3):
        burst.crm.pipelines.pipelines_api.get_all("tickets")
    with pytest.raises(PipelinesApiException) as caught:
        burst.crm.pipelines.pipelines_api.get_all("tickets")
    body = _body(caught.value)
    assert caught.value.status == 429 and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["errorType"] == "RATE_LIMIT" and body["correlationId"] and body["requestId"]
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in caught.value.headers
    hubspot.HubSpot(access_token=TOKEN, host=emu.base_url).crm.pipelines.pipelines_api.get_all("tickets")
    assert emu.api_calls() == 4  # the 429 is not counted; another token still has budget


def test_search_has_its_own_per_second_limit(emu: HubSpotEmulator, client: hubspot.Client) -> None:
    emu.search_per_second = 2
    request = _search([hs_contacts.Filter(property_name="email", operator="HAS_PROPERTY")], limit=1)
    for _ in range(2):
        client.crm.contacts.search_api.do_search(public_object_search_request=request)
    with pytest.raises(hs_contacts.ApiException) as caught:
        client.crm.contacts.search_api.do_search(public_object_search_request=request)
    assert caught.value.status == 429
    assert _body(caught.value)["policyName"] == "SECONDLY"
    assert _body(caught.value)["message"] == "You have reached your secondly limit."
    assert not any(name in caught.value.headers for name in RATE_HEADERS)
    client.crm.pipelines.pipelines_api.get_all("tickets")  # other calls are not affected
    assert (emu.search_calls(), emu.api_calls()) == (2, 3)


def test_the_daily_limit_and_forced_429s(emu: HubSpotEmulator, client: hubspot.Client) -> None:
    emu.daily_limit = emu.limits.daily_used + 1
    client.crm.pipelines.pipelines_api.get_all("tickets")
    with pytest.raises(PipelinesApiException) as caught:
        client.crm.pipelines.pipelines_api.get_all("tickets")
    assert _body(caught.value)["policyName"] == "DAILY"
    assert caught.value.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    emu.reset_limits()
    emu.daily_limit = 650_000
    emu.rate_limited_next(1, "SECONDLY")
    with pytest.raises(PipelinesApiException) as forced:
        client.crm.pipelines.pipelines_api.get_all("tickets")
    assert _body(forced.value)["policyName"] == "SECONDLY"
    client.crm.pipelines.pipelines_api.get_all("tickets")
    assert emu.api_calls() == 2


def test_fail_next_injects_5xx_in_hubspot_format_and_the_sdk_retry_sees_them(
    emu: HubSpotEmulator, client: hubspot.Client
) -> None:
    emu.fail_next(1, 502)
    with pytest.raises(PipelinesApiException) as caught:
        client.crm.pipelines.pipelines_api.get_all("tickets")
    assert caught.value.status == 502 and _body(caught.value)["status"] == "error"
    emu.fail_next(2, 503, path_contains="/pipelines/")
    retrying = hubspot.HubSpot(
        access_token=TOKEN, host=emu.base_url, retry=Retry(total=3, status_forcelist=(503,), backoff_factor=0)
    )
    assert retrying.crm.pipelines.pipelines_api.get_all("tickets").results[0].id == "0"
    assert [e.status for e in emu.request_log] == [502, 503, 503, 200]
    emu.fail_next(1, 400, body={"status": "error", "message": "custom", "category": "VALIDATION_ERROR"})
    with pytest.raises(PipelinesApiException) as custom:
        client.crm.pipelines.pipelines_api.get_all("tickets")
    assert _body(custom.value)["message"] == "custom"
    assert emu.api_calls() == 1  # injected faults are not counted


def test_the_request_log_records_what_was_sent(emu: HubSpotEmulator, client: hubspot.Client) -> None:
    client.crm.contacts.basic_api.create(
        hs_contacts.SimplePublicObjectInputForCreate(properties={"email": "log@request.test"})
    )
    (entry,) = emu.request_log
    assert (entry.method, entry.path, entry.status, entry.counted) == (
        "POST",
        "/crm/v3/objects/contacts",
        201,
        True,
    )
    assert entry.json == {"properties": {"email": "log@request.test"}}
    assert entry.headers["content-type"] == "application/json"
    emu.reset_log()
    assert emu.api_calls() == 0 and emu.request_log == []


def test_a_malformed_json_body_is_a_400(emu: HubSpotEmulator) -> None:
    answer = requests.post(
        f"{emu.base_url}/crm/v3/objects/contacts",
        data=b"{not json",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("Invalid input JSON on line 1, column 2")


# -- the emulator's own data API -----------------------------------------------------------------


def test_seeding_uses_the_emulator_clock_and_the_property_registry(
    emu: HubSpotEmulator, client: hubspot.Client
) -> None:
    emu.define_property("tickets", "ventanilla_sentiment", "enumeration", options=["positive", "negative"])
    first = _ticket(emu, "seed-1", ventanilla_sentiment="positive")
    second = _ticket(emu, "seed-2")
    a, b = emu.records["tickets"][first], emu.records["tickets"][second]
    assert a["hs_object_id"] == first and first.isdigit()
    assert a["createdate"] < b["createdate"] and b["createdate"] == b["hs_lastmodifieddate"]
    with pytest.raises(ValueError, match="INVALID_OPTION"):
        emu.add_record("tickets", {"subject": "x", "hs_pipeline_stage": "1", "ventanilla_sentiment": "meh"})
    with pytest.raises(KeyError):
        emu.add_record("tickets", {"nonexistent": "x"})
    described = client.crm.properties.core_api.get_by_name("tickets", "ventanilla_sentiment")
    assert [o.value for o in described.options] == ["positive", "negative"] and not described.hubspot_defined
    assert emu.find("tickets", ventanilla_thread_key="seed-1") == [a]


def test_join_repeated_query_keeps_single_values() -> None:
    assert join_repeated_query("/p?a=1&a=2&b=x%2Cy") == "/p?a=1%2C2&b=x%2Cy"
    assert join_repeated_query("/p?a=1") == "/p?a=1"
