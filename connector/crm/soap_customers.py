"""Find the desk's person behind a social author through the mapping's find_customer operation.

SOAP desks have no batch search, so each strategy asks once per distinct value (and the
pipeline's identity cache spares repeated authors). Returned rows are checked against
the value asked for: ServiceNow ignores a condition on a field it does not know and
answers with unrelated people, which must never become a match.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from connector.config import ConfigError
from connector.crm.base import ConnectorError, IdentifyRequest
from connector.crm.batching import chunked
from connector.crm.matching import CONFIDENCE, author_values, normalize, query_values
from connector.crm.soap_client import Row, text_of
from connector.model import Customer
from connector.store import Store
from mappings import Mapping, MatchStrategy

log = logging.getLogger("ventanilla.soap")
SYSTEM = "soap"
#: Fields a strategy compares when the mapping does not name one.
DEFAULT_FIELDS = {"email": "email", "phone": "phone"}
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
LOOKUP_CHUNK = 50  # values per IN list: short enough for any desk's query length

Lookup = Callable[[str, str], list[Row]]


def strategy_field(strategy: MatchStrategy, desk: str) -> str:
    """The person field a strategy compares; social ids and handles need the mapping to name it."""
    field = strategy.field or DEFAULT_FIELDS.get(strategy.strategy)
    if not field:
        raise ConfigError(
            f"desks.{desk}.mapping: customer_match strategy {strategy.strategy} needs a field on soap desks"
        )
    return field


def parse_value(value: Any) -> float | None:
    """A currency or number field as a float (ServiceNow may prefix the currency: ``EUR;1200``)."""
    text = text_of(value)
    if text is None:
        return None
    found = NUMBER.search(text.replace(",", ""))
    return float(found.group()) if found else None


class SoapCustomerFinder:
    """Runs the mapping's strategies in order; the first with exactly one person wins."""

    def __init__(
        self,
        lookup: Lookup,
        mapping: Mapping,
        store: Store,
        desk: str,
        record_id: str,
        lookup_many: Lookup | None = None,
    ) -> None:
        self.lookup = lookup
        self.lookup_many = lookup_many
        self.mapping = mapping
        self.store = store
        self.desk = desk
        self.record_id = record_id
        self.strategies = [(s, strategy_field(s, desk)) for s in mapping.customer_match]

    def find(self, requests: Sequence[IdentifyRequest]) -> dict[str, Customer]:
        matched: dict[str, Customer] = {}
        for strategy, field in self.strategies:
            pending = [
                r
                for r in requests
                if r.author.key not in matched
                and (strategy.platforms is None or r.author.platform in strategy.platforms)
            ]
            try:
                matched.update(self._run(strategy, field, pending))
            except ConnectorError as exc:
                if not _is_refusal(exc):
                    raise
                self._strategy_failed(strategy, field, str(exc))
        return matched

    def _run(
        self, strategy: MatchStrategy, field: str, pending: list[IdentifyRequest]
    ) -> dict[str, Customer]:
        kind = strategy.strategy
        values = sorted({v for r in pending for v in query_values(kind, r) if self._usable(kind, v)})
        people_by_value: dict[str, dict[str, Row]] = {}
        for row in self._rows_for(kind, field, values):
            record = text_of(row.get(self.record_id))
            if record:
                people_by_value.setdefault(normalize(kind, text_of(row.get(field)) or ""), {})[record] = row
        matched: dict[str, Customer] = {}
        for request in pending:
            people: dict[str, Row] = {}
            for value in author_values(kind, request):
                people.update(people_by_value.get(value, {}))
            if len(people) > 1:
                self._ambiguous(request, strategy, sorted(people))
            elif people:
                matched[request.author.key] = self._customer(next(iter(people.values())), kind)
        return matched

    def _rows_for(self, kind: str, field: str, values: list[str]) -> list[Row]:
        """Every person carrying one of the values: in lists of 50 when the mapping uses {values}."""
        rows: list[Row] = []
        if self.lookup_many is not None:
            for chunk in chunked([v for v in values if "," not in v], LOOKUP_CHUNK):
                rows += self._checked(kind, field, list(chunk), self.lookup_many(field, ",".join(chunk)))
        else:
            for value in values:
                rows += self._checked(kind, field, [value], self.lookup(field, value))
        return rows

    @staticmethod
    def _checked(kind: str, field: str, asked: list[str], rows: list[Row]) -> list[Row]:
        """Refuse answers that carry none of the values asked for: the condition was ignored."""
        wanted = {normalize(kind, value) for value in asked}
        if rows and not any(normalize(kind, text_of(r.get(field)) or "") in wanted for r in rows):
            raise StrategyIgnoredError(
                f"find_customer by {field} answered {len(rows)} record(s) without the value(s) asked "
                f"for: the desk ignored the condition (does {field} exist?)"
            )
        return rows

    def _usable(self, kind: str, value: str) -> bool:
        if _safe(value):
            return True
        log.info("%s: %s value %r cannot be looked up safely; skipped", self.desk, kind, value)
        return False

    def _customer(self, row: Row, kind: str) -> Customer:
        value_spec = self.mapping.customer_value
        return Customer(
            system=SYSTEM,
            customer_id=text_of(row.get(self.record_id)),
            account_id=text_of(row.get("company")),
            name=text_of(row.get("name")),
            email=text_of(row.get("email")),
            value=parse_value(row.get(value_spec.field)) if value_spec else None,
            tier=text_of(row.get(value_spec.tier_field)) if value_spec and value_spec.tier_field else None,
            matched_by=kind,
            confidence=CONFIDENCE.get(kind, 0.5),
        )

    def _ambiguous(self, request: IdentifyRequest, strategy: MatchStrategy, ids: list[str]) -> None:
        log.info(
            "%s: %s matches %d people by %s; not guessing",
            self.desk,
            request.author.key,
            len(ids),
            strategy.strategy,
        )
        self.store.audit_event(
            SYSTEM,
            "customer.ambiguous",
            f"{self.desk}:{request.author.key}",
            {"strategy": strategy.strategy, "field": strategy.field, "candidates": ids, "confidence": 0},
        )

    def _strategy_failed(self, strategy: MatchStrategy, field: str, error: str) -> None:
        """A strategy the desk refuses must not stop tickets: skip it, loudly."""
        log.error("%s: customer_match %s on %s skipped: %s", self.desk, strategy.strategy, field, error)
        self.store.audit_event(
            SYSTEM,
            "identify.strategy_failed",
            f"{SYSTEM}:{self.desk}",
            {"strategy": strategy.strategy, "field": field, "error": error},
        )


class StrategyIgnoredError(ConnectorError):
    """The desk answered a lookup with records that do not carry the value asked for."""


def _is_refusal(exc: ConnectorError) -> bool:
    """Refusals of the strategy itself (unknown field, ignored condition), not outages."""
    from connector.crm.base import PermanentConnectorError

    return isinstance(exc, (StrategyIgnoredError, PermanentConnectorError))


def _safe(value: str) -> bool:
    """Values that cannot change the meaning of an encoded query (``^`` joins conditions)."""
    return bool(value) and not any(c in value for c in "^\r\n")
