"""What every CRM connector matches authors on, and how it marks the follow-ups it writes."""

from __future__ import annotations

from connector.crm.base import FollowUp, IdentifyRequest
from connector.crm.local import normalize_handle, normalize_phone
from connector.model import Interaction


def followup_lines(followup: FollowUp, text_limit: int) -> list[str]:
    """Who said what, where and when, then the link and the marker line: a follow-up as a desk keeps it."""
    item = followup.interaction
    author = item.author
    who = f"@{author.handle.lstrip('@')}" if author.handle else author.display_name or author.platform_user_id
    text = followup.text or f"({item.kind} without text)"
    if len(text) > text_limit:
        text = text[: text_limit - 1] + "…"
    lines = [f"{who} on {item.platform} ({item.kind}, {item.created_at:%Y-%m-%d %H:%M} UTC):", text]
    if item.permalink:
        lines.append(item.permalink)
    lines.append(marker_for(item))
    return lines


def marker_for(item: Interaction) -> str:
    """The line that identifies an interaction's follow-up among a ticket's comments or notes."""
    return f"[ventanilla:{item.platform}:{item.external_id}]"


CONFIDENCE = {"social_id": 1.0, "email": 0.95, "phone": 0.9, "handle": 0.8}


def normalize(strategy: str, value: str) -> str:
    """The form values are compared in (the CRMs' text equality ignores case anyway)."""
    if strategy == "handle":
        return normalize_handle(value)
    if strategy == "email":
        return value.strip().lower()
    if strategy == "phone":
        return normalize_phone(value)
    return value.strip()


def author_values(strategy: str, request: IdentifyRequest) -> list[str]:
    """What an author offers to a strategy, normalized."""
    author = request.author
    if strategy == "social_id":
        return [author.platform_user_id] if author.platform_user_id else []
    if strategy == "handle":
        return [normalize_handle(author.handle)] if author.handle and normalize_handle(author.handle) else []
    if strategy == "email":
        return [normalize("email", e) for e in request.emails]
    if strategy == "phone":
        return [normalize_phone(p) for p in request.phones if normalize_phone(p)]
    return []


def query_values(strategy: str, request: IdentifyRequest) -> list[str]:
    """The spellings sent to SOQL: phones as written and as digits only, the rest normalized.

    Handles go without '@' (SOQL's ``IN`` on text ignores case, so one spelling does).
    """
    if strategy == "phone":
        raw = [p.strip() for p in request.phones]
        return list(dict.fromkeys([*raw, *("".join(c for c in p if c.isdigit()) for p in raw)]))
    return author_values(strategy, request)


def wire_value(value: object) -> str:
    """Field values go to desks as text, booleans in lower case (zeep and HubSpot convert the rest)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
