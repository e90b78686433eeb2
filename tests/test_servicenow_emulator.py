"""The ServiceNow SOAP emulator, driven by the real zeep client over real HTTP (and once over HTTPS)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from lxml import etree
from requests.auth import HTTPBasicAuth
from zeep.exceptions import EntitiesForbidden, Fault, TransportError
from zeep.transports import Transport

from tests.emulators.servicenow_soap import ServiceNowSoapEmulator
from tests.emulators.tls import CaBundleSession, make_tls

USER, PASSWORD = "integration.user", "s3cret"
WSDL = str(Path(__file__).resolve().parents[1] / "mappings" / "servicenow" / "incident.wsdl")
USER_WSDL = str(Path(__file__).resolve().parents[1] / "mappings" / "servicenow" / "sys_user.wsdl")
BINDING = "{http://www.service-now.com/incident}ServiceNowSoap"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
START = datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC)
SYS_ID = re.compile(r"^[0-9a-f]{32}$")


def _session(user: str = USER, password: str = PASSWORD) -> requests.Session:
    session = requests.Session()
    session.auth = HTTPBasicAuth(user, password)
    return session


def _client(session: requests.Session, wsdl: str = WSDL, **settings: Any) -> zeep.Client:
    return zeep.Client(wsdl, transport=Transport(session=session), settings=zeep.Settings(**settings))


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with _session() as shared:
        yield shared


@pytest.fixture(scope="module")
def client(session: requests.Session) -> zeep.Client:
    return _client(session)


@pytest.fixture
def emu() -> Iterator[ServiceNowSoapEmulator]:
    with ServiceNowSoapEmulator(users={USER: PASSWORD}, now=START) as emulator:
        yield emulator


@pytest.fixture
def svc(client: zeep.Client, emu: ServiceNowSoapEmulator) -> Any:
    return client.create_service(BINDING, emu.soap_url("incident"))


def _envelope(body: str, namespace: str = "http://www.service-now.com/incident") -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:inc="{namespace}">'
        f"<soapenv:Header/><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def _post(
    emu: ServiceNowSoapEmulator, body: bytes, table: str = "incident", **kwargs: Any
) -> requests.Response:
    kwargs.setdefault("auth", (USER, PASSWORD))
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"urn:{table}"'}
    return requests.post(emu.soap_url(table), data=body, headers=headers, timeout=10, **kwargs)


def _seed(emu: ServiceNowSoapEmulator) -> dict[str, str]:
    """Five incidents, by label: sys_id."""
    rows = {
        "a": {"short_description": "Package not delivered", "urgency": 1, "category": "Delivery"},
        "b": {"short_description": "package DAMAGED", "urgency": 2, "category": "delivery"},
        "c": {"short_description": "Refund request", "urgency": 3, "category": "billing"},
        "d": {"short_description": "Login fails", "urgency": 2, "category": ""},
        "e": {"short_description": "Wrong refund amount", "urgency": 1, "category": "Billing", "state": 7},
    }
    ids = {}
    for label, fields in rows.items():
        ids[label] = emu.add_record("incident", {**fields, "correlation_id": f"tw-{label}"})
        emu.advance(60)
    return ids


def _labels(rows: Any) -> list[str]:
    return [row.correlation_id.removeprefix("tw-") for row in rows]


# -- WSDL, auth, transport -------------------------------------------------------------------------------


def test_wsdl_is_served_with_the_address_pointing_at_the_emulator(emu: ServiceNowSoapEmulator) -> None:
    reply = requests.get(emu.wsdl_url("incident"), timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/xml")
    assert f'<soap:address location="{emu.soap_url("incident")}"/>' in reply.text
    assert requests.get(emu.wsdl_url("sys_user"), timeout=10).status_code == 200
    assert requests.get(f"{emu.base_url}/problem.do?WSDL", timeout=10).status_code == 404

    with _session() as session:
        by_url = zeep.Client(emu.wsdl_url("incident"), transport=Transport(session=session))
        inserted = by_url.service.insert(short_description="Loaded by URL")
    assert inserted.number == "INC0010001"


def test_wsdl_can_require_auth(emu: ServiceNowSoapEmulator) -> None:
    emu.wsdl_requires_auth = True
    anonymous = requests.get(emu.wsdl_url(), timeout=10)
    assert anonymous.status_code == 401
    assert requests.get(emu.wsdl_url(), auth=(USER, PASSWORD), timeout=10).status_code == 200


def test_bad_credentials_get_401_before_any_soap_processing(emu: ServiceNowSoapEmulator) -> None:
    with _session(USER, "wrong") as session:
        svc = _client(session).create_service(BINDING, emu.soap_url())
        with pytest.raises(TransportError) as caught:
            svc.insert(short_description="never stored")
    assert caught.value.status_code == 401

    raw = _post(
        emu, _envelope("<inc:insert><short_description>x</short_description></inc:insert>"), auth=None
    )
    assert raw.status_code == 401
    assert raw.headers["WWW-Authenticate"] == 'Basic realm="Service-now"'
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(raw.content)
    assert emu.records("incident") == []
    assert [entry.operation for entry in emu.soap_log()] == ["", ""]  # never parsed as SOAP


def test_https_with_a_trusted_ca(tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    with ServiceNowSoapEmulator(tls, users={USER: PASSWORD}) as emu, CaBundleSession(tls.ca_path) as session:
        assert emu.base_url.startswith("https://127.0.0.1:")
        session.auth = HTTPBasicAuth(USER, PASSWORD)
        svc = _client(session).create_service(BINDING, emu.soap_url())
        sys_id = svc.insert(short_description="Over TLS").sys_id
        assert svc.get(sys_id=sys_id).short_description == "Over TLS"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(emu.wsdl_url(), timeout=10, verify=True)


def test_http_errors_and_dropped_connections_apply_to_soap_posts(
    emu: ServiceNowSoapEmulator, svc: Any
) -> None:
    emu.fail_next(1, 503)
    with pytest.raises(TransportError) as caught:
        svc.insert(short_description="x")
    assert caught.value.status_code == 503
    assert b"503 Service Unavailable" in caught.value.content
    emu.drop_connection_next()
    with pytest.raises(requests.exceptions.ConnectionError):
        svc.insert(short_description="x")
    assert emu.records("incident") == []
    assert svc.insert(short_description="third time").number == "INC0010001"


# -- insert, get, update, delete --------------------------------------------------------------------------


def test_insert_returns_sys_id_and_number_and_applies_defaults(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    first = svc.insert(short_description="Package not delivered", urgency=2, impact=1, correlation_id="tw-1")
    second = svc.insert(short_description="Second")
    assert SYS_ID.match(first.sys_id) and first.sys_id != second.sys_id
    assert (first.number, second.number) == ("INC0010001", "INC0010002")
    stored = emu.record("incident", first.sys_id)
    assert stored is not None
    assert stored["state"] == "1" and stored["active"] == "true" and stored["priority"] == "2"
    assert stored["sys_created_on"] == stored["sys_updated_on"] == "2025-03-14 09:26:53"
    assert stored["sys_updated_by"] == USER


def test_insert_ignores_unknown_elements_and_either_namespace(emu: ServiceNowSoapEmulator) -> None:
    body = "<inc:insert><short_description>Raw</short_description><u_no_such>x</u_no_such></inc:insert>"
    for namespace in ("http://www.service-now.com/incident", "http://www.service-now.com"):
        reply = _post(emu, _envelope(body, namespace))
        assert reply.status_code == 200, reply.text
    assert [r["short_description"] for r in emu.records("incident")] == ["Raw", "Raw"]
    assert all("u_no_such" not in r for r in emu.records("incident"))


def test_sys_user_insert_returns_user_name(emu: ServiceNowSoapEmulator, session: requests.Session) -> None:
    users = _client(session, USER_WSDL).create_service(
        "{http://www.service-now.com/sys_user}ServiceNowSoap", emu.soap_url("sys_user")
    )
    created = users.insert(user_name="jane.doe", email="jane@example.com", vip=True)
    assert created.user_name == "jane.doe" and SYS_ID.match(created.sys_id)
    fetched = users.get(sys_id=created.sys_id)
    assert fetched.vip is True and fetched.active is True


def test_get_returns_all_fields_and_an_empty_answer_for_unknown_ids(
    emu: ServiceNowSoapEmulator, svc: Any
) -> None:
    sys_id = svc.insert(short_description="Hello", urgency=3, comments="first comment").sys_id
    got = svc.get(sys_id=sys_id)
    assert (got.sys_id, got.number, got.short_description, got.urgency, got.active) == (
        sys_id,
        "INC0010001",
        "Hello",
        3,
        True,
    )
    assert got.comments is None and got.work_notes is None
    assert got.sys_updated_on == "2025-03-14 09:26:53"
    empty = svc.get(sys_id="0" * 32)
    assert empty.sys_id is None and empty.number is None


def test_update_changes_fields_and_moves_sys_updated_on_only_with_the_clock(
    emu: ServiceNowSoapEmulator, svc: Any
) -> None:
    sys_id = svc.insert(short_description="To resolve").sys_id
    assert svc.update(sys_id=sys_id, urgency=1) == sys_id  # zeep unwraps a one-field answer
    same = emu.record("incident", sys_id)
    assert same is not None and same["sys_updated_on"] == same["sys_created_on"]
    emu.advance(90)
    svc.update(sys_id=sys_id, state=6, close_code="Solved (Permanently)", close_notes="Replied on X")
    later = svc.get(sys_id=sys_id)
    assert later.sys_updated_on == "2025-03-14 09:28:23" > later.sys_created_on
    assert (later.state, later.close_code, later.resolved_at, later.active) == (
        6,
        "Solved (Permanently)",
        "2025-03-14 09:28:23",
        True,
    )
    svc.update(sys_id=sys_id, state=7)
    assert svc.get(sys_id=sys_id).active is False
    with pytest.raises(Fault) as caught:
        svc.update(sys_id="f" * 32, state=2)
    assert "f" * 32 in caught.value.message


def test_update_without_sys_id_is_a_client_fault(emu: ServiceNowSoapEmulator) -> None:
    reply = _post(emu, _envelope("<inc:update><state>2</state></inc:update>"))
    assert reply.status_code == 500
    fault = etree.fromstring(reply.content).find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault is not None and fault.findtext("faultcode") == "SOAP-ENV:Client"


def test_journal_fields_append_and_are_never_returned(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    sys_id = svc.insert(short_description="Journal", comments="Customer wrote on X").sys_id
    emu.advance(5)
    svc.update(sys_id=sys_id, comments="We replied", work_notes="Internal: checked the order")
    svc.update(sys_id=sys_id, comments="Customer thanked us")
    assert emu.journal("incident", sys_id, "comments") == [
        "Customer wrote on X",
        "We replied",
        "Customer thanked us",
    ]
    assert emu.journal("incident", sys_id, "work_notes") == ["Internal: checked the order"]
    entries = emu.journal_entries("incident", sys_id)
    assert [(e.time, e.user) for e in entries[:2]] == [
        ("2025-03-14 09:26:53", USER),
        ("2025-03-14 09:26:58", USER),
    ]
    stored = emu.record("incident", sys_id)
    assert stored is not None and "comments" not in stored
    assert svc.getRecords(number="INC0010001")[0].comments is None


def test_delete_record_counts(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    sys_id = svc.insert(short_description="Delete me").sys_id
    assert svc.deleteRecord(sys_id=sys_id) == "1"
    assert svc.deleteRecord(sys_id=sys_id) == "0"
    assert emu.records("incident") == []


def test_mandatory_fields_fault_with_the_faultstring(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    emu.require_fields("incident", ["short_description", "caller_id"])
    with pytest.raises(Fault) as caught:
        svc.insert(short_description="No caller")
    assert "mandatory" in caught.value.message and "caller_id" in caught.value.message
    assert caught.value.code == "SOAP-ENV:Server"
    assert emu.records("incident") == []
    sys_id = svc.insert(short_description="With caller", caller_id="5137153cc611227c000bbd1bd8cd2007").sys_id
    with pytest.raises(Fault):
        svc.update(sys_id=sys_id, short_description="")


# -- getRecords and getKeys ---------------------------------------------------------------------------------


def test_get_records_by_example_values(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    _seed(emu)
    assert _labels(svc.getRecords(category="DELIVERY")) == ["a", "b"]  # case-insensitive
    assert _labels(svc.getRecords(category="delivery", urgency=2)) == ["b"]
    assert _labels(svc.getRecords(active=False)) == ["e"]
    assert svc.getRecords(correlation_id="tw-zzz") == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("urgency=1", "ae"),
        ("urgency!=1", "bcd"),
        ("urgency>1", "bcd"),
        ("urgency>=2", "bcd"),
        ("urgency<2", "ae"),
        ("urgency<=2", "abde"),
        ("short_descriptionSTARTSWITHpackage", "ab"),
        ("short_descriptionENDSWITHAMOUNT", "e"),
        ("short_descriptionLIKErefund", "ce"),
        ("short_descriptionNOTLIKErefund", "abd"),
        ("categoryINbilling,Delivery", "abce"),
        ("categoryNOT INbilling,delivery", "d"),
        ("categoryISEMPTY", "d"),
        ("categoryISNOTEMPTY", "abce"),
        ("category=billing^urgency=1", "e"),
        ("urgency=3^ORcategory=delivery", "abc"),
        ("urgency=3^NQshort_descriptionLIKElogin", "cd"),
        ("active=true^urgency=1", "a"),
        ("sys_created_on>2025-03-14 09:28:53", "de"),
        ("sys_created_on<=javascript:gs.dateGenerate('2025-03-14','09:27:53')", "ab"),
        ("CATEGORY=billing^category=BILLING", "ce"),  # an unknown (upper-case) column is ignored
        ("u_no_such_field=1", "abcde"),
        ("u_no_such_field=1^ORurgency=3", "c"),
    ],
)
def test_get_records_by_encoded_query(
    emu: ServiceNowSoapEmulator, svc: Any, query: str, expected: str
) -> None:
    _seed(emu)
    assert _labels(svc.getRecords(__encoded_query=query)) == list(expected)


def test_invalid_query_returns_no_rows_when_the_instance_says_so(
    emu: ServiceNowSoapEmulator, svc: Any
) -> None:
    _seed(emu)
    emu.invalid_query_returns_no_rows = True
    assert svc.getRecords(__encoded_query="u_no_such_field=1") == []
    assert svc.getKeys(__encoded_query="urgency=1^u_no_such_field=1").count == "0"
    assert _labels(svc.getRecords(__encoded_query="urgency=1")) == ["a", "e"]


def test_ordering(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    _seed(emu)
    assert _labels(svc.getRecords(__encoded_query="ORDERBYurgency^ORDERBYDESCnumber")) == list("eadbc")
    assert _labels(svc.getRecords(__encoded_query="urgency<3^ORDERBYDESCshort_description")) == list("eabd")
    assert _labels(svc.getRecords(__order_by="category")) == list("dceab")  # empty first
    assert _labels(svc.getRecords(__order_by_desc="sys_created_on")) == list("edcba")


def test_paging_windows_limit_and_the_250_cap(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    for i in range(300):
        emu.add_record("incident", {"short_description": f"bulk {i:03d}", "correlation_id": f"tw-{i:03d}"})
    assert len(svc.getRecords(__encoded_query="short_descriptionSTARTSWITHbulk")) == 250
    page = svc.getRecords(__first_row=0, __last_row=100, __order_by="number")
    assert _labels(page) == [f"{i:03d}" for i in range(100)]  # 0-based, last row exclusive
    tail = svc.getRecords(__first_row=250, __last_row=300, __order_by="number")
    assert _labels(tail) == [f"{i:03d}" for i in range(250, 300)]
    assert len(svc.getRecords(__first_row=280)) == 20
    assert len(svc.getRecords(__limit=300)) == 300  # an explicit limit overrides the default cap
    assert len(svc.getRecords(__limit=7, __first_row=10)) == 7
    emu.hard_row_cap = True
    assert len(svc.getRecords(__limit=300)) == 250
    emu.max_rows = 10
    assert len(svc.getRecords()) == 10
    keys = svc.getKeys(__encoded_query="short_descriptionSTARTSWITHbulk")
    assert keys.count == "300" and len(keys.sys_id.split(",")) == 300


def test_get_keys(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    ids = _seed(emu)
    keys = svc.getKeys(__encoded_query="categoryINbilling")
    assert keys.sys_id == f"{ids['c']},{ids['e']}" and keys.count == "2"
    none = svc.getKeys(category="nothing")
    assert (none.sys_id, none.count) == (None, "0")


def test_exclude_columns(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    _seed(emu)
    row = svc.getRecords(correlation_id="tw-a", __exclude_columns="short_description,urgency")[0]
    assert row.short_description is None and row.urgency is None and row.correlation_id == "tw-a"


# -- response shapes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["prefixed", "default_ns", "unqualified"])
@pytest.mark.parametrize("strict", [True, False])
def test_zeep_parses_every_response_style(style: str, strict: bool, session: requests.Session) -> None:
    with ServiceNowSoapEmulator(users={USER: PASSWORD}, response_style=style) as emu:  # type: ignore[arg-type]
        svc = _client(session, strict=strict).create_service(BINDING, emu.soap_url())
        inserted = svc.insert(short_description="Styled", urgency=2)
        assert inserted.number == "INC0010001"
        assert svc.get(sys_id=inserted.sys_id).urgency == 2
        assert [r.short_description for r in svc.getRecords(short_description="styled")] == ["Styled"]
        assert svc.getKeys(short_description="styled").count == "1"
        raw = _post(emu, _envelope("<inc:getKeys/>"))
        response = etree.fromstring(raw.content).find(f"{{{SOAP_ENV}}}Body")[0]
        namespace = None if style == "unqualified" else "http://www.service-now.com/incident"
        assert etree.QName(response).namespace == namespace
        children = {etree.QName(child).namespace for child in response}
        assert children == ({namespace} if style == "default_ns" else {None})


def test_unqualified_responses_flag() -> None:
    assert ServiceNowSoapEmulator(unqualified_responses=True).response_style == "unqualified"


# -- injected trouble ---------------------------------------------------------------------------------------


def test_injected_faults(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    emu.fault_next(2, "Transaction cancelled: maximum execution time exceeded", operation="getRecords")
    emu.fault_next(1, "Bad request", faultcode="SOAP-ENV:Client", detail="why")
    with pytest.raises(Fault) as caught:
        svc.insert(short_description="first insert faults")  # the catch-all injection
    assert (caught.value.message, caught.value.code) == ("Bad request", "SOAP-ENV:Client")
    assert caught.value.detail is not None and caught.value.detail.text == "why"
    assert svc.insert(short_description="now stored").number == "INC0010001"
    for _ in range(2):
        with pytest.raises(Fault, match="maximum execution time"):
            svc.getRecords()
    assert len(svc.getRecords()) == 1


def test_latency(emu: ServiceNowSoapEmulator, svc: Any, session: requests.Session) -> None:
    emu.latency(0.3, operation="getRecords")
    started = time.monotonic()
    svc.insert(short_description="fast")
    assert time.monotonic() - started < 0.25
    started = time.monotonic()
    svc.getRecords()
    assert time.monotonic() - started >= 0.3
    emu.latency(0.5, n=None)
    impatient = zeep.Client(WSDL, transport=Transport(session=session, operation_timeout=0.1))
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.create_service(BINDING, emu.soap_url()).getKeys()
    emu.clear_faults()
    started = time.monotonic()
    svc.getKeys()
    assert time.monotonic() - started < 0.25


def _insert_raw(emu: ServiceNowSoapEmulator, **kwargs: Any) -> requests.Response:
    return _post(
        emu, _envelope("<inc:insert><short_description>x</short_description></inc:insert>"), **kwargs
    )


def test_hostile_billion_laughs(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    emu.hostile_next("billion_laughs", operation="insert")
    raw = _insert_raw(emu)
    assert raw.status_code == 200
    assert b'<!ENTITY lol0 "lol">' in raw.content and b'<!ENTITY lol9 "&lol8;&lol8;' in raw.content
    assert b"<sys_id>&lol9;</sys_id>" in raw.content
    emu.hostile_next("billion_laughs")
    with pytest.raises((TransportError, EntitiesForbidden)):
        svc.insert(short_description="x")
    assert emu.records("incident") == []


def test_hostile_external_entity(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    emu.hostile_next("external_entity")
    raw = _insert_raw(emu)
    assert b'<!ENTITY xxe SYSTEM "file:///etc/passwd">' in raw.content and b"&xxe;" in raw.content
    emu.hostile_next("external_entity")
    with pytest.raises(EntitiesForbidden):
        svc.insert(short_description="x")


def test_hostile_huge_is_streamed(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    size = 2 * 1024 * 1024
    emu.hostile_next("huge", size=size)
    with _insert_raw(emu, stream=True) as raw:
        declared = int(raw.headers["Content-Length"])
        chunks = [len(chunk) for chunk in raw.iter_content(chunk_size=1 << 16)]
    assert sum(chunks) == declared > size and len(chunks) > 16
    emu.hostile_next("huge", operation="getRecords", size=size)
    rows = svc.getRecords()
    assert len(rows) == 1 and len(rows[0].sys_id) == size


def test_hostile_not_xml(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    emu.hostile_next("not_xml")
    raw = _insert_raw(emu)
    assert raw.status_code == 200 and raw.headers["Content-Type"].startswith("text/html")
    assert raw.text.startswith("<!DOCTYPE html>")
    emu.hostile_next("not_xml")
    with pytest.raises(TransportError):
        svc.insert(short_description="x")


def test_hostile_truncated(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    emu.hostile_next("truncated", perform=True)
    raw = _insert_raw(emu)
    assert raw.status_code == 200 and int(raw.headers["Content-Length"]) == len(raw.content)
    assert re.search(rb"<sys_id>[0-9a-f]{28}$", raw.content)  # cut inside the first field
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(raw.content)
    assert len(emu.records("incident")) == 1  # performed: the client cannot know
    emu.hostile_next("truncated")
    with pytest.raises(TransportError):
        svc.insert(short_description="x")
    assert len(emu.records("incident")) == 1
    emu.hostile_next("truncated", close_early=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _insert_raw(emu)
    assert svc.insert(short_description="recovered").number == "INC0010002"


def test_hostile_kind_must_be_known(emu: ServiceNowSoapEmulator) -> None:
    with pytest.raises(ValueError, match="unknown hostile kind"):
        emu.hostile_next("zip_bomb")


def test_requests_carrying_a_dtd_are_refused(emu: ServiceNowSoapEmulator) -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + _envelope(
        "<inc:insert><short_description>&xxe;</short_description></inc:insert>"
    )
    reply = _post(emu, body)
    assert reply.status_code == 500 and b"DTD is prohibited" in reply.content
    assert b"root:" not in reply.content
    assert _post(emu, b"not xml at all").status_code == 500
    assert emu.records("incident") == []


# -- the log and the Python side --------------------------------------------------------------------------


def test_request_log(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    sys_id = svc.insert(short_description="Logged", urgency=2).sys_id
    svc.get(sys_id=sys_id)
    _post(emu, _envelope("<inc:getRecords><urgency>1</urgency><urgency>2</urgency></inc:getRecords>"))
    (insert,) = emu.calls("insert", table="incident")
    assert (insert.method, insert.path, insert.query, insert.table) == (
        "POST",
        "/incident.do",
        {"SOAP": ""},
        "incident",
    )
    assert insert.params == {"short_description": "Logged", "urgency": "2"}
    assert insert.user == USER and insert.soap_action == "http://www.service-now.com/incident/insert"
    assert insert.status == 200
    assert emu.calls("get")[0].param("sys_id") == sys_id
    assert emu.calls("getRecords")[0].params == {"urgency": ["1", "2"]}
    assert emu.calls("insert", table="sys_user") == []


def test_python_side_helpers(emu: ServiceNowSoapEmulator, svc: Any) -> None:
    old = emu.add_record(
        "incident", {"short_description": "Old", "sys_created_on": "2024-01-01 00:00:00", "active": False}
    )
    assert emu.record("incident", old)["sys_created_on"] == "2024-01-01 00:00:00"  # type: ignore[index]
    emu.advance(3600)
    emu.update_record("incident", old, {"state": 2, "comments": "Agent note"}, by="beth.anglin")
    stored = emu.record("incident", old)
    assert stored is not None and stored["sys_updated_on"] == "2025-03-14 10:26:53"
    assert stored["sys_updated_by"] == "beth.anglin" and stored["active"] == "true"
    assert emu.journal("incident", old, "comments") == ["Agent note"]
    assert [r["sys_id"] for r in emu.find("incident", state=2)] == [old]
    assert svc.getRecords(__encoded_query="sys_updated_on>2025-03-14 10:00:00")[0].sys_id == old
    emu.now = datetime(2026, 1, 1, tzinfo=UTC)
    assert emu.timestamp() == "2026-01-01 00:00:00"
    with pytest.raises(KeyError):
        emu.add_record("incident", {"u_no_such_field": "x"})
    with pytest.raises(KeyError):
        emu.add_record("problem", {})
    assert emu.delete_record("incident", old) and emu.records("incident") == []
