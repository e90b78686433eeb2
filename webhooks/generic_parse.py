"""Turn a generic (Standard Webhooks) delivery, one canonical interaction as JSON, into a batch.

For listening tools, review sites and in-house forms that can already speak our model.
The body is validated against :data:`GENERIC_INTERACTION_SCHEMA` (JSON Schema 2020-12,
copied into ``openapi.yaml``), so every refusal names the field at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from connector.model import KINDS, PLATFORMS, Author, Engagement, InboundBatch, Interaction, thread_key_for
from webhooks.errors import MalformedPayloadError

_ID = {"type": "string", "minLength": 1, "maxLength": 255}
# RFC 3339 date-time; jsonschema checks "format" only with optional extras, so the pattern
# enforces it everywhere and the code below rejects impossible dates (month 13).
_RFC3339 = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
# A count the platform gave, or null when it did not say; never a guess.
_COUNT = {"type": ["integer", "null"], "minimum": 0}

GENERIC_INTERACTION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "GenericInteraction",
    "description": "One interaction in Ventanilla's canonical form, posted by a configured source.",
    "type": "object",
    "additionalProperties": False,
    "required": ["platform", "kind", "external_id", "author", "text", "created_at"],
    "properties": {
        "platform": {"type": "string", "enum": list(PLATFORMS)},
        "kind": {"type": "string", "enum": list(KINDS)},
        "external_id": {**_ID, "description": "The platform's id; (platform, external_id) is unique."},
        "author": {
            "type": "object",
            "additionalProperties": False,
            "required": ["platform_user_id"],
            "properties": {
                "platform_user_id": _ID,
                "handle": {"type": ["string", "null"], "maxLength": 255},
                "display_name": {"type": ["string", "null"], "maxLength": 255},
                "followers_count": {"type": ["integer", "null"], "minimum": 0},
                "verified": {"type": "boolean"},
                "profile_url": {"type": ["string", "null"], "maxLength": 2048},
            },
        },
        "text": {"type": "string", "maxLength": 100_000},
        "created_at": {"type": "string", "format": "date-time", "pattern": _RFC3339},
        "thread_key": {**_ID, "maxLength": 512, "description": "Defaults to platform:brand:root."},
        "parent_external_id": {"type": ["string", "null"], "maxLength": 255},
        "brand_account_id": {**_ID, "maxLength": 128, "description": "Defaults to the source name."},
        "language": {"type": ["string", "null"], "maxLength": 16},
        "permalink": {"type": ["string", "null"], "maxLength": 2048},
        "raw": {"type": "object"},
        "engagement": {
            "type": ["object", "null"],
            "description": "Counts the platform shows for this item; leave out what it does not say.",
            "additionalProperties": False,
            "properties": {"replies": _COUNT, "reactions": _COUNT, "shares": _COUNT},
        },
    },
}

_VALIDATOR = Draft202012Validator(GENERIC_INTERACTION_SCHEMA)
_MAX_REPORTED_ERRORS = 5
_MAX_MESSAGE = 200


def validate_generic(payload: Mapping[str, Any]) -> None:
    """Raise :class:`MalformedPayloadError` listing every schema violation, each with its field."""
    errors = sorted(_VALIDATOR.iter_errors(payload), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        shown = "; ".join(_describe(error) for error in errors[:_MAX_REPORTED_ERRORS])
        more = len(errors) - _MAX_REPORTED_ERRORS
        raise MalformedPayloadError(shown + (f"; and {more} more" if more > 0 else ""))


def _describe(error: ValidationError) -> str:
    path = ".".join(str(part) for part in error.absolute_path) or "(body)"
    if error.validator == "pattern":
        # Only created_at has a pattern.
        text = f"{_preview(error.instance)} is not an RFC 3339 date-time"
    elif error.validator == "maxLength":
        text = f"longer than {error.validator_value} characters"
    elif error.validator in ("type", "minimum") and path.startswith("engagement."):
        text = f"{_preview(error.instance)} is not a count (an integer >= 0, or null when unknown)"
    elif error.validator == "enum" and isinstance(error.validator_value, list):
        text = f"expected one of {', '.join(str(v) for v in error.validator_value)}"
    else:
        text = error.message
    # jsonschema's messages quote the offending value: never echo 100 kB back (or into the log).
    return f"{path}: {text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + '…'}"


def _preview(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:40] + "…"


def _parse_created_at(value: str) -> datetime:
    try:
        # 3.11's fromisoformat takes "Z" but not a lowercase "t"/"z", which RFC 3339 allows.
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: "0001-01-01T00:00:00+01:00" has no UTC year
        raise MalformedPayloadError(f"created_at: {value!r} is not a valid date-time") from None


def parse_generic(payload: Mapping[str, Any], source: str) -> InboundBatch:
    """Validate one canonical interaction posted by ``source`` and return it as a batch."""
    validate_generic(payload)
    platform: str = payload["platform"]
    external_id: str = payload["external_id"]
    brand_account_id: str = payload.get("brand_account_id") or source
    parent: str | None = payload.get("parent_external_id")
    root = parent or external_id
    author: Mapping[str, Any] = payload["author"]
    interaction = Interaction(
        platform=platform,
        kind=payload["kind"],
        external_id=external_id,
        # Without a thread key from the source, the parent (or the item itself) is the root.
        thread_key=payload.get("thread_key") or thread_key_for(platform, brand_account_id, root),
        parent_external_id=parent,
        brand_account_id=brand_account_id,
        author=Author(
            platform=platform,
            platform_user_id=author["platform_user_id"],
            handle=author.get("handle"),
            display_name=author.get("display_name"),
            followers_count=author.get("followers_count"),
            verified=bool(author.get("verified", False)),
            profile_url=author.get("profile_url"),
        ),
        text=payload["text"],
        language=payload.get("language"),
        created_at=_parse_created_at(payload["created_at"]),
        permalink=payload.get("permalink"),
        raw=dict(payload.get("raw") or payload),
        engagement=_engagement(payload.get("engagement")),
    )
    return InboundBatch(interactions=(interaction,))


def _engagement(value: Mapping[str, Any] | None) -> Engagement | None:
    """The optional counts (already checked by the schema); None when none is given.

    JSON Schema counts ``5.0`` as an integer, so each count is made a Python int here.
    """
    if not value:
        return None
    counts = [value.get(key) for key in ("replies", "reactions", "shares")]
    return Engagement.of(*(None if count is None else int(count) for count in counts))
