"""Read and check the raw request body once, before any signature or JSON work."""

from __future__ import annotations

import json
from typing import Any

from flask import Request

from webhooks.errors import MalformedPayloadError, PayloadTooLargeError, UnsupportedMediaTypeError


def read_raw_body(request: Request, max_bytes: int) -> bytes:
    """Return the exact bytes received (signatures are computed over these), bounded in size."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise PayloadTooLargeError(f"body is {length} bytes; the limit is {max_bytes}")
    body = request.stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise PayloadTooLargeError(f"body exceeds the limit of {max_bytes} bytes")
    return body


def require_json_content_type(request: Request) -> None:
    """Refuse anything that does not say it is JSON (415)."""
    mimetype = (request.mimetype or "").lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        shown = request.content_type or "none"
        raise UnsupportedMediaTypeError(f"expected Content-Type application/json, got {shown}")


def _depth(value: Any, limit: int) -> int:
    """Return the nesting depth of ``value``, stopping early once it passes ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def parse_json_object(body: bytes, max_depth: int) -> dict[str, Any]:
    """Decode a JSON object, refusing bad UTF-8, bad JSON, non-objects and deep nesting (400)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPayloadError("body is not valid UTF-8") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise MalformedPayloadError(f"JSON nesting deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise MalformedPayloadError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedPayloadError("body must be a JSON object")
    try:
        # "\ud800" is valid JSON but not Unicode text: no database could store it.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedPayloadError(
            "body contains a lone UTF-16 surrogate escape; text must be valid Unicode"
        ) from None
    if _depth(data, max_depth) > max_depth:
        raise MalformedPayloadError(f"JSON nesting deeper than {max_depth} levels")
    return data
