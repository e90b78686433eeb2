"""HubSpot emulator: the JSON error bodies HubSpot answers with, and the exception that carries them.

Shapes follow docs/protocols.md C.7 and bodies captured from the live API (see each function).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
    "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
# Two spaces after the first sentence, as the live API writes it.
NOT_FOUND_MESSAGE = "Object not found.  objectId are usually numeric."

RATE_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}

_FAULT_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("Bad Request", "VALIDATION_ERROR"),
    403: (
        "This app hasn't been granted all required scopes to make this call. Read more about required "
        "scopes here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
    ),
    404: ("resource not found", "OBJECT_NOT_FOUND"),
    409: ("Conflict", "CONFLICT"),
    423: ("The resource is locked. Wait at least 2 seconds before retrying.", "LOCKED"),
    500: ("internal error", "INTERNAL_ERROR"),
    502: ("Bad Gateway", "BAD_GATEWAY"),
    503: ("Service Unavailable", "SERVICE_UNAVAILABLE"),
    504: ("Gateway Timeout", "GATEWAY_TIMEOUT"),
}


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    """``{"status":"error","message":…,"correlationId":…,"category":…}`` plus optional ``context`` etc."""
    body: dict[str, Any] = {"status": "error", "message": message, "correlationId": correlation_id()}
    body.update({k: v for k, v in extra.items() if v is not None})
    body["category"] = category
    return body


class ApiError(Exception):
    """A whole-request failure: an HTTP status and HubSpot's JSON error body."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(f"{status} {category}: {message}")
        self.status = status
        self.body = error_body(message, category, **extra)


def invalid_property(name: str, error: str, message: str, portal_id: int) -> dict[str, Any]:
    """One entry of the "Property values were not valid" list (key order as the live API sends it)."""
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
        "portalId": portal_id,
    }


def validation_error(entries: list[dict[str, Any]]) -> ApiError:
    """400 VALIDATION_ERROR whose message embeds the entries as compact JSON."""
    listing = json.dumps(entries, separators=(",", ":"), ensure_ascii=False)
    return ApiError(400, f"Property values were not valid: {listing}", "VALIDATION_ERROR")


def bad_request(message: str, **extra: Any) -> ApiError:
    return ApiError(400, message, "VALIDATION_ERROR", **extra)


def missing_fields(fields: list[str]) -> ApiError:
    """The body deserializer's complaint when a required request field is absent."""
    return bad_request(
        f"Invalid input JSON on line 1, column 2. Some required fields were not set: [{', '.join(fields)}]"
    )


def object_not_found(object_id: str) -> ApiError:
    return ApiError(404, NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND", context={"id": [object_id]})


def resource_not_found() -> ApiError:
    return ApiError(404, "resource not found", "OBJECT_NOT_FOUND")


def unauthorized_body() -> dict[str, Any]:
    return error_body(AUTH_MESSAGE, "INVALID_AUTHENTICATION")


def rate_limit_body(policy: str) -> dict[str, Any]:
    """The 429 body: ``errorType`` and ``policyName`` instead of ``category`` (protocols.md C.7)."""
    return {
        "status": "error",
        "message": RATE_LIMIT_MESSAGES.get(policy, RATE_LIMIT_MESSAGES["TEN_SECONDLY_ROLLING"]),
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "requestId": correlation_id(),
    }


def fault_body(status: int) -> dict[str, Any]:
    """A default body for an injected failure with this status, in HubSpot's error format."""
    if status == 401:
        return unauthorized_body()
    if status == 429:
        return rate_limit_body("TEN_SECONDLY_ROLLING")
    message, category = _FAULT_DEFAULTS.get(status, ("error", "ERROR"))
    return error_body(message, category)


def not_found_in_batch(object_def_upper: str, ids: list[str]) -> dict[str, Any]:
    """The per-batch error for missing records, exactly as the live API sends it in a 207.

    Note: no ``errors`` or ``links`` keys, although the SDK's ``StandardError`` model requires them.
    """
    return {
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": f"Could not get some {object_def_upper} objects, they may be deleted or not exist. "
        "Check that ids are valid.",
        "context": {"ids": ids},
    }
