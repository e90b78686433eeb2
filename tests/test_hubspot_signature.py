"""HubSpot signature checks: the documented vectors, and one test per failure mode."""

from __future__ import annotations

import pytest

from webhooks.errors import SignatureError
from webhooks.hubspot_signature import sign_hubspot_v3, signed_uri, verify_hubspot_signature

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URI = "https://www.example.com/webhook_uri"
V3_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"ticket.propertyChange","attemptNumber":0,"objectId":123,'
    b'"propertyName":"hs_pipeline_stage","propertyValue":"4","changeSource":"CRM","appId":54321}]'
)
V3_HEADERS = {
    "X-HubSpot-Signature-v3": "1IfgVbp7aeOVktqgYxBcBgnHg4wKcAJOfmiGLc+H25c=",
    "X-HubSpot-Request-Timestamp": "1564113600000",
}
NOW = 1564113600.0 + 60
V1_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
    b'"changeFlag":"NEW","appId":54321}]'
)


def test_protocols_v3_vector() -> None:
    assert verify_hubspot_signature(V3_BODY, V3_HEADERS, "POST", URI, [SECRET], now=NOW) == "v3"


def test_protocols_v1_and_v2_vectors_when_the_connection_accepts_them() -> None:
    v1 = {"X-HubSpot-Signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"}
    assert verify_hubspot_signature(V1_BODY, v1, "POST", URI, [SECRET], versions=("v1",)) == "v1"
    v2 = {
        "X-HubSpot-Signature": "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900",
        "X-HubSpot-Signature-Version": "v2",
    }
    body = b'{"example_field":"example_value"}'
    assert verify_hubspot_signature(body, v2, "POST", URI, [SECRET], versions=("v2",)) == "v2"


def test_header_names_are_case_insensitive_and_one_secret_of_several_matches() -> None:
    headers = {k.lower(): v for k, v in V3_HEADERS.items()}
    assert verify_hubspot_signature(V3_BODY, headers, "POST", URI, ["old-secret", SECRET], now=NOW) == "v3"


def test_the_uri_is_signed_with_the_documented_escapes_decoded() -> None:
    assert (
        signed_uri("https://h.example/hook%3Atenant?next=%2Fa%20b%40c")
        == "https://h.example/hook:tenant?next=/a%20b@c"
    )
    headers = sign_hubspot_v3(V3_BODY, SECRET, "https://h.example/hook?x=%3A", timestamp_ms=1564113600000)
    assert verify_hubspot_signature(
        V3_BODY, headers, "POST", "https://h.example/hook?x=%3A", [SECRET], now=NOW
    )


FAILURES = [
    (
        "missing signature",
        V3_BODY,
        {"X-HubSpot-Request-Timestamp": "1564113600000"},
        ("v3",),
        "missing X-HubSpot-Signature-v3 header",
    ),
    (
        "missing timestamp",
        V3_BODY,
        {"X-HubSpot-Signature-v3": V3_HEADERS["X-HubSpot-Signature-v3"]},
        ("v3",),
        "missing X-HubSpot-Request-Timestamp header",
    ),
    (
        "timestamp not ms",
        V3_BODY,
        {**V3_HEADERS, "X-HubSpot-Request-Timestamp": "2019-07-26"},
        ("v3",),
        "X-HubSpot-Request-Timestamp must be epoch milliseconds",
    ),
    (
        "tampered body",
        V3_BODY.replace(b'"4"', b'"1"'),
        V3_HEADERS,
        ("v3",),
        "X-HubSpot-Signature-v3 does not match the request",
    ),
    (
        "v1 not accepted",
        V1_BODY,
        {"X-HubSpot-Signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"},
        ("v3",),
        "signature version v1 is not accepted; send X-HubSpot-Signature-v3",
    ),
    (
        "not utf-8",
        b"\xff\xfe",
        V3_HEADERS,
        ("v3",),
        "body is not UTF-8, so it cannot carry a valid signature",
    ),
]


@pytest.mark.parametrize(
    ("label", "body", "headers", "versions", "message"), FAILURES, ids=[f[0] for f in FAILURES]
)
def test_each_failure_has_its_own_message(
    label: str, body: bytes, headers: dict[str, str], versions: tuple[str, ...], message: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_hubspot_signature(body, headers, "POST", URI, [SECRET], versions=versions, now=NOW)
    assert caught.value.message == message, label


def test_wrong_secret_method_or_uri_fail() -> None:
    for secret, method, uri in (
        (["other"], "POST", URI),
        ([SECRET], "PUT", URI),
        ([SECRET], "POST", URI + "?a=1"),
    ):
        with pytest.raises(SignatureError, match="does not match"):
            verify_hubspot_signature(V3_BODY, V3_HEADERS, method, uri, secret, now=NOW)


@pytest.mark.parametrize(("offset", "message"), [(301, "too old"), (-301, "too far in the future")])
def test_the_clock_window_is_five_minutes_both_ways(offset: float, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify_hubspot_signature(V3_BODY, V3_HEADERS, "POST", URI, [SECRET], now=1564113600.0 + offset)


def test_no_configured_secret_refuses_everything() -> None:
    with pytest.raises(SignatureError, match="no HubSpot client secret is configured"):
        verify_hubspot_signature(V3_BODY, V3_HEADERS, "POST", URI, [], now=NOW)
