"""ServiceNow's query side of ``getRecords`` / ``getKeys``: example values, encoded queries, order, windows.

Encoded query subset: ``^`` (AND), ``^OR`` (OR with the previous condition), ``^NQ`` (a new query OR'ed
with the others), ``ORDERBY<field>`` / ``ORDERBYDESC<field>``; operators ``=``, ``!=``, ``>``, ``>=``,
``<``, ``<=``, ``STARTSWITH``, ``ENDSWITH``, ``LIKE``, ``NOTLIKE``, ``IN``, ``NOT IN``, ``ISEMPTY``,
``ISNOTEMPTY``, ``ANYTHING``; values may be ``javascript:gs.dateGenerate('YYYY-MM-DD','HH:MM:SS')``.
Strings compare case-insensitively (ServiceNow's default collation); ``xsd:integer`` columns compare as
numbers; dates are text (``YYYY-MM-DD HH:MM:SS`` sorts chronologically). ``!=``, ``NOT IN`` and
``NOTLIKE`` also match empty values, as ServiceNow's ``is not`` does.

A condition on a column the table does not have (or with an operator outside this subset) is dropped
from the query, so it matches every row -- ServiceNow's default. With ``invalid_returns_none``
(``glide.invalid_query.returns_no_rows=true``) such a query returns no rows instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from tests.emulators.servicenow_soap_schema import TableDef

Record = dict[str, str]
Params = Mapping[str, str | list[str]]

_OPERATORS = "ISNOTEMPTY|ISEMPTY|ANYTHING|NOT IN|NOTLIKE|STARTSWITH|ENDSWITH|LIKE|IN|!=|>=|<=|=|>|<"
_TERM = re.compile(rf"^([a-z0-9_.]+)({_OPERATORS})(.*)$", re.DOTALL)
_DATE_GENERATE = re.compile(r"^javascript:\s*gs\.dateGenerate\(\s*'([^']*)'\s*,\s*'([^']*)'\s*\)\s*$")
_IGNORED_TERMS = ("EQ", "GROUPBY")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str


@dataclass
class Query:
    """Queries OR'ed together (``^NQ``); each an AND of clauses; each clause an OR of conditions."""

    queries: list[list[list[Condition]]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (column, descending)
    invalid: bool = False

    def matches(self, record: Record, table: TableDef) -> bool:
        if not self.queries:
            return True
        return any(
            all(any(_holds(c, record, table) for c in clause) for clause in query) for query in self.queries
        )


def parse_encoded_query(text: str, table: TableDef) -> Query:
    query = Query()
    for part in text.split("^NQ"):
        clauses: list[list[Condition]] = []
        for term in part.split("^"):
            term = term.strip()
            if not term or term.startswith(_IGNORED_TERMS):
                continue
            if term.startswith("ORDERBY"):
                desc = term.startswith("ORDERBYDESC")
                column = term[len("ORDERBYDESC") if desc else len("ORDERBY") :]
                if column in table.fields:
                    query.order.append((column, desc))
                continue
            alternative = term.startswith("OR") and bool(clauses)
            condition = _condition(term[2:] if term.startswith("OR") else term, table)
            if condition is None:
                query.invalid = True
            elif alternative:
                clauses[-1].append(condition)
            else:
                clauses.append([condition])
        query.queries.append(clauses)
    return query


def build_query(params: Params, table: TableDef) -> Query:
    """Example values (equality, AND) plus ``__encoded_query`` and the ``__order_by*`` parameters."""
    encoded = _text(params.get("__encoded_query"))
    query = parse_encoded_query(encoded, table) if encoded else Query(queries=[[]])
    examples = [
        [Condition(name, "=", _text(value))]
        for name, value in params.items()
        if name in table.fields and name not in table.journal_fields
    ]
    for clauses in query.queries:
        clauses.extend(examples)
    for name, desc in (("__order_by", False), ("__order_by_desc", True)):
        for column in _text(params.get(name)).split(","):
            if column.strip() in table.fields:
                query.order.append((column.strip(), desc))
    return query


def select(
    records: Sequence[Record],
    params: Params,
    table: TableDef,
    *,
    cap: int | None,
    invalid_returns_none: bool = False,
    hard_cap: bool = False,
) -> list[Record]:
    """Filter, order and window ``records`` (given in creation order) as ``getRecords`` does.

    Window: ``__first_row`` is the 0-based index of the first row returned (inclusive) and
    ``__last_row`` the index where the window ends (exclusive) -- GlideRecord.chooseWindow(first, last)
    semantics, as the extended query parameter docs describe them ("the results include the first row
    number ... do not include the last row"). ``__limit`` then bounds the count. ``cap`` (ServiceNow:
    250) applies only when the caller asked for neither ``__limit`` nor ``__last_row`` -- an explicit
    limit or window is honoured, as on real instances -- unless ``hard_cap`` makes it apply always.
    """
    query = build_query(params, table)
    if query.invalid and invalid_returns_none:
        return []
    rows = [r for r in records if query.matches(r, table)]
    for column, desc in reversed(query.order):
        rows.sort(key=_sort_key(column, table.kind(column)), reverse=desc)
    first, last, limit = (_int(params.get(n)) for n in ("__first_row", "__last_row", "__limit"))
    start = max(first or 0, 0)
    rows = rows[start:last] if last is not None else rows[start:]
    if limit is not None and limit >= 0:
        rows = rows[:limit]
    if cap is not None and (hard_cap or (limit is None and last is None)):
        rows = rows[:cap]
    return rows


def normalize(value: str, kind: str) -> str:
    """The wire form ServiceNow stores: ``true``/``false`` for booleans, canonical digits for integers.

    Raises ValueError for a value the column type cannot hold (the empty string clears any column).
    """
    value = value.strip() if kind != "string" else value
    if value == "" or kind == "string":
        return value
    if kind == "boolean":
        lowered = value.lower()
        if lowered in ("true", "1"):
            return "true"
        if lowered in ("false", "0"):
            return "false"
        raise ValueError(f"not a boolean: {value!r}")
    return str(int(value))


def _condition(term: str, table: TableDef) -> Condition | None:
    match = _TERM.match(term)
    if match is None or match.group(1) not in table.fields:
        return None
    value = match.group(3)
    date = _DATE_GENERATE.match(value)
    if date is not None:
        value = f"{date.group(1)} {date.group(2)}"
    return Condition(match.group(1), match.group(2), value)


def _comparable(value: str, kind: str) -> str | int:
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value.casefold()
    if kind == "boolean":
        try:
            return normalize(value, kind)
        except ValueError:
            return value.casefold()
    return value.casefold()


def _holds(c: Condition, record: Record, table: TableDef) -> bool:
    kind = table.kind(c.field)
    raw = record.get(c.field, "")
    have = _comparable(raw, kind)
    if c.op in ("ISEMPTY", "ISNOTEMPTY", "ANYTHING"):
        return c.op == "ANYTHING" or (raw == "") == (c.op == "ISEMPTY")
    if c.op in ("IN", "NOT IN"):
        inside = raw != "" and have in {_comparable(v.strip(), kind) for v in c.value.split(",")}
        return inside == (c.op == "IN")
    want = _comparable(c.value, kind)
    if c.op in ("=", "!="):
        return (have == want) == (c.op == "=")
    text, pattern = raw.casefold(), c.value.casefold()
    if c.op == "LIKE":
        return pattern in text
    if c.op == "NOTLIKE":
        return pattern not in text
    if c.op == "STARTSWITH":
        return text.startswith(pattern)
    if c.op == "ENDSWITH":
        return text.endswith(pattern)
    if raw == "":
        return False
    a, b = _rank(have), _rank(want)
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[c.op]


def _rank(value: str | int) -> tuple[int, int, str]:
    """A total order over column values: numbers before text."""
    return (1, value, "") if isinstance(value, int) else (2, 0, value)


def _sort_key(column: str, kind: str) -> Callable[[Record], tuple[int, int, str]]:
    """Empty values first in ascending order (last in descending), then numbers, then text."""

    def key(record: Record) -> tuple[int, int, str]:
        value = record.get(column, "")
        return (0, 0, "") if value == "" else _rank(_comparable(value, kind))

    return key


def _text(value: str | list[str] | None) -> str:
    if value is None:
        return ""
    return value[-1] if isinstance(value, list) else value


def _int(value: str | list[str] | None) -> int | None:
    try:
        return int(_text(value).strip())
    except ValueError:
        return None
