"""One exception hierarchy for every inbound endpoint, rendered as a JSON envelope."""

from __future__ import annotations

from typing import Any


class WebhookError(Exception):
    """Base of every error an endpoint answers with; never a 500 for bad input."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON error envelope ``{"error": code, "message": text}``."""
        return {"error": self.code, "message": self.message}


class MalformedPayloadError(WebhookError):
    status_code = 400
    code = "malformed"


class SignatureError(WebhookError):
    status_code = 401
    code = "invalid_signature"


class UnauthorizedError(WebhookError):
    status_code = 401
    code = "unauthorized"


class HandshakeError(WebhookError):
    status_code = 403
    code = "handshake_failed"


class NotFoundError(WebhookError):
    status_code = 404
    code = "not_found"


class ConflictError(WebhookError):
    status_code = 409
    code = "conflict"


class PayloadTooLargeError(WebhookError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(WebhookError):
    status_code = 415
    code = "unsupported_media_type"
