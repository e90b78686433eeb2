"""Verify HubSpot webhook signatures (v3, and v1/v2 where a connection accepts them).

HubSpot's own SDK computes the digests (``hubspot.utils.signature.Signature``); this module
adds what the SDK leaves to the caller: rebuilding the exact URI HubSpot called, the clock
window in both directions, constant-time comparison and one typed error per failure.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Mapping, Sequence

from hubspot.utils.signature import Signature

from webhooks.errors import SignatureError

V3_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
LEGACY_HEADER = "X-HubSpot-Signature"
VERSION_HEADER = "X-HubSpot-Signature-Version"
TOLERANCE_S = 300
# HubSpot signs the URI with these escapes decoded (its docs list them); others stay encoded.
_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ESCAPE = re.compile("|".join(_DECODED), re.IGNORECASE)


def signed_uri(uri: str) -> str:
    """The URI as HubSpot puts it in the v3 source string."""
    return _ESCAPE.sub(lambda m: _DECODED[m.group(0).upper()], uri)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify_hubspot_signature(
    body: bytes,
    headers: Mapping[str, str],
    method: str,
    uri: str,
    secrets: Sequence[str],
    versions: Sequence[str] = ("v3",),
    now: float | None = None,
) -> str:
    """Accept the request if one configured secret signs it; return the version that matched."""
    if not secrets:
        raise SignatureError("no HubSpot client secret is configured")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("body is not UTF-8, so it cannot carry a valid signature") from None
    v3 = _header(headers, V3_HEADER)
    if v3 is not None:
        if "v3" not in versions:
            raise SignatureError("v3 signatures are not accepted by this connection")
        timestamp = _checked_timestamp(_header(headers, TIMESTAMP_HEADER), now)
        for secret in secrets:
            expected = Signature.get_signature(secret, text, "v3", signed_uri(uri), method.upper(), timestamp)
            if _same(expected, v3):
                return "v3"
        raise SignatureError(f"{V3_HEADER} does not match the request")
    legacy = _header(headers, LEGACY_HEADER)
    version = (_header(headers, VERSION_HEADER) or "v1").lower()
    if legacy is None:
        raise SignatureError(f"missing {V3_HEADER} header")
    if version not in ("v1", "v2") or version not in versions:
        raise SignatureError(f"signature version {version} is not accepted; send {V3_HEADER}")
    for secret in secrets:
        expected = Signature.get_signature(secret, text, version, uri, method.upper())
        if _same(expected, legacy.lower()):
            return version
    raise SignatureError(f"{LEGACY_HEADER} does not match the request")


def _checked_timestamp(value: str | None, now: float | None) -> str:
    if value is None:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    if not value.isdigit() or len(value) > 16:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be epoch milliseconds")
    drift = (now if now is not None else time.time()) - int(value) / 1000
    if drift > TOLERANCE_S:
        raise SignatureError(f"{TIMESTAMP_HEADER} is too old (more than {TOLERANCE_S} s in the past)")
    if drift < -TOLERANCE_S:
        raise SignatureError(f"{TIMESTAMP_HEADER} is too far in the future (more than {TOLERANCE_S} s)")
    return value


def _same(expected: str, received: str) -> bool:
    return hmac.compare_digest(expected.encode(), received.encode())


def sign_hubspot_v3(
    body: bytes, secret: str, uri: str, method: str = "POST", timestamp_ms: int | None = None
) -> dict[str, str]:
    """Headers HubSpot would send (for tests and the demo)."""
    stamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    signature = Signature.get_signature(secret, body.decode("utf-8"), "v3", signed_uri(uri), method, stamp)
    return {V3_HEADER: signature, TIMESTAMP_HEADER: stamp}
