"""X API v2 error bodies (RFC 7807-style "problems"), exactly as the emulator puts them on the wire.

Kept apart from the routes so tests and client code can compare against the same literals.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

INVALID_REQUEST_TYPE = "https://api.twitter.com/2/problems/invalid-request"
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"
UNSUPPORTED_AUTH_TYPE = "https://api.twitter.com/2/problems/unsupported-authentication"

TOO_LONG_DETAIL = (
    "Your Tweet text is too long. For more information on how Twitter determines text length see "
    "https://github.com/twitter/twitter-text."
)
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
REPLY_TARGET_DETAIL = "You attempted to reply to a Tweet that is deleted or not visible to you."
APP_ONLY_DETAIL = (
    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
    "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."
)


class XApiError(Exception):
    """Raised inside a route to answer with ``status`` and a ready-made ``body``."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("detail") or body.get("title") or str(status))
        self.status = status
        self.body = body


def about_blank(status: int, detail: str | None = None, title: str | None = None) -> dict[str, Any]:
    """The plain problem body X uses for 401/403/404/429/5xx: title, detail, type, status."""
    phrase = title or HTTPStatus(status).phrase
    return {"title": phrase, "detail": detail or phrase, "type": "about:blank", "status": status}


def unauthorized() -> XApiError:
    return XApiError(
        401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
    )


def too_many_requests_body() -> dict[str, Any]:
    return {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}


def forbidden(detail: str) -> XApiError:
    return XApiError(403, {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403})


def app_only_forbidden() -> XApiError:
    return XApiError(
        403,
        {
            "title": "Unsupported Authentication",
            "detail": APP_ONLY_DETAIL,
            "type": UNSUPPORTED_AUTH_TYPE,
            "status": 403,
        },
    )


def not_found_route() -> XApiError:
    return XApiError(404, about_blank(404))


def invalid_request(errors: list[dict[str, Any]]) -> XApiError:
    """400 with one entry per bad parameter: ``{"parameters": {name: [value]}, "message": ...}``."""
    return XApiError(
        400,
        {
            "errors": errors,
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": INVALID_REQUEST_TYPE,
        },
    )


def param_error(name: str, value: str, message: str) -> dict[str, Any]:
    return {"parameters": {name: [value]}, "message": message}


def body_error(message: str) -> XApiError:
    """A 400 about the JSON body itself (no query parameter to point at)."""
    return invalid_request([{"message": message}])


def resource_not_found(resource_type: str, parameter: str, value: str) -> dict[str, Any]:
    """One ``errors[]`` entry for a lookup that found nothing (v2 answers these with HTTP 200)."""
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": NOT_FOUND_TYPE,
    }
