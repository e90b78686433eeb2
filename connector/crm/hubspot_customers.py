"""Find the contact behind each social author: batch reads where a property is unique, else search.

Strategies run in the mapping's order, each over every pending author of the batch at
once. A strategy on a unique property (``email``, or one the mapping marks ``unique``)
is a batch read by ``idProperty`` (≤ 100 values a call, no search budget). Consecutive
strategies on other properties share search requests: one ``IN`` filter group per
strategy, up to five groups a request. The contact's value and tier come back in the
same call; company properties (``company.annualrevenue``) cost one batch read of the
matched contacts' companies. A value shared by several contacts is audited, never guessed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hubspot.crm.objects import (
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
)

from connector.crm.base import IdentifyRequest, PermanentConnectorError
from connector.crm.batching import chunked
from connector.crm.hubspot_client import HubSpotClient
from connector.crm.matching import CONFIDENCE, author_values, normalize, query_values
from connector.model import Customer
from connector.store import Store
from mappings import Mapping

log = logging.getLogger("ventanilla.hubspot")
SYSTEM = "hubspot"
DEFAULT_PROPERTIES = {
    "social_id": "ventanilla_social_id",
    "handle": "twitterhandle",
    "email": "email",
    "phone": "phone",
}
ALWAYS_UNIQUE = frozenset({"email", "hs_object_id"})
CONTACT_PROPERTIES = ("email", "firstname", "lastname", "associatedcompanyid")
COMPANY = "company."  # customer_value paths starting with it are read from the contact's company
MAX_GROUPS = 5  # filterGroups per search request (protocols.md C.2)
PAGE_SIZE = 200  # the most a search page returns
# A strategy the portal refused is left out for a while, so a missing property does not
# cost a failed request (and split its shared search) in every batch.
REFUSAL_MEMORY_S = 600.0
#: Contact ids per normalized value, for one strategy.
Candidates = dict[str, set[str]]


@dataclass(frozen=True, slots=True)
class Strategy:
    """A mapping strategy resolved for HubSpot: which contact property, read or searched."""

    kind: str
    property: str
    platforms: tuple[str, ...] | None
    unique: bool

    def applies(self, request: IdentifyRequest) -> bool:
        return self.kind in request.strategies and (
            self.platforms is None or request.author.platform in self.platforms
        )


def search_values(strategy: Strategy, request: IdentifyRequest) -> list[str]:
    """The spellings sent in ``IN`` (lower case, as HubSpot requires for text properties).

    A handle is sent with and without its '@', whichever way the portal stores it.
    """
    values = [v.lower() for v in query_values(strategy.kind, request)]
    if strategy.kind == "handle":
        values += [f"@{v}" for v in values]
    return values


class CustomerFinder:
    """Runs the mapping's strategies for a batch of authors against one portal."""

    def __init__(self, client: HubSpotClient, mapping: Mapping, store: Store, desk: str) -> None:
        self.client = client
        self.mapping = mapping
        self.store = store
        self.desk = desk
        self.batch_size = client.settings.batch_size
        value = mapping.customer_value
        paths = [p for p in ((value.field, value.tier_field) if value else ()) if p]
        self.contact_value_fields = [p for p in paths if not p.startswith(COMPANY)]
        self.company_fields = [p.removeprefix(COMPANY) for p in paths if p.startswith(COMPANY)]
        chosen = mapping.customer_match or ()
        self.strategies = tuple(
            Strategy(
                s.strategy,
                s.field or DEFAULT_PROPERTIES[s.strategy],
                s.platforms,
                s.unique or (s.field or DEFAULT_PROPERTIES[s.strategy]) in ALWAYS_UNIQUE,
            )
            for s in chosen
        ) or tuple(Strategy(k, p, None, p in ALWAYS_UNIQUE) for k, p in DEFAULT_PROPERTIES.items())
        self._refused: dict[Strategy, float] = {}  # strategy → when to try it again (monotonic)
        if mapping.create_unmatched and not any(s.unique and s.kind != "email" for s in self.strategies):
            log.warning(
                "desk %s: create_unmatched needs a unique social_id or handle property; "
                "no contact will be created",
                desk,
            )

    def properties(self, *extra: str) -> list[str]:
        return list(dict.fromkeys([*CONTACT_PROPERTIES, *self.contact_value_fields, *extra]))

    # --- matching ------------------------------------------------------------------------

    def find(self, requests: Sequence[IdentifyRequest]) -> dict[str, Customer]:
        found: dict[str, Customer] = {}
        contacts: dict[str, dict[str, str]] = {}
        for group in self._groups():
            pending = {s: [r for r in requests if r.author.key not in found and s.applies(r)] for s in group}
            candidates = self._fetch(group, pending, contacts)
            for strategy in group:
                for request in pending[strategy]:
                    if request.author.key in found or strategy not in candidates:
                        continue
                    keys = author_values(strategy.kind, request)
                    ids = sorted({i for key in keys for i in candidates[strategy].get(key, ())})
                    if len(ids) > 1:
                        self._ambiguous(request, strategy, ids)
                    elif ids:
                        found[request.author.key] = self._customer(ids[0], contacts[ids[0]], strategy.kind)
        if self.mapping.create_unmatched:
            found.update(self._create(r for r in requests if r.author.key not in found))
        return self._with_companies(found, contacts) if self.company_fields else found

    def _groups(self) -> list[list[Strategy]]:
        """Each unique strategy alone; runs of searched strategies together (refused ones left out)."""
        now = time.monotonic()
        groups: list[list[Strategy]] = []
        for strategy in self.strategies:
            if self._refused.get(strategy, 0.0) > now:
                continue
            if not strategy.unique and groups and not groups[-1][0].unique:
                groups[-1].append(strategy)
            else:
                groups.append([strategy])
        return groups

    def _fetch(
        self,
        group: list[Strategy],
        pending: dict[Strategy, list[IdentifyRequest]],
        contacts: dict[str, dict[str, str]],
    ) -> dict[Strategy, Candidates]:
        """Candidates per strategy; a strategy the portal refuses is left out (and reported)."""
        try:
            if group[0].unique:
                return {group[0]: self._read(group[0], pending[group[0]], contacts)}
            return self._search(group, pending, contacts)
        except PermanentConnectorError as exc:
            if len(group) > 1:  # find out which strategy the portal refuses; run the others
                result: dict[Strategy, Candidates] = {}
                for strategy in group:
                    result.update(self._fetch([strategy], pending, contacts))
                return result
            self._refused[group[0]] = time.monotonic() + REFUSAL_MEMORY_S
            self._strategy_failed(group[0], exc)
            return {}

    def _read(
        self, strategy: Strategy, pending: list[IdentifyRequest], contacts: dict[str, dict[str, str]]
    ) -> Candidates:
        values = sorted({v for r in pending for v in author_values(strategy.kind, r)})
        records: list[dict[str, Any]] = []
        for chunk in chunked(values, self.batch_size):
            # Values no contact holds come back as a 207 OBJECT_NOT_FOUND error: not a failure.
            answer = self.client.batch_read(
                "contacts", chunk, self.properties(strategy.property), id_property=strategy.property
            )
            records += answer.results
        return self._candidates(strategy, records, contacts)

    def _search(
        self,
        group: list[Strategy],
        pending: dict[Strategy, list[IdentifyRequest]],
        contacts: dict[str, dict[str, str]],
    ) -> dict[Strategy, Candidates]:
        filters: list[FilterGroup] = []
        for strategy in group:
            values = sorted({v for r in pending[strategy] for v in search_values(strategy, r)})
            for chunk in chunked(values, self.client.settings.search_in_values):
                filters.append(
                    FilterGroup(
                        filters=[Filter(property_name=strategy.property, operator="IN", values=list(chunk))]
                    )
                )
        properties = self.properties(*(s.property for s in group))
        records: list[dict[str, Any]] = []
        for groups in chunked(filters, MAX_GROUPS):
            records += self._search_all(list(groups), properties)
        return {s: self._candidates(s, records, contacts) for s in group if pending[s]}

    def _search_all(self, groups: list[FilterGroup], properties: list[str]) -> list[dict[str, Any]]:
        """Every page of one search (identity lookups stay far below the 10,000-result cap)."""
        records: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            request = PublicObjectSearchRequest(
                filter_groups=groups, properties=properties, limit=PAGE_SIZE, after=after
            )
            page = self.client.search("contacts", request)
            records += [r for r in page.get("results") or [] if isinstance(r, dict)]
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return records

    def _candidates(
        self, strategy: Strategy, records: Iterable[dict[str, Any]], contacts: dict[str, dict[str, str]]
    ) -> Candidates:
        groups: Candidates = {}
        for record in records:
            properties = record.get("properties") or {}
            value = properties.get(strategy.property)
            if record.get("id") is None or value is None:
                continue
            contact_id = str(record["id"])
            contacts[contact_id] = {**contacts.get(contact_id, {}), **properties}
            groups.setdefault(normalize(strategy.kind, str(value)), set()).add(contact_id)
        return groups

    def _customer(self, contact_id: str, properties: dict[str, Any], kind: str) -> Customer:
        value_spec = self.mapping.customer_value
        raw_value = properties.get(value_spec.field) if value_spec else None
        tier = properties.get(value_spec.tier_field) if value_spec and value_spec.tier_field else None
        name = " ".join(str(properties[p]) for p in ("firstname", "lastname") if properties.get(p)) or None
        return Customer(
            system=SYSTEM,
            customer_id=contact_id,
            account_id=properties.get("associatedcompanyid") or None,
            name=name,
            email=properties.get("email") or None,
            value=_number(raw_value),
            tier=str(tier) if tier not in (None, "") else None,
            matched_by=kind,
            confidence=CONFIDENCE[kind],
        )

    def _with_companies(
        self, found: dict[str, Customer], contacts: dict[str, dict[str, str]]
    ) -> dict[str, Customer]:
        """Fill value and tier from the matched contacts' companies: one batch read per 100."""
        ids = sorted({c.account_id for c in found.values() if c.account_id})
        companies: dict[str, dict[str, Any]] = {}
        for chunk in chunked(ids, self.batch_size):
            for record in self.client.batch_read("companies", chunk, self.company_fields).results:
                companies[str(record.get("id"))] = {
                    f"{COMPANY}{k}": v for k, v in (record.get("properties") or {}).items()
                }
        result = {}
        for key, customer in found.items():
            properties = {
                **contacts.get(customer.customer_id or "", {}),
                **companies.get(customer.account_id or "", {}),
            }
            result[key] = self._customer(customer.customer_id or "", properties, customer.matched_by)
        return result

    def _strategy_failed(self, strategy: Strategy, exc: PermanentConnectorError) -> None:
        log.error(
            "desk %s: strategy %s on %s refused by HubSpot, skipped for %.0f min (check the mapping "
            "with `ventanilla mappings validate --live`): %s",
            self.desk,
            strategy.kind,
            strategy.property,
            REFUSAL_MEMORY_S / 60,
            exc,
        )
        self.store.audit_event(
            SYSTEM,
            "identify.strategy_failed",
            f"{SYSTEM}:{self.desk}",
            {"strategy": strategy.kind, "field": strategy.property, "error": str(exc)},
        )

    def _ambiguous(self, request: IdentifyRequest, strategy: Strategy, ids: list[str]) -> None:
        log.info(
            "%s: %s matches %d contacts by %s; not guessing",
            self.desk,
            request.author.key,
            len(ids),
            strategy.kind,
        )
        self.store.audit_event(
            SYSTEM,
            "customer.ambiguous",
            f"{self.desk}:{request.author.key}",
            {"strategy": strategy.kind, "field": strategy.property, "candidates": ids, "confidence": 0},
        )

    # --- create_unmatched ------------------------------------------------------------------

    def _create(self, unmatched: Iterable[IdentifyRequest]) -> dict[str, Customer]:
        """Upsert contacts on the first unique social property that applies (so never twice)."""
        plans: dict[str, list[tuple[IdentifyRequest, Strategy, str]]] = {}
        for request in unmatched:
            for strategy in self.strategies:
                values = author_values(strategy.kind, request)
                creatable = strategy.unique and strategy.kind in ("social_id", "handle")
                if creatable and values and strategy.applies(request):
                    plans.setdefault(strategy.property, []).append((request, strategy, values[0]))
                    break
        created: dict[str, Customer] = {}
        for property_name, planned in plans.items():
            for chunk in chunked(planned, self.batch_size):
                inputs = [
                    SimplePublicObjectBatchInputUpsert(
                        id_property=property_name,
                        id=value,
                        properties={
                            property_name: value,
                            "firstname": (r.author.display_name or r.author.handle or value)[:80],
                        },
                    )
                    for r, _, value in chunk
                ]
                answer = self.client.batch_upsert("contacts", inputs)
                by_value = {
                    str((res.get("properties") or {}).get(property_name)): str(res["id"])
                    for res in answer.results
                    if res.get("id") is not None
                }
                for request, strategy, value in chunk:
                    contact_id = by_value.get(value)
                    if contact_id is None:
                        log.warning("%s: could not create a contact for %s", self.desk, request.author.key)
                        continue
                    created[request.author.key] = Customer(
                        SYSTEM,
                        contact_id,
                        name=request.author.display_name,
                        matched_by=strategy.kind,
                        confidence=1.0,
                    )
                    self.store.audit_event(
                        SYSTEM,
                        "customer.created",
                        f"{self.desk}:{request.author.key}",
                        {"contact_id": contact_id},
                    )
        return created


def _number(value: Any) -> float | None:
    """A number property (a string on the wire) as float; None when empty or not a number."""
    try:
        return float(value) if value not in (None, "") and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
