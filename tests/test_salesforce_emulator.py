"""The Salesforce emulator, driven by the real simple-salesforce and requests over real TLS."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, cast

import jwt
import pytest
import requests
from certifi import where as default_ca_bundle
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_external_id, format_soql

from tests.emulators import CaBundleSession, SalesforceEmulator, TlsMaterial, make_tls

CLIENT_ID = "3MVG9ventanilla.test.client"
CLIENT_SECRET = "ventanilla-client-secret"
JWT_CLIENT_ID = "3MVG9ventanilla.jwt.client"
USERNAME = "agent@ventanilla.example"
PASSWORD = "correct-horse"
SECURITY_TOKEN = "TOKEN123"
VERSION = "59.0"
DATA = f"/services/data/v{VERSION}"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def jwt_private_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.fixture(scope="module")
def emulator(tls: TlsMaterial, jwt_private_key: bytes) -> Iterator[SalesforceEmulator]:
    emu = SalesforceEmulator(tls)
    emu.register_client(CLIENT_ID, CLIENT_SECRET)
    emu.add_user(USERNAME, PASSWORD, SECURITY_TOKEN)
    public = serialization.load_pem_private_key(jwt_private_key, password=None).public_key()
    emu.register_jwt_key(
        JWT_CLIENT_ID,
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    )
    with emu:
        yield emu


@pytest.fixture(autouse=True)
def _clean_slate(emulator: SalesforceEmulator) -> Iterator[None]:
    """Tests share one org: give each a fresh log, no faults, default paging and limits."""
    emulator.reset_log()
    yield
    emulator.clear_faults()
    emulator.query_page_size = 2000
    emulator.limit = 100_000


@pytest.fixture
def session(emulator: SalesforceEmulator) -> Iterator[requests.Session]:
    with CaBundleSession(emulator.ca_path) as s:
        yield s


def client_credentials_token(emulator: SalesforceEmulator, session: requests.Session) -> str:
    response = session.post(
        emulator.token_url,
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
def sf(emulator: SalesforceEmulator, session: requests.Session) -> Salesforce:
    token = client_credentials_token(emulator, session)
    return Salesforce(instance_url=emulator.instance_url, session_id=token, version=VERSION, session=session)


def tag() -> str:
    """A value unique to one test, so tests sharing the org never see each other's records."""
    return f"t-{uuid.uuid4().hex[:10]}"


def sobject(sf: Salesforce, name: str) -> SFType:
    # simple-salesforce types __getattr__ as a union with its bulk handlers.
    return cast(SFType, getattr(sf, name))


def rest(sf: Salesforce, path: str, method: str = "GET", **kwargs: Any) -> Any:
    result = sf.restful(path, method=method, **kwargs)
    assert result is not None
    return result


def error_of(excinfo: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    content = excinfo.value.content
    assert isinstance(content, list) and len(content) == 1, content
    first: dict[str, Any] = content[0]
    return first


# -- TLS and OAuth -------------------------------------------------------------------------------------


def test_ca_bundle_session_beats_environment_bundle(
    emulator: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", default_ca_bundle())
    with requests.Session() as plain:
        plain.verify = emulator.ca_path
        with pytest.raises(requests.exceptions.SSLError):
            plain.get(emulator.instance_url + "/services/data/")
    with CaBundleSession(emulator.ca_path) as pinned:
        versions = pinned.get(emulator.instance_url + "/services/data/").json()
    assert {"label": "Winter '24", "url": DATA, "version": VERSION} in versions
    assert versions[-1]["version"] == VERSION  # nothing newer than the org's release


def test_client_credentials_grant_in_body_and_basic_header(
    emulator: SalesforceEmulator, session: requests.Session
) -> None:
    body = session.post(
        emulator.token_url,
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    ).json()
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == emulator.instance_url
    assert body["access_token"].startswith(emulator.org_id[:15] + "!")
    assert body["id"].startswith(f"{emulator.instance_url}/id/{emulator.org_id}/005")
    assert body["issued_at"].isdigit() and body["signature"]
    basic = session.post(
        emulator.token_url, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET)
    )
    assert basic.status_code == 200
    assert emulator.api_calls() == 0  # the token endpoint is not a REST API call


def test_password_grant_needs_password_plus_security_token(
    emulator: SalesforceEmulator, session: requests.Session
) -> None:
    form = {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "username": USERNAME,
        "password": PASSWORD + SECURITY_TOKEN,
    }
    ok = session.post(emulator.token_url, data=form)
    assert ok.status_code == 200
    sf = Salesforce(
        instance_url=emulator.instance_url,
        session_id=ok.json()["access_token"],
        version=VERSION,
        session=session,
    )
    assert sf.query("SELECT COUNT() FROM Account WHERE Name = 'nobody'")["totalSize"] == 0
    bad = session.post(emulator.token_url, data=form | {"password": PASSWORD})
    assert (bad.status_code, bad.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "authentication failure"},
    )


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "nope", "client_secret": CLIENT_SECRET},
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
        ),
        (
            {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "wrong"},
            {"error": "invalid_client", "error_description": "invalid client credentials"},
        ),
        (
            {"grant_type": "authorization_code", "code": "x"},
            {"error": "unsupported_grant_type", "error_description": "grant type not supported"},
        ),
        ({}, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}),
    ],
)
def test_token_errors_are_oauth_json(
    emulator: SalesforceEmulator, session: requests.Session, form: dict[str, str], error: dict[str, str]
) -> None:
    response = session.post(emulator.token_url, data=form)
    assert (response.status_code, response.json()) == (400, error)


def test_token_endpoint_requires_post(emulator: SalesforceEmulator, session: requests.Session) -> None:
    response = session.get(emulator.token_url, params={"grant_type": "client_credentials"})
    assert response.json() == {"error": "invalid_request", "error_description": "must use HTTP POST"}


def _assertion(private_key: bytes, **claims: Any) -> str:
    payload = {
        "iss": JWT_CLIENT_ID,
        "sub": USERNAME,
        "aud": "https://login.salesforce.com",
        "exp": f"{time.time() + 180:.0f}",
    }  # simple-salesforce sends exp as a string
    return jwt.encode(payload | claims, private_key, algorithm="RS256")


def test_jwt_bearer_grant(
    emulator: SalesforceEmulator, session: requests.Session, jwt_private_key: bytes
) -> None:
    response = session.post(
        emulator.token_url,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": _assertion(jwt_private_key),
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "scope", "instance_url", "id", "token_type"}
    sf = Salesforce(
        instance_url=body["instance_url"], session_id=body["access_token"], version=VERSION, session=session
    )
    assert sf.limits()["DailyApiRequests"]["Max"] == emulator.limit


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"aud": "https://evil.example"}, "Audience validation failed"),
        ({"exp": int(time.time()) - 10}, "invalid assertion"),
        ({"sub": "stranger@example.com"}, "user hasn't approved this consumer"),
    ],
)
def test_jwt_bearer_rejections(
    emulator: SalesforceEmulator,
    session: requests.Session,
    jwt_private_key: bytes,
    claims: dict[str, Any],
    description: str,
) -> None:
    response = session.post(
        emulator.token_url,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": _assertion(jwt_private_key, **claims),
        },
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_grant", "error_description": description},
    )


def test_jwt_signed_with_another_key_is_rejected(
    emulator: SalesforceEmulator, session: requests.Session
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    response = session.post(
        emulator.token_url,
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": _assertion(other)},
    )
    assert response.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}


def test_rest_calls_need_a_valid_bearer_token(
    emulator: SalesforceEmulator, session: requests.Session
) -> None:
    missing = session.get(emulator.instance_url + DATA + "/limits/")
    wrong = session.get(emulator.instance_url + DATA + "/limits/", headers={"Authorization": "Bearer nope"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json() == [
            {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
        ]
    assert emulator.api_calls() == 0


def test_expired_sessions_fail_until_the_client_reauthenticates(
    emulator: SalesforceEmulator, session: requests.Session, sf: Salesforce
) -> None:
    sf.query("SELECT Id FROM Case LIMIT 1")
    emulator.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as excinfo:
        sf.query("SELECT Id FROM Case LIMIT 1")
    assert error_of(excinfo) == {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    fresh = client_credentials_token(emulator, session)
    again = Salesforce(instance_url=emulator.instance_url, session_id=fresh, version=VERSION, session=session)
    assert again.query("SELECT Id FROM Case LIMIT 1")["done"] is True


def test_unknown_api_version_is_not_found(emulator: SalesforceEmulator, session: requests.Session) -> None:
    token = emulator.issue_token()
    response = session.get(
        emulator.instance_url + "/services/data/v99.0/limits/", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404
    assert response.json() == [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}]


# -- SOQL ----------------------------------------------------------------------------------------------


def test_query_pages_with_next_records_url(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    channel = tag()
    ids = [emulator.add_record("Case", {"Subject": f"case {i}", "Channel__c": channel}) for i in range(7)]
    emulator.query_page_size = 3
    soql = format_soql("SELECT Id, Subject FROM Case WHERE Channel__c = {} ORDER BY Subject", channel)
    emulator.reset_log()
    first = sf.query(soql)
    assert (first["totalSize"], first["done"], len(first["records"])) == (7, False, 3)
    assert first["nextRecordsUrl"].startswith(f"{DATA}/query/01g")
    assert first["nextRecordsUrl"].endswith("-3")
    everything = sf.query_all(soql)
    assert [r["Id"] for r in everything["records"]] == ids
    assert emulator.api_calls() == 1 + 3  # one query, then query + two query_more calls
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1]
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sf.query_more("01gRO0000000000AAA-3")
    assert error_of(excinfo)["errorCode"] == "INVALID_QUERY_LOCATOR"
    assert sf.query_more(locator)["records"][0]["Subject"] == "case 3"


def test_query_honours_batch_size_header(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    channel = tag()
    for i in range(250):
        emulator.add_record("Case", {"Subject": f"bulk {i}", "Channel__c": channel})
    soql = format_soql("SELECT Id FROM Case WHERE Channel__c = {}", channel)
    page = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    assert (len(page["records"]), page["done"]) == (200, False)
    assert len(sf.query(soql)["records"]) == 250  # default batch is 2000
    tiny = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=5"})  # below the minimum of 200
    assert len(tiny["records"]) == 200


def test_query_all_includes_deleted_records(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    channel = tag()
    keep = emulator.add_record("Case", {"Subject": "keep", "Channel__c": channel})
    gone = emulator.add_record("Case", {"Subject": "gone", "Channel__c": channel})
    assert sobject(sf, "Case").delete(gone) == 204
    soql = format_soql("SELECT Id, IsDeleted FROM Case WHERE Channel__c = {}", channel)
    assert [r["Id"] for r in sf.query(soql)["records"]] == [keep]
    rows = sf.query_all(soql, include_deleted=True)["records"]
    assert {(r["Id"], r["IsDeleted"]) for r in rows} == {(keep, False), (gone, True)}


def test_relationship_fields_are_nested_records_or_null(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    channel = tag()
    account = emulator.add_record("Account", {"Name": "Acme", "AnnualRevenue": 250000, "Tier__c": "Gold"})
    contact = emulator.add_record("Contact", {"LastName": "Doe", "AccountId": account})
    linked = emulator.add_record(
        "Case", {"Subject": "linked", "Channel__c": channel, "AccountId": account, "ContactId": contact}
    )
    emulator.add_record("Case", {"Subject": "orphan", "Channel__c": channel})
    emulator.add_record("CaseComment", {"ParentId": linked, "CommentBody": "first note"})
    rows = sf.query(
        format_soql(
            "SELECT Subject, Account.AnnualRevenue, Account.Tier__c, Contact.Account.Name FROM Case "
            "WHERE Channel__c = {} ORDER BY Subject",
            channel,
        )
    )["records"]
    assert rows[0]["Account"] == {
        "attributes": {"type": "Account", "url": f"{DATA}/sobjects/Account/{account}"},
        "AnnualRevenue": 250000.0,
        "Tier__c": "Gold",
    }
    assert rows[0]["Contact"]["Account"]["Name"] == "Acme"
    assert rows[1]["Account"] is None and rows[1]["Contact"] is None
    filtered = sf.query(
        format_soql("SELECT Id FROM Case WHERE Channel__c = {} AND Account.Tier__c = 'gold'", channel)
    )  # case-insensitive
    assert [r["Id"] for r in filtered["records"]] == [linked]
    notes = sf.query(
        format_soql("SELECT CommentBody, Parent.CaseNumber FROM CaseComment WHERE ParentId = {}", linked)
    )["records"]
    assert notes[0]["Parent"]["CaseNumber"] == emulator.records["Case"][linked]["CaseNumber"]


@pytest.fixture(scope="module")
def operator_cases(emulator: SalesforceEmulator) -> str:
    """Five cases whose Subject is their name, for the operator table."""
    emulator.describe_field("Case", "Due__c", type="date", label="Due")
    emulator.describe_field("Case", "Score__c", type="double", precision=18, scale=2)
    channel = tag()
    rows: list[dict[str, Any]] = [
        {"Subject": "alpha", "Priority": "High", "Status": "New", "Score__c": 1.5, "Due__c": "2026-11-20"},
        {"Subject": "beta", "Priority": "Low", "Status": "Closed", "Score__c": 10, "Due__c": "2026-12-01"},
        {"Subject": "gamma_ray", "Priority": "Medium", "Status": "Working", "Score__c": -2},
        {"Subject": "100% sure", "Priority": "High", "Status": "Escalated", "SuppliedEmail": "a@b.example"},
        {"Subject": None, "Priority": "Low", "Status": "New"},
    ]
    for row in rows:
        emulator.add_record("Case", row | {"Channel__c": channel})
        emulator.org.tick()
    return channel


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Subject = 'ALPHA'", ["alpha"]),
        ("Subject != 'alpha'", ["beta", "gamma_ray", "100% sure", None]),
        ("Subject <> 'alpha'", ["beta", "gamma_ray", "100% sure", None]),
        ("Score__c > 1", ["alpha", "beta"]),
        ("Score__c >= 10", ["beta"]),
        ("Score__c < 0", ["gamma_ray"]),
        ("Score__c <= 1.5", ["alpha", "gamma_ray"]),
        ("Priority IN ('High', 'medium')", ["alpha", "gamma_ray", "100% sure"]),
        ("Priority NOT IN ('High')", ["beta", "gamma_ray", None]),
        ("Subject LIKE 'a%'", ["alpha"]),
        ("Subject LIKE '%A%'", ["alpha", "beta", "gamma_ray"]),
        ("Subject LIKE 'bet_'", ["beta"]),
        ("Subject LIKE 'gamma\\_%'", ["gamma_ray"]),
        ("Subject LIKE '100\\%%'", ["100% sure"]),
        ("Subject = null", [None]),
        ("Subject != null AND Priority = 'Low'", ["beta"]),
        ("IsClosed = true", ["beta"]),
        ("IsClosed = false AND Priority = 'High'", ["alpha", "100% sure"]),
        ("Priority = 'High' OR Status = 'Closed'", ["alpha", "beta", "100% sure"]),
        ("(Priority = 'High' OR Status = 'Closed') AND Score__c != null", ["alpha", "beta"]),
        ("NOT Priority = 'Low'", ["alpha", "gamma_ray", "100% sure"]),
        ("NOT (Priority = 'Low' OR Priority = 'High')", ["gamma_ray"]),
        ("Due__c < 2026-11-23", ["alpha"]),
        ("Due__c >= 2026-11-23", ["beta"]),
        ("SuppliedEmail = 'A@B.example'", ["100% sure"]),
    ],
)
def test_where_operators(sf: Salesforce, operator_cases: str, where: str, expected: list[str | None]) -> None:
    soql = (
        f"SELECT Subject FROM Case WHERE Channel__c = '{operator_cases}' AND ({where}) ORDER BY CreatedDate"
    )
    assert [r["Subject"] for r in sf.query(soql)["records"]] == expected


def test_datetime_literals_with_zones_and_order_limit_offset(
    emulator: SalesforceEmulator, sf: Salesforce, operator_cases: str
) -> None:
    created = [r["CreatedDate"] for r in emulator.find("Case", Channel__c=operator_cases)]
    assert created[0].endswith(".000+0000")
    second = datetime.strptime(created[1], "%Y-%m-%dT%H:%M:%S.%f%z")
    base = f"SELECT Subject FROM Case WHERE Channel__c = '{operator_cases}' AND CreatedDate"
    utc = second.strftime("%Y-%m-%dT%H:%M:%SZ")
    shifted = second.astimezone(UTC).replace(tzinfo=None)
    offset = (
        f"{shifted.year:04d}-{shifted.month:02d}-{shifted.day:02d}T{shifted.hour + 2:02d}:"
        f"{shifted.minute:02d}:{shifted.second:02d}+02:00"
    )
    assert [r["Subject"] for r in sf.query(f"{base} >= {utc} ORDER BY CreatedDate")["records"]] == [
        "beta",
        "gamma_ray",
        "100% sure",
        None,
    ]
    assert [r["Subject"] for r in sf.query(f"{base} = {offset}")["records"]] == ["beta"]
    assert (
        sf.query(format_soql(f"{base} > {{}}", second))["totalSize"] == 3
    )  # simple-salesforce's +00:00 form
    ordered = sf.query(
        f"SELECT Subject FROM Case WHERE Channel__c = '{operator_cases}' "
        "ORDER BY Subject DESC NULLS LAST LIMIT 3 OFFSET 1"
    )["records"]
    assert [r["Subject"] for r in ordered] == ["beta", "alpha", "100% sure"]
    nulls_first = sf.query(
        f"SELECT Subject FROM Case WHERE Channel__c = '{operator_cases}' "
        "ORDER BY Subject ASC NULLS FIRST LIMIT 2"
    )["records"]
    assert [r["Subject"] for r in nulls_first] == [None, "100% sure"]
    default_desc = sf.query(
        f"SELECT Subject FROM Case WHERE Channel__c = '{operator_cases}' ORDER BY Subject DESC LIMIT 2"
    )["records"]
    assert [r["Subject"] for r in default_desc] == [None, "gamma_ray"]  # nulls first unless NULLS LAST
    count = sf.query(f"SELECT COUNT() FROM Case WHERE Channel__c = '{operator_cases}' AND Priority = 'Low'")
    assert count == {"totalSize": 2, "done": True, "records": []}


NASTY_VALUES = [
    "o'brien\\",
    "a\\\\'b",
    "say \"hi\" and 'bye'",
    "line one\nline two\r\n\ttabbed",
    "bell\b and feed\f",
    "unicode: café ünïcödé 中文 😀",
    "100%_literal",
    "--' OR Name != '",
]


@pytest.mark.parametrize("value", NASTY_VALUES)
def test_format_soql_escaping_round_trips(emulator: SalesforceEmulator, sf: Salesforce, value: str) -> None:
    channel = tag()
    wanted = sobject(sf, "Case").create({"Subject": value, "Channel__c": channel})["id"]
    emulator.add_record("Case", {"Subject": value + "x", "Channel__c": channel})
    found = sf.query(
        format_soql("SELECT Id, Subject FROM Case WHERE Channel__c = {} AND Subject = {}", channel, value)
    )["records"]
    assert [(r["Id"], r["Subject"]) for r in found] == [(wanted, value)]
    prefix = sf.query(
        format_soql("SELECT Id FROM Case WHERE Channel__c = {} AND Subject LIKE '{:like}%'", channel, value)
    )
    assert prefix["totalSize"] == 2
    listed = sf.query(
        format_soql("SELECT Id FROM Case WHERE Subject IN {} AND Channel__c = {}", [value, "other"], channel)
    )
    assert listed["totalSize"] == 1


def test_like_escapes_keep_percent_and_underscore_literal(
    emulator: SalesforceEmulator, sf: Salesforce
) -> None:
    channel = tag()
    for subject in ("100%_sure thing", "100xysure thing", "100%_sure"):
        emulator.add_record("Case", {"Subject": subject, "Channel__c": channel})
    rows = sf.query(
        format_soql(
            "SELECT Subject FROM Case WHERE Channel__c = {} AND Subject LIKE '{:like}%'",
            channel,
            "100%_sure ",
        )
    )["records"]
    assert [r["Subject"] for r in rows] == ["100%_sure thing"]
    unicode_escape = sf.query(
        f"SELECT Id FROM Case WHERE Channel__c = '{channel}' AND Subject = '100\\u0025_sure'"
    )
    assert unicode_escape["totalSize"] == 1


@pytest.mark.parametrize(
    ("soql", "code", "detail"),
    [
        ("SELECT Foo__c FROM Case", "INVALID_FIELD", "No such column 'Foo__c' on entity 'Case'."),
        ("SELECT Id FROM Cases", "INVALID_TYPE", "sObject type 'Cases' is not supported."),
        ("SELECT Id, Acount.Name FROM Case", "INVALID_FIELD", "Didn't understand relationship 'Acount'"),
        ("SELECT Id FROM Case WHERE", "MALFORMED_QUERY", "unexpected token: '<EOF>'"),
        ("SELECT Id Case", "MALFORMED_QUERY", "unexpected token: 'Case'"),
        (
            "SELECT Id FROM Case WHERE Subject = 'a' AND Status = 'New' OR Priority = 'Low'",
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
        ("SELECT Id FROM Case WHERE Subject = 'open", "MALFORMED_QUERY", "unterminated string literal"),
        (
            "SELECT Id FROM Case WHERE Subject = 'a\\qb'",
            "MALFORMED_QUERY",
            "Illegal character sequence '\\q'",
        ),
        (
            "SELECT Id FROM Case WHERE Subject = '100\\%'",
            "MALFORMED_QUERY",
            "Illegal character sequence '\\%'",
        ),
        ('SELECT Id FROM Case WHERE Subject = "double"', "MALFORMED_QUERY", "unexpected token"),
        ("SELECT Id FROM Case WHERE Subject = :name", "MALFORMED_QUERY", "unexpected token: ':'"),
        (
            "SELECT Id FROM CaseComment WHERE CommentBody = 'x'",
            "INVALID_FIELD",
            "field 'CommentBody' can not be filtered in a query call",
        ),
        (
            "SELECT Id FROM Case WHERE Description LIKE '%x%'",
            "INVALID_FIELD",
            "field 'Description' can not be filtered in a query call",
        ),
        (
            "SELECT Id FROM Case ORDER BY Description",
            "INVALID_FIELD",
            "field 'Description' can not be sorted in a query call",
        ),
        (
            "SELECT Id FROM Case WHERE Subject = 5",
            "INVALID_FIELD",
            "filter criterion for field 'Subject' must be of type string and should be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Case WHERE CreatedDate > '2026-11-23T10:00:00Z'",
            "INVALID_FIELD",
            "must be of type dateTime and should not be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Case WHERE CreatedDate > 2026-11-23T10:00:00",
            "MALFORMED_QUERY",
            "no viable alternative",
        ),
        (
            "SELECT Id FROM Case WHERE ContactId = 'not-an-id'",
            "INVALID_QUERY_FILTER_OPERATOR",
            "invalid ID field: not-an-id",
        ),
        ("SELECT Id, Id FROM Case", "MALFORMED_QUERY", "duplicate field selected: Id"),
        (
            "SELECT Id FROM Case OFFSET 2001",
            "NUMBER_OUTSIDE_VALID_RANGE",
            "Maximum SOQL offset allowed is 2000",
        ),
    ],
)
def test_query_errors(sf: Salesforce, soql: str, code: str, detail: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sf.query(soql)
    error = error_of(excinfo)
    assert error["errorCode"] == code
    assert detail in error["message"]
    assert "ERROR at Row:1:Column:" in error["message"]


# -- sObject writes ------------------------------------------------------------------------------------


def test_record_crud_and_last_modified(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    created = sobject(sf, "Case").create(
        {"Subject": "Printer on fire", "Origin": "Twitter", "Channel__c": "x"}
    )
    assert set(created) == {"id", "success", "errors"} and created["success"] is True
    case_id = created["id"]
    assert len(case_id) == 18 and case_id.startswith("500")
    record = sobject(sf, "Case").get(case_id)
    assert record["attributes"] == {"type": "Case", "url": f"{DATA}/sobjects/Case/{case_id}"}
    assert (record["Status"], record["Priority"], record["IsClosed"]) == ("New", "Medium", False)
    assert record["CaseNumber"].isdigit() and len(record["CaseNumber"]) == 8
    assert record["CreatedDate"] == record["LastModifiedDate"]
    assert sobject(sf, "Case").get(case_id[:15], params={"fields": "Subject,Status"}) == {
        "attributes": record["attributes"],
        "Subject": "Printer on fire",
        "Status": "New",
    }
    assert sobject(sf, "Case").update(case_id, {"Status": "Closed"}) == 204
    updated = sobject(sf, "Case").get(case_id)
    assert updated["IsClosed"] is True
    assert updated["LastModifiedDate"] > record["LastModifiedDate"]
    emulator.update_record("Case", case_id, {"Priority": "High"})
    bumped = emulator.records["Case"][case_id]["LastModifiedDate"]
    assert bumped > updated["LastModifiedDate"]
    since = datetime.strptime(updated["LastModifiedDate"], "%Y-%m-%dT%H:%M:%S.%f%z")
    changed = sf.query(format_soql("SELECT Id, Priority FROM Case WHERE LastModifiedDate > {}", since))
    assert [(r["Id"], r["Priority"]) for r in changed["records"]] == [(case_id, "High")]
    as_returned = sf.query(f"SELECT Id FROM Case WHERE LastModifiedDate > {updated['LastModifiedDate']}")
    assert [r["Id"] for r in as_returned["records"]] == [case_id]  # the API's own +0000 form
    assert sobject(sf, "Case").delete(case_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as excinfo:
        sobject(sf, "Case").get(case_id)
    assert error_of(excinfo)["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as excinfo:
        sobject(sf, "Case").get("not-an-id")
    assert error_of(excinfo) == {
        "errorCode": "NOT_FOUND",
        "message": "Provided external ID field does not exist or is not accessible: not-an-id",
    }


@pytest.mark.parametrize(
    ("sobject_name", "fields", "code", "message", "error_fields"),
    [
        (
            "Case",
            {"Subject": "x", "Foo__c": 1},
            "INVALID_FIELD",
            "No such column 'Foo__c' on sobject of type Case",
            None,
        ),
        (
            "Case",
            {"CaseNumber": "123"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "Unable to create/update fields: CaseNumber.",
            ["CaseNumber"],
        ),
        (
            "Case",
            {"IsClosed": True},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "Unable to create/update fields: IsClosed.",
            ["IsClosed"],
        ),
        (
            "Case",
            {"Origin": "Foo"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "Case Origin: bad value for restricted picklist field: Foo",
            ["Origin"],
        ),
        ("Case", {"Subject": "x" * 256}, "STRING_TOO_LONG", "Subject: data value too large: ", ["Subject"]),
        ("Case", {"Subject": "😀" * 128}, "STRING_TOO_LONG", "(max length=255)", ["Subject"]),
        (
            "Case",
            {"SuppliedEmail": "not an email"},
            "INVALID_EMAIL_ADDRESS",
            "Web Email: invalid email address: not an email",
            ["SuppliedEmail"],
        ),
        (
            "Case",
            {"ContactId": "001RO0000000001AAA"},
            "MALFORMED_ID",
            "Contact ID: id value of incorrect type: 001RO0000000001AAA",
            ["ContactId"],
        ),
        (
            "Case",
            {"ContactId": "nonsense"},
            "MALFORMED_ID",
            "Contact ID: id value of incorrect type: nonsense",
            ["ContactId"],
        ),
        (
            "Case",
            {"ContactId": "003RO00000ZZZZZ"},
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
            ["ContactId"],
        ),
        (
            "Contact",
            {"FirstName": "Ann"},
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName]",
            ["LastName"],
        ),
        (
            "CaseComment",
            {"CommentBody": "orphan"},
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [ParentId]",
            ["ParentId"],
        ),
        (
            "Case",
            {"Subject": {"nested": True}},
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of string",
            None,
        ),
        (
            "CaseComment",
            {"ParentId": "500RO00000ZZZZZ", "IsPublished": "yes"},
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of boolean",
            None,
        ),
    ],
)
def test_create_validation(
    sf: Salesforce,
    sobject_name: str,
    fields: dict[str, Any],
    code: str,
    message: str,
    error_fields: list[str] | None,
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sobject(sf, sobject_name).create(fields)
    error = error_of(excinfo)
    assert error["errorCode"] == code
    assert message in error["message"]
    assert error.get("fields") == error_fields


def test_unique_external_id_rejects_duplicates_on_create(sf: Salesforce) -> None:
    key = tag()
    first = sobject(sf, "Case").create({"Subject": "one", "Social_Post_Id__c": key})["id"]
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sobject(sf, "Case").create({"Subject": "two", "Social_Post_Id__c": key.upper()})  # case-insensitive
    assert error_of(excinfo) == {
        "message": f"duplicate value found: Social_Post_Id__c duplicates value on record with id: {first}",
        "errorCode": "DUPLICATE_VALUE",
        "fields": [],
    }


def test_upsert_created_updated_and_ambiguous(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    key = "tw-" + tag() + "/reply"  # a slash survives format_external_id's quoting
    path = format_external_id("Social_Post_Id__c", key)
    created = sobject(sf, "Case").upsert(
        path, {"Subject": "X mention", "Origin": "Twitter"}, raw_response=True
    )
    assert created.status_code == 201
    case_id = created.json()["id"]
    assert created.json() == {"id": case_id, "success": True, "errors": [], "created": True}
    assert emulator.records["Case"][case_id]["Social_Post_Id__c"] == key
    updated = sobject(sf, "Case").upsert(path, {"Subject": "X mention (edited)"}, raw_response=True)
    assert (updated.status_code, updated.json()) == (
        200,
        {"id": case_id, "success": True, "errors": [], "created": False},
    )
    assert sobject(sf, "Case").get_by_custom_id("Social_Post_Id__c", key)["Subject"] == "X mention (edited)"
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sobject(sf, "Case").upsert(path, {"Subject": "y", "Social_Post_Id__c": key})
    assert error_of(excinfo)["errorCode"] == "INVALID_FIELD"
    emulator.add_record("Case", {"Subject": "clone", "Social_Post_Id__c": key})  # seeding skips DML rules
    with pytest.raises(SalesforceMoreThanOneRecord) as many:
        sobject(sf, "Case").upsert(path, {"Subject": "z"})
    urls: list[str] = many.value.content  # type: ignore[assignment]  # a 300 body is a list of record URLs
    assert many.value.status == 300 and len(urls) == 2
    assert all(url.startswith(f"{DATA}/sobjects/Case/500") for url in urls)
    with pytest.raises(SalesforceResourceNotFound):
        sobject(sf, "Case").upsert("Subject/whatever", {"Origin": "Web"})


def test_upsert_before_api_46_answers_204_without_created(
    emulator: SalesforceEmulator, session: requests.Session
) -> None:
    old = Salesforce(
        instance_url=emulator.instance_url, session_id=emulator.issue_token(), version="45.0", session=session
    )
    path = format_external_id("Social_Post_Id__c", tag())
    created = sobject(old, "Case").upsert(path, {"Subject": "old api"}, raw_response=True)
    assert "created" not in created.json()
    assert sobject(old, "Case").upsert(path, {"Subject": "old api, again"}) == 204


# -- Collections and Composite -------------------------------------------------------------------------


def test_collections_upsert_mixed_success_and_all_or_none(
    emulator: SalesforceEmulator, sf: Salesforce
) -> None:
    existing_key = tag()
    existing = emulator.add_record("Case", {"Subject": "old", "Social_Post_Id__c": existing_key})
    new_key, bad_key = tag(), tag()
    records = [
        {"attributes": {"type": "Case"}, "Social_Post_Id__c": existing_key, "Subject": "refreshed"},
        {
            "attributes": {"type": "Case"},
            "Social_Post_Id__c": new_key,
            "Subject": "new",
            "Origin": "Web",
        },
        {"attributes": {"type": "Case"}, "Social_Post_Id__c": bad_key, "Origin": "Facebook Page"},
    ]
    url = "composite/sobjects/Case/Social_Post_Id__c"
    results = rest(sf, url, method="PATCH", json={"allOrNone": False, "records": records})
    assert results[0] == {"id": existing, "success": True, "errors": [], "created": False}
    assert results[1]["success"] is True and results[1]["created"] is True
    assert results[2] == {
        "success": False,
        "errors": [
            {
                "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                "message": "Case Origin: bad value for restricted picklist field: Facebook Page",
                "fields": ["Origin"],
            }
        ],
    }
    assert emulator.records["Case"][existing]["Subject"] == "refreshed"

    rollback_key = tag()
    records[0]["Subject"] = "should not stick"
    records[1]["Social_Post_Id__c"] = rollback_key
    results = rest(sf, url, method="PATCH", json={"allOrNone": True, "records": records})
    rolled = {
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all "
        "records were valid and the request was using AllOrNone header",
        "fields": [],
    }
    assert results[:2] == [{"success": False, "errors": [rolled]}] * 2
    assert results[2]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert emulator.records["Case"][existing]["Subject"] == "refreshed"
    assert emulator.find("Case", Social_Post_Id__c=rollback_key) == []


def test_collections_upsert_duplicate_keys_in_one_batch(sf: Salesforce) -> None:
    key = tag()
    records = [
        {"attributes": {"type": "Case"}, "Social_Post_Id__c": k, "Subject": "dup"}
        for k in (key, key.upper(), tag())
    ]
    results = rest(sf, "composite/sobjects/Case/Social_Post_Id__c", method="PATCH", json={"records": records})
    assert [r["success"] for r in results] == [False, False, True]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"


def test_collections_create_update_retrieve_delete(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    account = emulator.add_record("Account", {"Name": "Umbrella"})
    created = rest(
        sf,
        "composite/sobjects",
        method="POST",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": "Kent", "AccountId": account},
                {"attributes": {"type": "Account"}, "Name": "Daily Planet"},
                {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
            ]
        },
    )
    assert [r["success"] for r in created] == [True, True, False]
    assert created[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    contact, other = created[0]["id"], created[1]["id"]
    updated = rest(
        sf,
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "id": contact, "FirstName": "Clark"},
                {"attributes": {"type": "Contact"}, "FirstName": "No id"},
            ]
        },
    )
    assert updated[0] == {"id": contact, "success": True, "errors": []}
    assert updated[1]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    fetched = rest(
        sf,
        "composite/sobjects/Contact",
        params={"ids": f"{contact},003RO00000ZZZZZAAA", "fields": "Name,AccountId"},
    )
    assert fetched == [
        {
            "attributes": {"type": "Contact", "url": f"{DATA}/sobjects/Contact/{contact}"},
            "Name": "Clark Kent",
            "AccountId": account,
        },
        None,
    ]
    deleted = rest(sf, "composite/sobjects", method="DELETE", params={"ids": f"{contact},{other}"})
    assert [r["success"] for r in deleted] == [True, True]
    assert contact not in emulator.records["Contact"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"records": [{"attributes": {"type": "Case"}, "Subject": str(i)} for i in range(201)]},
            "EXCEEDED_ID_LIMIT",
        ),
        ({"records": [{"Subject": "no attributes"}]}, "INVALID_TYPE"),
        ({"records": [{"attributes": {"type": "Case"}, "Nope__c": 1}]}, "INVALID_FIELD"),
        (
            {
                "records": [
                    {"attributes": {"type": t}, "Name": "n", "LastName": "l"}
                    for t in ["Account", "Contact"] * 6
                ]
            },
            "EXCEEDED_MAX_TYPES_LIMIT",
        ),
    ],
)
def test_malformed_collections_are_400(sf: Salesforce, body: dict[str, Any], code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        rest(sf, "composite/sobjects", method="POST", json=body)
    assert error_of(excinfo)["errorCode"] == code


def _case_then_comment(subject: str, origin: str) -> list[dict[str, Any]]:
    return [
        {
            "method": "POST",
            "url": f"{DATA}/sobjects/Case",
            "referenceId": "newCase",
            "body": {"Subject": subject, "Origin": origin},
        },
        {
            "method": "POST",
            "url": f"{DATA}/sobjects/CaseComment",
            "referenceId": "note",
            "body": {
                "ParentId": "@{newCase.id}",
                "CommentBody": "Original tweet: hola",
                "IsPublished": False,
            },
        },
        {
            "method": "GET",
            "url": f"{DATA}/query/?q=SELECT+Id,CaseNumber+FROM+Case+WHERE+Id='@{{newCase.id}}'",
            "referenceId": "lookup",
        },
        {
            "method": "PATCH",
            "url": f"{DATA}/sobjects/Case/@{{lookup.records[0].Id}}",
            "referenceId": "touch",
            "body": {"Priority": "High"},
        },
    ]


def test_composite_with_references(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    emulator.reset_log()
    response = rest(
        sf,
        "composite",
        method="POST",
        json={"allOrNone": True, "compositeRequest": _case_then_comment("X mention", "Twitter")},
    )
    results = response["compositeResponse"]
    assert [(r["referenceId"], r["httpStatusCode"]) for r in results] == [
        ("newCase", 201),
        ("note", 201),
        ("lookup", 200),
        ("touch", 204),
    ]
    case_id = results[0]["body"]["id"]
    assert results[0]["httpHeaders"] == {"Location": f"{DATA}/sobjects/Case/{case_id}"}
    assert emulator.records["CaseComment"][results[1]["body"]["id"]]["ParentId"] == case_id
    assert results[2]["body"]["records"][0]["Id"] == case_id
    assert results[3]["body"] is None and emulator.records["Case"][case_id]["Priority"] == "High"
    assert emulator.api_calls() == 1  # a composite request counts once


def test_composite_all_or_none_halts_and_rolls_back(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    subject = tag()
    requests_ = _case_then_comment(subject, "Twitter")
    requests_[1]["body"]["CommentBody"] = None
    requests_[1]["body"]["ParentId"] = "500RO00000ZZZZZ"
    results = rest(sf, "composite", method="POST", json={"allOrNone": True, "compositeRequest": requests_})[
        "compositeResponse"
    ]
    halted = [
        {
            "errorCode": "PROCESSING_HALTED",
            "message": "The transaction was rolled back since another operation in the same transaction "
            "failed.",
        }
    ]
    assert [r["httpStatusCode"] for r in results] == [400, 400, 400, 400]
    assert results[0]["body"] == halted and results[2]["body"] == halted and results[3]["body"] == halted
    assert results[1]["body"][0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert emulator.find("Case", Subject=subject) == []


def test_composite_without_all_or_none_halts_only_dependents(
    emulator: SalesforceEmulator, sf: Salesforce
) -> None:
    subject = tag()
    results = rest(
        sf, "composite", method="POST", json={"compositeRequest": _case_then_comment(subject, "Fax")}
    )["compositeResponse"]
    assert [r["httpStatusCode"] for r in results] == [400, 400, 400, 400]
    assert results[0]["body"][0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert results[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert "newCase.id" in results[1]["body"][0]["message"]
    ok = rest(
        sf,
        "composite",
        method="POST",
        json={
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": f"{DATA}/sobjects/Case",
                    "referenceId": "a",
                    "body": {"Subject": subject},
                },
                {
                    "method": "POST",
                    "url": f"{DATA}/sobjects/Case",
                    "referenceId": "b",
                    "body": {"Origin": "Fax"},
                },
            ]
        },
    )["compositeResponse"]
    assert [r["httpStatusCode"] for r in ok] == [201, 400]
    assert len(emulator.find("Case", Subject=subject)) == 1


def test_composite_limits_subrequests(sf: Salesforce) -> None:
    many = [{"method": "GET", "url": f"{DATA}/limits", "referenceId": f"r{i}"} for i in range(26)]
    with pytest.raises(SalesforceMalformedRequest):
        rest(sf, "composite", method="POST", json={"compositeRequest": many})


# -- describe ------------------------------------------------------------------------------------------


def test_describe_case(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    describe = sobject(sf, "Case").describe()
    assert (describe["name"], describe["keyPrefix"]) == ("Case", "500")
    fields = {f["name"]: f for f in describe["fields"]}
    origin = fields["Origin"]
    assert origin["type"] == "picklist" and origin["restrictedPicklist"] is True
    assert {"Twitter", "Facebook", "Instagram", "Social"} <= {v["value"] for v in origin["picklistValues"]}
    assert all(v["active"] for v in origin["picklistValues"])
    assert (fields["CaseNumber"]["createable"], fields["CaseNumber"]["updateable"]) == (False, False)
    key = fields["Social_Post_Id__c"]
    assert (key["externalId"], key["unique"], key["type"], key["length"]) == (True, True, "string", 255)
    assert (
        fields["ContactId"]["referenceTo"] == ["Contact"]
        and fields["ContactId"]["relationshipName"] == "Contact"
    )
    assert fields["Triage__c"]["filterable"] is False and fields["Permalink__c"]["type"] == "url"
    assert fields["IsClosed"]["updateable"] is False
    contact = {f["name"]: f for f in sobject(sf, "Contact").describe()["fields"]}
    assert contact["Lifetime_Value__c"]["type"] == "currency" and contact["LastName"]["nillable"] is False


def test_describe_field_adds_custom_fields(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    emulator.describe_field(
        "Contact",
        "Loyalty_Tier__c",
        type="picklist",
        picklistValues=["Gold", "Silver"],
        restrictedPicklist=True,
        label="Loyalty Tier",
    )
    described = {f["name"]: f for f in sobject(sf, "Contact").describe()["fields"]}["Loyalty_Tier__c"]
    assert (described["label"], described["custom"]) == ("Loyalty Tier", True)
    assert [v["value"] for v in described["picklistValues"]] == ["Gold", "Silver"]
    contact = sobject(sf, "Contact").create({"LastName": "Lane", "Loyalty_Tier__c": "Gold"})["id"]
    with pytest.raises(SalesforceMalformedRequest):
        sobject(sf, "Contact").update(contact, {"Loyalty_Tier__c": "Bronze"})
    rows = sf.query(format_soql("SELECT Loyalty_Tier__c FROM Contact WHERE Id = {}", contact))["records"]
    assert rows[0]["Loyalty_Tier__c"] == "Gold"
    with pytest.raises(TypeError):
        emulator.describe_field("Contact", "Bad__c", colour="blue")


# -- faults, limits and the log ------------------------------------------------------------------------


def test_injected_503_then_success(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    emulator.fail_next(
        1, 503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable", path_contains="/query"
    )
    sf.limits()  # does not match path_contains
    with pytest.raises(SalesforceGeneralError) as excinfo:
        sf.query("SELECT Id FROM Case LIMIT 1")
    assert excinfo.value.status == 503
    assert error_of(excinfo) == {
        "message": "Server is temporarily unavailable",
        "errorCode": "SERVER_UNAVAILABLE",
    }
    assert sf.query("SELECT Id FROM Case LIMIT 1")["done"] is True
    assert [e.status for e in emulator.request_log if "/query" in e.path] == [503, 200]
    assert emulator.api_calls() == 2  # the injected failure is not counted


def test_request_limit_exceeded(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    emulator.fail_next(1, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
    with pytest.raises(SalesforceRefusedRequest) as excinfo:
        sf.limits()
    assert error_of(excinfo) == {
        "message": "TotalRequests Limit exceeded.",
        "errorCode": "REQUEST_LIMIT_EXCEEDED",
    }
    emulator.limit = emulator.api_used + 1
    sf.limits()
    with pytest.raises(SalesforceRefusedRequest) as real:
        sf.limits()
    assert error_of(real)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert sf.api_usage["api-usage"] == (emulator.limit, emulator.limit)


def test_latency_and_dropped_connections(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    emulator.latency_s = 0.2
    started = time.monotonic()
    sf.limits()
    assert time.monotonic() - started >= 0.2
    emulator.latency_s = 0.0
    emulator.drop_connection_next(1)
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.limits()
    assert sf.limits()["DailyApiRequests"]["Max"] == emulator.limit


def test_concurrent_clients(emulator: SalesforceEmulator) -> None:
    token = emulator.issue_token()
    channel = tag()

    def create(i: int) -> str:
        with CaBundleSession(emulator.ca_path) as own:
            client = Salesforce(
                instance_url=emulator.instance_url, session_id=token, version=VERSION, session=own
            )
            return str(
                sobject(client, "Case").create({"Subject": f"parallel {i}", "Channel__c": channel})["id"]
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(16)))
    assert len(set(ids)) == 16
    assert len(emulator.find("Case", Channel__c=channel)) == 16


def test_limit_header_api_usage_and_request_log(
    emulator: SalesforceEmulator, session: requests.Session
) -> None:
    token = client_credentials_token(emulator, session)
    sf = Salesforce(instance_url=emulator.instance_url, session_id=token, version=VERSION, session=session)
    session.get(emulator.instance_url + "/services/data/")  # versions: not counted
    before = emulator.api_used
    sobject(sf, "Account").create({"Name": "Logged Inc"})
    result = sf.query("SELECT Id FROM Account WHERE Name = 'Logged Inc'")
    assert result["totalSize"] >= 1
    assert sf.api_usage["api-usage"].used == before + 2
    assert sf.api_usage["api-usage"].total == emulator.limit
    assert emulator.api_calls() == 2
    token_call, versions_call, create, query = emulator.request_log
    assert (token_call.path, token_call.counted, token_call.body["grant_type"]) == (
        "/services/oauth2/token",
        False,
        "client_credentials",
    )
    assert (versions_call.path, versions_call.counted) == ("/services/data/", False)
    assert (create.method, create.path, create.status, create.json) == (
        "POST",
        f"{DATA}/sobjects/Account/",
        201,
        {"Name": "Logged Inc"},
    )
    assert create.headers["authorization"] == f"Bearer {token}"
    assert create.headers["content-type"] == "application/json"
    assert (query.method, query.path, query.query) == (
        "GET",
        f"{DATA}/query/",
        {"q": "SELECT Id FROM Account WHERE Name = 'Logged Inc'"},
    )
    emulator.reset_log()
    assert emulator.api_calls() == 0 and emulator.request_log == []


@pytest.mark.parametrize(
    ("method", "path", "headers", "data", "status", "code"),
    [
        ("PUT", "/sobjects/Case/500RO00000ZZZZZ", {}, b"{}", 405, "METHOD_NOT_ALLOWED"),
        (
            "POST",
            "/sobjects/Case/",
            {"Content-Type": "application/xml"},
            b"<Case/>",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "POST",
            "/sobjects/Case/",
            {"Content-Type": "application/json"},
            b"{not json",
            400,
            "JSON_PARSER_ERROR",
        ),
        (
            "POST",
            "/sobjects/Case/",
            {"Content-Type": "application/json"},
            b"[1, 2]",
            400,
            "JSON_PARSER_ERROR",
        ),
        ("GET", "/sobjects/Nope__c/describe", {}, b"", 404, "NOT_FOUND"),
        ("GET", "/nothing/here", {}, b"", 404, "NOT_FOUND"),
    ],
)
def test_http_level_errors(
    emulator: SalesforceEmulator,
    session: requests.Session,
    method: str,
    path: str,
    headers: dict[str, str],
    data: bytes,
    status: int,
    code: str,
) -> None:
    auth = {"Authorization": f"Bearer {emulator.issue_token()}"}
    response = session.request(method, emulator.instance_url + DATA + path, headers=auth | headers, data=data)
    assert response.status_code == status
    assert response.json()[0]["errorCode"] == code
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_resources_global_describe_and_head(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    resources = rest(sf, "")
    assert resources["query"] == f"{DATA}/query" and resources["composite"] == f"{DATA}/composite"
    names = {s["name"]: s["keyPrefix"] for s in rest(sf, "sobjects")["sobjects"]}
    assert names == {
        "Case": "500",
        "Contact": "003",
        "Account": "001",
        "CaseComment": "00a",
        "SocialPersona": "0SP",
        "SocialPost": "0ST",
    }
    head = sf.session.head(sf.base_url + "limits/", headers=sf.headers)
    assert (head.status_code, head.content) == (200, b"")


def test_social_objects_and_polymorphic_parent(emulator: SalesforceEmulator, sf: Salesforce) -> None:
    contact = sobject(sf, "Contact").create({"LastName": "Handle", "Twitter_Handle__c": "janedoe"})["id"]
    persona = sobject(sf, "SocialPersona").create(
        {"Name": "@janedoe", "ParentId": contact, "Provider": "Twitter", "ExternalId": "1901"}
    )["id"]
    case = sobject(sf, "Case").create({"Subject": "X mention", "ContactId": contact})["id"]
    post = sobject(sf, "SocialPost").create(
        {
            "Name": "Tweet from @janedoe",
            "Content": "help!",
            "Provider": "Twitter",
            "PersonaId": persona,
            "WhoId": contact,
            "ParentId": case,
            "Posted": "2026-11-23T09:59:00Z",
            "MessageType": "Tweet",
        }
    )["id"]
    assert post.startswith("0ST") and persona.startswith("0SP")
    rows = rest(
        sf,
        "query/",
        params={
            "q": format_soql(
                "SELECT Persona.Name, Who.Name, Parent.Name, Posted FROM SocialPost WHERE Id = {}", post
            )
        },
    )["records"]
    assert rows[0]["Persona"]["Name"] == "@janedoe" and rows[0]["Who"]["Name"] == "Handle"
    assert (
        rows[0]["Parent"]["attributes"]["type"] == "Case"
        and rows[0]["Posted"] == "2026-11-23T09:59:00.000+0000"
    )
    with pytest.raises(SalesforceMalformedRequest) as excinfo:
        sobject(sf, "SocialPersona").create({"Name": "@x", "ParentId": contact, "Provider": "Myspace"})
    assert error_of(excinfo)["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_composite_references_into_a_partly_failed_collection(
    emulator: SalesforceEmulator, sf: Salesforce
) -> None:
    subject = tag()
    collection = {
        "records": [
            {"attributes": {"type": "Case"}, "Subject": subject},
            {"attributes": {"type": "Case"}, "Origin": "Pager"},
        ]
    }
    results = rest(
        sf,
        "composite",
        method="POST",
        json={
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": f"{DATA}/composite/sobjects",
                    "referenceId": "cases",
                    "body": collection,
                },
                {
                    "method": "POST",
                    "url": f"{DATA}/sobjects/CaseComment",
                    "referenceId": "note",
                    "body": {"ParentId": "@{cases[0].id}", "CommentBody": "first of the batch"},
                },
            ]
        },
    )["compositeResponse"]
    assert [r["httpStatusCode"] for r in results] == [200, 201]
    assert [r["success"] for r in results[0]["body"]] == [True, False]
    halted = rest(
        sf,
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": f"{DATA}/composite/sobjects",
                    "referenceId": "cases",
                    "body": collection,
                },
            ],
        },
    )["compositeResponse"]
    rolled_back = halted[0]["body"][0]["errors"][0]["statusCode"]
    assert (
        rolled_back == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    )  # the outer allOrNone overrides the collection's
    assert len(emulator.find("Case", Subject=subject)) == 1
