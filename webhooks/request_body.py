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


def _clean_text(text: str) -> str:
    """Drop NUL characters (no PostgreSQL text column can hold one); refuse lone surrogates."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # "\ud800" is valid JSON but not Unicode text: no database could store it.
            raise MalformedPayloadError(
                "body contains a lone UTF-16 surrogate escape; text must be valid Unicode"
            ) from None
    return text.replace("\x00", "") if "\x00" in text else text


def _inspect(value: Any, limit: int) -> None:
    """Check nesting depth and clean every string in place, in one walk without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if level > limit:
            raise MalformedPayloadError(f"JSON nesting deeper than {limit} levels")
        if isinstance(node, dict):
            for key in list(node):
                if _clean_text(key) != key:
                    raise MalformedPayloadError("JSON object keys may not contain NUL characters")
                child = node[key]
                if isinstance(child, str):
                    node[key] = _clean_text(child)
                elif isinstance(child, dict | list):
                    stack.append((child, level + 1))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                if isinstance(child, str):
                    node[index] = _clean_text(child)
                elif isinstance(child, dict | list):
                    stack.append((child, level + 1))


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
    _inspect(data, max_depth)
    return data
