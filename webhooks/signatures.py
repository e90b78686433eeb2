"""Verify (and, for tests and the demo, produce) the signatures of every inbound webhook.

Each check runs on the raw body bytes, before any JSON parsing, and compares in constant
time. Every failure is a :class:`SignatureError` (401) whose message names the failure
mode, never the expected signature.

Standard Webhooks: the ``standardwebhooks`` reference library decodes the secret (with or
without ``whsec_``) and computes the ``v1`` signature, but its ``Webhook.verify()`` is not
called directly, because it (a) hard-codes the wall clock and a 5-minute window, so the
spec's published test vector and clock-skew tests cannot run through it, (b) raises a
bare ``ValueError`` on a signature entry without a comma and ``binascii.Error`` on bad
base64 (a 500 instead of a 401), and (c) raises ``UnicodeDecodeError`` on a body that is
not UTF-8. The header, clock and comparison checks below follow the spec (F.2) exactly;
``tests/test_signatures.py`` checks that both sides agree on real signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from webhooks.errors import SignatureError

META_SIGNATURE_HEADER = "X-Hub-Signature-256"
X_SIGNATURE_HEADER = "x-twitter-webhooks-signature"
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
DEFAULT_TOLERANCE_SECONDS = 300
_SHA256_PREFIX = "sha256="


def _hmac_sha256(key: str, message: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()


def _sha256_base64(key: str, message: bytes) -> str:
    return _SHA256_PREFIX + base64.b64encode(_hmac_sha256(key, message)).decode("ascii")


def _strip_scheme(header_value: str | None, header: str) -> str:
    """Return what follows ``sha256=``; Meta and X both prefix their signatures so."""
    if not header_value:
        raise SignatureError(f"missing {header} header")
    if not header_value.startswith(_SHA256_PREFIX):
        raise SignatureError(f"{header} must start with {_SHA256_PREFIX!r}")
    return header_value[len(_SHA256_PREFIX) :]


# --- Meta ------------------------------------------------------------------------------


def verify_meta_signature(body: bytes, header_value: str | None, app_secret: str) -> None:
    """Check ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``."""
    hex_digest = _strip_scheme(header_value, META_SIGNATURE_HEADER)
    try:
        received = bytes.fromhex(hex_digest)
    except ValueError:
        raise SignatureError(f"{META_SIGNATURE_HEADER} is not a hex digest") from None
    if not hmac.compare_digest(received, _hmac_sha256(app_secret, body)):
        raise SignatureError(f"{META_SIGNATURE_HEADER} does not match the body")


def sign_meta(body: bytes, app_secret: str) -> dict[str, str]:
    """Return the headers Meta would send with ``body``."""
    return {META_SIGNATURE_HEADER: _SHA256_PREFIX + _hmac_sha256(app_secret, body).hex()}


# --- X ---------------------------------------------------------------------------------


def x_crc_response_token(crc_token: str, consumer_secret: str) -> str:
    """Answer X's CRC challenge: ``sha256=`` + base64 HMAC-SHA256(consumer secret, token)."""
    return _sha256_base64(consumer_secret, crc_token.encode("utf-8"))


def verify_x_signature(body: bytes, header_value: str | None, consumer_secret: str) -> None:
    """Check ``x-twitter-webhooks-signature: sha256=<base64 HMAC>`` (base64, unlike Meta's hex)."""
    encoded = _strip_scheme(header_value, X_SIGNATURE_HEADER)
    try:
        received = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise SignatureError(f"{X_SIGNATURE_HEADER} is not valid base64") from None
    if not hmac.compare_digest(received, _hmac_sha256(consumer_secret, body)):
        raise SignatureError(f"{X_SIGNATURE_HEADER} does not match the body")


def sign_x(body: bytes, consumer_secret: str) -> dict[str, str]:
    """Return the headers X would send with ``body``."""
    return {X_SIGNATURE_HEADER: _sha256_base64(consumer_secret, body)}


# --- Standard Webhooks -------------------------------------------------------------------


def _standard_webhook(secret: str) -> Webhook:
    """Build the reference library's signer; it strips ``whsec_`` and base64-decodes the rest."""
    try:
        return Webhook(secret)
    except (EmptyWebhookSecretError, binascii.Error, ValueError):
        # A configuration problem, but the sender still gets only a 401.
        raise SignatureError("the configured secret is not a Standard Webhooks secret") from None


def verify_standard_webhook(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Verify a Standard Webhooks delivery and return its ``webhook-id`` (the idempotency key).

    ``now`` (unix seconds) defaults to the wall clock; the timestamp must lie within
    ``tolerance`` seconds of it in both directions, and at least one ``v1,`` entry of the
    space-separated ``webhook-signature`` list must match (several during secret rotation;
    other versions such as ``v1a`` are ignored).
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    missing = [name for name in STANDARD_HEADERS if not lowered.get(name)]
    if missing:
        raise SignatureError(f"missing Standard Webhooks headers: {', '.join(missing)}")
    msg_id, timestamp_text, signatures = (lowered[name] for name in STANDARD_HEADERS)
    # Bounded length: int() of thousands of digits is slow, and past 4300 digits it raises.
    if not (timestamp_text.isascii() and timestamp_text.isdigit() and len(timestamp_text) <= 12):
        raise SignatureError("webhook-timestamp must be unix seconds (an integer)")
    timestamp = int(timestamp_text)
    clock = time.time() if now is None else now
    if timestamp < clock - tolerance:
        raise SignatureError(f"webhook-timestamp is too old (more than {tolerance} s in the past)")
    if timestamp > clock + tolerance:
        raise SignatureError(f"webhook-timestamp is too new (more than {tolerance} s in the future)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # The signed content is UTF-8 text; bytes that are not cannot carry a valid signature.
        raise SignatureError("body is not UTF-8, so it cannot match a Standard Webhooks signature") from None
    expected = _v1_digest(_standard_webhook(secret), msg_id, timestamp, text)
    if not any(hmac.compare_digest(candidate, expected) for candidate in _v1_signatures(signatures)):
        raise SignatureError("no webhook-signature entry matches the body")
    return msg_id


def _v1_digest(webhook: Webhook, msg_id: str, timestamp: int, text: str) -> bytes:
    signed = webhook.sign(msg_id=msg_id, timestamp=datetime.fromtimestamp(timestamp, UTC), data=text)
    return base64.b64decode(signed.partition(",")[2])


def _v1_signatures(header_value: str) -> list[bytes]:
    """Decode every well-formed ``v1,<base64>`` entry; unknown versions and junk are skipped."""
    found = []
    for entry in header_value.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except binascii.Error:
            continue
    return found


def sign_standard_webhook(
    body: bytes, secret: str, msg_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """Return the three Standard Webhooks headers for ``body`` (timestamp defaults to now)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = _standard_webhook(secret).sign(
        msg_id=msg_id, timestamp=datetime.fromtimestamp(stamp, UTC), data=body.decode("utf-8")
    )
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature}
