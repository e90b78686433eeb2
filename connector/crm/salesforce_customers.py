"""Find the Contact behind each social author: ordered strategies, one SOQL query per chunk.

A strategy's query covers every author of the batch at once (``IN`` lists of at most
``query_chunk`` values) and reads the customer's value through relationships in the same
query. A value shared by several Contacts is ambiguous: it is audited and never guessed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from connector.crm.base import IdentifyRequest, PermanentConnectorError
from connector.crm.batching import chunked
from connector.crm.matching import CONFIDENCE, author_values, normalize, query_values
from connector.crm.salesforce_client import SalesforceClient
from connector.crm.salesforce_soql import personas, select_where_in
from connector.model import Customer
from connector.store import Store
from mappings import Mapping, MatchStrategy

log = logging.getLogger("ventanilla.salesforce")
SYSTEM = "salesforce"
PERSONA = "SocialPersona"  # the special `field` that searches SocialPersona records
# Salesforce's SocialPersona.Provider picklist names the networks its own way.
PROVIDERS = {"x": "Twitter", "facebook": "Facebook", "messenger": "Facebook", "instagram": "Instagram"}
DEFAULT_STRATEGIES = (
    MatchStrategy("social_id", PERSONA),
    MatchStrategy("email", "Email"),
    MatchStrategy("phone", "Phone"),
)
#: Contact (or SocialPersona parent) ids per normalized value.
Candidates = dict[str, frozenset[str]]
_DEFAULT_FIELDS = {"social_id": PERSONA, "handle": PERSONA, "email": "Email", "phone": "Phone"}


def lookup(record: dict[str, Any] | None, path: str) -> Any:
    """Read ``Account.AnnualRevenue`` from a query record (relationships come back nested)."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class CustomerFinder:
    """Runs the mapping's strategies for a batch of authors against one org."""

    def __init__(
        self, client: SalesforceClient, mapping: Mapping, store: Store, desk: str, chunk: int
    ) -> None:
        self.client = client
        self.mapping = mapping
        self.store = store
        self.desk = desk
        self.chunk = chunk
        value = mapping.customer_value
        self.value_fields = [f for f in (value.field, value.tier_field) if f] if value else []
        self.strategies = (
            tuple(
                MatchStrategy(s.strategy, s.field or _DEFAULT_FIELDS[s.strategy], s.platforms)
                for s in mapping.customer_match
            )
            or DEFAULT_STRATEGIES
        )

    def contact_fields(self, *extra: str) -> list[str]:
        return ["Id", "Name", "Email", "AccountId", *self.value_fields, *extra]

    def find(self, requests: Sequence[IdentifyRequest]) -> dict[str, Customer]:
        found: dict[str, Customer] = {}
        for strategy in self.strategies:
            pending = [
                r
                for r in requests
                if r.author.key not in found
                and strategy.strategy in r.strategies
                and (strategy.platforms is None or r.author.platform in strategy.platforms)
                and (strategy.field != PERSONA or r.author.platform in PROVIDERS)
            ]
            if not pending:
                continue
            try:
                found.update(self._run(strategy, pending))
            except PermanentConnectorError as exc:
                # A strategy the org refuses (a field or object it lacks) must not stop the
                # Cases: they are created without a Contact, and the mapping is flagged.
                self._strategy_failed(strategy, exc)
        if self.mapping.create_unmatched:
            found.update(self._create(r for r in requests if r.author.key not in found))
        return found

    def _run(self, strategy: MatchStrategy, pending: list[IdentifyRequest]) -> dict[str, Customer]:
        kind, field = strategy.strategy, strategy.field or ""
        values = sorted({v for r in pending for v in query_values(kind, r)})
        if not values:
            return {}
        if field == PERSONA:
            candidates, contacts = self._via_personas(kind, values, pending)
        else:
            candidates, contacts = self._via_contacts(kind, field, values)
        matched: dict[str, Customer] = {}
        for request in pending:
            keys = author_values(kind, request)
            if field == PERSONA:  # persona values are only unique per network
                keys = [f"{PROVIDERS[request.author.platform]}:{v}" for v in keys]
            ids = frozenset(i for key in keys for i in candidates.get(key, frozenset()))
            if len(ids) > 1:
                self._ambiguous(request, strategy, sorted(ids))
            elif ids:
                record = contacts.get(next(iter(ids)))
                if record is not None:
                    matched[request.author.key] = self._customer(record, kind)
        return matched

    def _via_contacts(
        self, kind: str, field: str, values: list[str]
    ) -> tuple[Candidates, dict[str, dict[str, Any]]]:
        records: list[dict[str, Any]] = []
        for chunk in chunked(values, self.chunk):
            records += self.client.query_all(
                select_where_in("Contact", self.contact_fields(field), field, chunk)
            )

        def key_of(record: dict[str, Any]) -> str | None:
            value = lookup(record, field)
            return None if value is None else normalize(kind, str(value))

        return _group(records, key_of), {str(r["Id"]): r for r in records}

    def _via_personas(
        self, kind: str, values: list[str], pending: list[IdentifyRequest]
    ) -> tuple[Candidates, dict[str, dict[str, Any]]]:
        """Personas by id or handle, then their Contact parents in one more query per chunk."""
        column = "ExternalId" if kind == "social_id" else "Name"
        providers = sorted({PROVIDERS[r.author.platform] for r in pending})
        rows: list[dict[str, Any]] = []
        for chunk in chunked(values, self.chunk):
            rows += self.client.query_all(personas(column, chunk, providers))
        parents = sorted({str(row["ParentId"]) for row in rows if row.get("ParentId")})
        contacts: dict[str, dict[str, Any]] = {}
        for chunk in chunked(parents, self.chunk):
            # Parents that are Accounts or Leads simply do not come back from Contact.
            query = select_where_in("Contact", self.contact_fields(), "Id", chunk)
            contacts.update((str(r["Id"]), r) for r in self.client.query_all(query))
        candidates = _group(
            rows, lambda r: f"{r.get('Provider')}:{normalize(kind, str(r.get(column) or ''))}", "ParentId"
        )
        return candidates, contacts

    def _customer(self, record: dict[str, Any], kind: str) -> Customer:
        value_spec = self.mapping.customer_value
        raw_value = lookup(record, value_spec.field) if value_spec else None
        tier = lookup(record, value_spec.tier_field) if value_spec and value_spec.tier_field else None
        return Customer(
            system=SYSTEM,
            customer_id=str(record["Id"]),
            account_id=record.get("AccountId"),
            name=record.get("Name"),
            email=record.get("Email"),
            value=_number(raw_value),
            tier=str(tier) if tier is not None else None,
            matched_by=kind,
            confidence=CONFIDENCE[kind],
        )

    def _strategy_failed(self, strategy: MatchStrategy, exc: PermanentConnectorError) -> None:
        log.error(
            "desk %s: strategy %s on %s refused by Salesforce, skipped (check the mapping with "
            "`ventanilla mappings validate --live`): %s",
            self.desk,
            strategy.strategy,
            strategy.field,
            exc,
        )
        self.store.audit_event(
            "salesforce",
            "identify.strategy_failed",
            f"{SYSTEM}:{self.desk}",
            {"strategy": strategy.strategy, "field": strategy.field, "error": str(exc)},
        )

    def _ambiguous(self, request: IdentifyRequest, strategy: MatchStrategy, ids: list[str]) -> None:
        log.info(
            "%s: %s matches %d Contacts by %s; not guessing",
            self.desk,
            request.author.key,
            len(ids),
            strategy.strategy,
        )
        self.store.audit_event(
            "salesforce",
            "customer.ambiguous",
            f"{self.desk}:{request.author.key}",
            {"strategy": strategy.strategy, "field": strategy.field, "candidates": ids, "confidence": 0},
        )

    # --- create_unmatched ------------------------------------------------------------------

    def _create(self, unmatched: Iterable[IdentifyRequest]) -> dict[str, Customer]:
        """Create Contacts carrying the author's social field, so the next lookup finds them."""
        plans: list[tuple[IdentifyRequest, str, dict[str, Any]]] = []
        for request in unmatched:
            author = request.author
            for strategy in self.strategies:
                if strategy.field == PERSONA or strategy.strategy not in ("social_id", "handle"):
                    continue
                if strategy.platforms is not None and author.platform not in strategy.platforms:
                    continue
                value = author_values(strategy.strategy, request)
                if not value:
                    continue
                name = (author.display_name or author.handle or author.platform_user_id)[:80]
                record: dict[str, Any] = {
                    "attributes": {"type": "Contact"},
                    "LastName": name,
                    strategy.field or "": value[0],
                }
                plans.append((request, strategy.strategy, record))
                break
        created: dict[str, Customer] = {}
        for chunk in chunked(plans, self.client.settings.batch_size):
            results = self.client.collection(
                "POST", "composite/sobjects", [p[2] for p in chunk], idempotent=False
            )
            for (request, kind, record), result in zip(chunk, results, strict=True):
                if not result.get("success"):
                    log.warning(
                        "%s: could not create a Contact for %s: %s",
                        self.desk,
                        request.author.key,
                        result.get("errors"),
                    )
                    continue
                contact_id = str(result["id"])
                created[request.author.key] = Customer(
                    SYSTEM, contact_id, name=str(record["LastName"]), matched_by=kind, confidence=1.0
                )
                self.store.audit_event(
                    "salesforce",
                    "customer.created",
                    f"{self.desk}:{request.author.key}",
                    {"contact_id": contact_id},
                )
        return created


def _number(value: Any) -> float | None:
    """A currency or number field as float; None when empty or not a number."""
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _group(
    records: Iterable[dict[str, Any]], key_of: Callable[[dict[str, Any]], str | None], id_key: str = "Id"
) -> Candidates:
    """Group record ids by the (normalized) key each record carries."""
    groups: dict[str, set[str]] = {}
    for record in records:
        key = key_of(record)
        if key is not None and record.get(id_key) is not None:
            groups.setdefault(key, set()).add(str(record[id_key]))
    return {key: frozenset(ids) for key, ids in groups.items()}
