"""Signature checks: every applicable vector of protocols.md Appendix 1, and one test per failure mode."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from webhooks.errors import SignatureError
from webhooks.signatures import (
    sign_meta,
    sign_standard_webhook,
    sign_x,
    verify_meta_signature,
    verify_standard_webhook,
    verify_x_signature,
    x_crc_response_token,
)

META_SECRET = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
META_BODY = (
    b'{"object":"page","entry":[{"id":"103149398319188","time":1608952530,'
    b'"changes":[{"field":"feed","value":{"item":"comment","verb":"add"}}]}]}'
)
META_HEADER = "sha256=4403e8c109d119b339afdeae752c4b7123cfb8a240c095749f2f1cfaf80e6e0a"
X_SECRET = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"
X_BODY = b'{"for_user_id":"2244994945","tweet_create_events":[]}'
X_HEADER = "sha256=CpOc2dZ+JrkFhzkAW3gWETdo1w8Mx1i/MpqTbkrylcw="
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def sw_headers(signature: str = SW_SIGNATURE, timestamp: int = SW_TIMESTAMP) -> dict[str, str]:
    return {"webhook-id": SW_ID, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def rejected(message: str) -> pytest.RaisesExc[SignatureError]:
    return pytest.raises(SignatureError, match=f"^{message}$")


# --- Appendix 1 vectors ----------------------------------------------------------------------


def test_vector_1_hmac_sha256_hex() -> None:
    header = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
    assert sign_meta(b"test", "secret") == {"X-Hub-Signature-256": header}
    verify_meta_signature(b"test", header, "secret")


def test_vector_2_meta_signature() -> None:
    assert sign_meta(META_BODY, META_SECRET) == {"X-Hub-Signature-256": META_HEADER}
    verify_meta_signature(META_BODY, META_HEADER, META_SECRET)


def test_vector_3_x_crc_response_token() -> None:
    token = x_crc_response_token("9b4507b3-9040-4669-9ca3-6b94edb50553", X_SECRET)
    assert token == "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="


def test_vector_4_x_signature() -> None:
    assert sign_x(X_BODY, X_SECRET) == {"x-twitter-webhooks-signature": X_HEADER}
    verify_x_signature(X_BODY, X_HEADER, X_SECRET)


def test_vector_8_standard_webhooks() -> None:
    assert verify_standard_webhook(SW_BODY, sw_headers(), SW_SECRET, now=SW_TIMESTAMP) == SW_ID
    assert sign_standard_webhook(SW_BODY, SW_SECRET, SW_ID, SW_TIMESTAMP) == sw_headers()


# --- Meta failure modes ----------------------------------------------------------------------


def test_meta_accepts_uppercase_hex() -> None:
    verify_meta_signature(META_BODY, "sha256=" + META_HEADER[7:].upper(), META_SECRET)


@pytest.mark.parametrize("header", [None, ""])
def test_meta_missing_header(header: str | None) -> None:
    with rejected("missing X-Hub-Signature-256 header"):
        verify_meta_signature(META_BODY, header, META_SECRET)


def test_meta_bad_scheme() -> None:
    # The legacy SHA-1 header's format in the SHA-256 header.
    with rejected("X-Hub-Signature-256 must start with 'sha256='"):
        verify_meta_signature(META_BODY, "sha1=" + META_HEADER[7:47], META_SECRET)


def test_meta_bad_hex() -> None:
    with rejected("X-Hub-Signature-256 is not a hex digest"):
        verify_meta_signature(META_BODY, "sha256=zz" + META_HEADER[9:], META_SECRET)


def test_meta_tampered_body() -> None:
    with rejected("X-Hub-Signature-256 does not match the body"):
        verify_meta_signature(META_BODY.replace(b"add", b"remove"), META_HEADER, META_SECRET)


def test_meta_wrong_secret() -> None:
    with rejected("X-Hub-Signature-256 does not match the body"):
        verify_meta_signature(META_BODY, META_HEADER, "not-the-app-secret")


def test_meta_truncated_signature() -> None:
    with rejected("X-Hub-Signature-256 does not match the body"):
        verify_meta_signature(META_BODY, META_HEADER[:-2], META_SECRET)


# --- X failure modes -------------------------------------------------------------------------


def test_x_missing_header() -> None:
    with rejected("missing x-twitter-webhooks-signature header"):
        verify_x_signature(X_BODY, None, X_SECRET)


def test_x_bad_scheme() -> None:
    with rejected("x-twitter-webhooks-signature must start with 'sha256='"):
        verify_x_signature(X_BODY, X_HEADER[7:], X_SECRET)


def test_x_bad_base64() -> None:
    with rejected("x-twitter-webhooks-signature is not valid base64"):
        verify_x_signature(X_BODY, "sha256=not base64!", X_SECRET)


def test_x_hex_instead_of_base64() -> None:
    # Meta's encoding on X's header: valid characters, wrong digest.
    with rejected("x-twitter-webhooks-signature does not match the body"):
        verify_x_signature(X_BODY, "sha256=" + "ab" * 32, X_SECRET)


def test_x_tampered_body() -> None:
    with rejected("x-twitter-webhooks-signature does not match the body"):
        verify_x_signature(X_BODY + b" ", X_HEADER, X_SECRET)


def test_x_wrong_secret() -> None:
    with rejected("x-twitter-webhooks-signature does not match the body"):
        verify_x_signature(X_BODY, X_HEADER, META_SECRET)


# --- Standard Webhooks failure modes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        (("webhook-id",), "missing Standard Webhooks headers: webhook-id"),
        (("webhook-timestamp",), "missing Standard Webhooks headers: webhook-timestamp"),
        (("webhook-signature",), "missing Standard Webhooks headers: webhook-signature"),
        (
            ("webhook-id", "webhook-timestamp", "webhook-signature"),
            "missing Standard Webhooks headers: webhook-id, webhook-timestamp, webhook-signature",
        ),
    ],
)
def test_standard_missing_headers(drop: tuple[str, ...], message: str) -> None:
    headers = {k: v for k, v in sw_headers().items() if k not in drop}
    with rejected(message):
        verify_standard_webhook(SW_BODY, headers, SW_SECRET, now=SW_TIMESTAMP)


def test_standard_headers_are_case_insensitive() -> None:
    headers = {k.title(): v for k, v in sw_headers().items()}
    assert verify_standard_webhook(SW_BODY, headers, SW_SECRET, now=SW_TIMESTAMP) == SW_ID


@pytest.mark.parametrize("timestamp", ["1614265330.5", "-1614265330", "soon", "١٦١٤٢٦٥٣٣٠", "9" * 5000])
def test_standard_timestamp_not_an_integer(timestamp: str) -> None:
    headers = {**sw_headers(), "webhook-timestamp": timestamp}
    with rejected(r"webhook-timestamp must be unix seconds \(an integer\)"):
        verify_standard_webhook(SW_BODY, headers, SW_SECRET, now=SW_TIMESTAMP)


def test_standard_stale_timestamp() -> None:
    with rejected(r"webhook-timestamp is too old \(more than 300 s in the past\)"):
        verify_standard_webhook(SW_BODY, sw_headers(), SW_SECRET, now=SW_TIMESTAMP + 301)


def test_standard_future_timestamp() -> None:
    with rejected(r"webhook-timestamp is too new \(more than 300 s in the future\)"):
        verify_standard_webhook(SW_BODY, sw_headers(), SW_SECRET, now=SW_TIMESTAMP - 301)


@pytest.mark.parametrize("skew", [-300, 300])
def test_standard_tolerance_is_inclusive(skew: int) -> None:
    assert verify_standard_webhook(SW_BODY, sw_headers(), SW_SECRET, now=SW_TIMESTAMP + skew) == SW_ID


def test_standard_custom_tolerance() -> None:
    with rejected(r"webhook-timestamp is too old \(more than 10 s in the past\)"):
        verify_standard_webhook(SW_BODY, sw_headers(), SW_SECRET, now=SW_TIMESTAMP + 11, tolerance=10)


def test_standard_wall_clock_by_default() -> None:
    # The published vector is from 2021: with the real clock it is stale.
    with rejected(r"webhook-timestamp is too old \(more than 300 s in the past\)"):
        verify_standard_webhook(SW_BODY, sw_headers(), SW_SECRET)


def test_standard_tampered_body() -> None:
    with rejected("no webhook-signature entry matches the body"):
        verify_standard_webhook(b'{"test": 2432232315}', sw_headers(), SW_SECRET, now=SW_TIMESTAMP)


def test_standard_wrong_secret() -> None:
    other = "whsec_" + base64.b64encode(b"another secret of 24 byte").decode()
    with rejected("no webhook-signature entry matches the body"):
        verify_standard_webhook(SW_BODY, sw_headers(), other, now=SW_TIMESTAMP)


def test_standard_signature_is_bound_to_the_timestamp() -> None:
    headers = sw_headers(timestamp=SW_TIMESTAMP + 1)
    with rejected("no webhook-signature entry matches the body"):
        verify_standard_webhook(SW_BODY, headers, SW_SECRET, now=SW_TIMESTAMP)


def test_standard_one_good_signature_among_bad_ones() -> None:
    # During secret rotation the sender signs with the old and the new secret.
    bad = "v1," + base64.b64encode(b"\x00" * 32).decode()
    headers = sw_headers(f"{bad} {SW_SIGNATURE} {bad}")
    assert verify_standard_webhook(SW_BODY, headers, SW_SECRET, now=SW_TIMESTAMP) == SW_ID


def test_standard_unknown_versions_are_ignored() -> None:
    ed25519 = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZ"
    headers = sw_headers(f"{ed25519} {SW_SIGNATURE} v2,xyz")
    assert verify_standard_webhook(SW_BODY, headers, SW_SECRET, now=SW_TIMESTAMP) == SW_ID


def test_standard_unknown_version_with_a_valid_digest_does_not_count() -> None:
    headers = sw_headers("v2," + SW_SIGNATURE[3:])
    with rejected("no webhook-signature entry matches the body"):
        verify_standard_webhook(SW_BODY, headers, SW_SECRET, now=SW_TIMESTAMP)


def test_standard_malformed_entries_are_skipped_not_crashed_on() -> None:
    # The reference library raises ValueError / binascii.Error on these (a 500).
    headers = sw_headers(f"garbage v1,not*base64 v1,a,b {SW_SIGNATURE}")
    assert verify_standard_webhook(SW_BODY, headers, SW_SECRET, now=SW_TIMESTAMP) == SW_ID
    with rejected("no webhook-signature entry matches the body"):
        verify_standard_webhook(SW_BODY, sw_headers("garbage v1,not*base64"), SW_SECRET, now=SW_TIMESTAMP)


def test_standard_body_not_utf8() -> None:
    with rejected("body is not UTF-8, so it cannot match a Standard Webhooks signature"):
        verify_standard_webhook(b"\xff\xfe", sw_headers(), SW_SECRET, now=SW_TIMESTAMP)


def test_standard_secret_without_prefix() -> None:
    bare = SW_SECRET.removeprefix("whsec_")
    assert verify_standard_webhook(SW_BODY, sw_headers(), bare, now=SW_TIMESTAMP) == SW_ID


@pytest.mark.parametrize("secret", ["whsec_", "whsec_abcde", "whsec_!!!!"])
def test_standard_unusable_secret(secret: str) -> None:
    with rejected("the configured secret is not a Standard Webhooks secret"):
        verify_standard_webhook(SW_BODY, sw_headers(), secret, now=SW_TIMESTAMP)


# --- agreement with the reference library ----------------------------------------------------


def test_reference_library_accepts_our_signatures() -> None:
    headers = sign_standard_webhook(SW_BODY, SW_SECRET, "msg_ours")
    assert Webhook(SW_SECRET).verify(SW_BODY, headers, json_parse=False) is None


def test_we_accept_the_reference_library_signatures() -> None:
    webhook = Webhook(SW_SECRET)
    now = int(time.time())
    signature = webhook.sign("msg_theirs", datetime.fromtimestamp(now, UTC), SW_BODY.decode())
    headers = {"webhook-id": "msg_theirs", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert verify_standard_webhook(SW_BODY, headers, SW_SECRET) == "msg_theirs"


def test_sign_standard_webhook_defaults_to_now() -> None:
    before = int(time.time())
    headers = sign_standard_webhook(SW_BODY, SW_SECRET, "msg_now")
    assert before <= int(headers["webhook-timestamp"]) <= int(time.time())
