"""Identify authors in a desk's CRM, in batches, through the identity cache."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict

from connector.crm.base import Connector, IdentifyRequest
from connector.model import Customer, Interaction
from connector.store import Store

IDENTITY_CACHE_TTL_S = 3600
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d .-]{7,16}\d(?!\w)")


def contact_details(interactions: Sequence[Interaction]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Emails and phones a customer gave in PRIVATE messages (never read from public text)."""
    emails: list[str] = []
    phones: list[str] = []
    for item in interactions:
        if item.kind != "direct_message":
            continue
        emails.extend(match.lower() for match in _EMAIL.findall(item.text))
        phones.extend(_PHONE.findall(item.text))
    return tuple(dict.fromkeys(emails)), tuple(dict.fromkeys(phones))


def identify_authors(
    store: Store,
    desk: str,
    connector: Connector,
    interactions: Sequence[Interaction],
    strategies: tuple[str, ...],
) -> dict[str, Customer]:
    """Return the customer for each author key; unmatched authors get ``Customer.unknown``."""
    by_author: dict[str, list[Interaction]] = {}
    for item in interactions:
        if item.author.platform_user_id:  # some events (Instagram mentions) name no author at all
            by_author.setdefault(item.author.key, []).append(item)
    cacheable = getattr(connector, "cacheable", True)
    cached = store.cached_customers(desk, list(by_author)) if cacheable else {}
    result = {key: Customer(**value) for key, value in cached.items()}
    requests = []
    for key, items in by_author.items():
        if key in result:
            continue
        emails, phones = contact_details(items)
        requests.append(IdentifyRequest(items[0].author, emails, phones, strategies))
    if requests:
        found = connector.find_customers(requests)
        fresh = {r.author.key: found.get(r.author.key, Customer.unknown(connector.system)) for r in requests}
        if cacheable:
            ttl = float(getattr(connector, "identity_cache_ttl_s", IDENTITY_CACHE_TTL_S))
            store.cache_customers(desk, {k: asdict(v) for k, v in fresh.items()}, ttl)
        result.update(fresh)
    return result
