"""Salesforce emulator: run parsed SOQL against the org (types, filters, order, relationships)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.emulators.salesforce_schema import (
    NUMBER_TYPES,
    STRING_TYPES,
    FieldDef,
    SObjectDef,
    normalize_id,
    parse_date,
    parse_datetime,
)
from tests.emulators.salesforce_soql import (
    Comparison,
    Condition,
    Junction,
    LikePattern,
    Literal,
    Negation,
    Path,
    Query,
    SoqlError,
    parse,
)
from tests.emulators.salesforce_store import Org

_NO_COLUMN = (
    "No such column '{name}' on entity '{entity}'. If you are attempting to use a custom field, be sure to "
    "append the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
_NO_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
    "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
    "WSDL or the describe call for the appropriate names."
)
_NO_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to "
    "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
_LITERAL_TYPE = {
    "string": "string",
    "id": "id",
    "boolean": "boolean",
    "number": "double",
    "datetime": "dateTime",
    "date": "date",
}


@dataclass(frozen=True)
class ResolvedPath:
    """A field path resolved against the schema: lookups to follow, then the final field."""

    lookups: tuple[FieldDef, ...]
    field: FieldDef

    @property
    def names(self) -> tuple[str, ...]:
        return (*(f.relationship_name or f.name for f in self.lookups), self.field.name)


@dataclass(frozen=True)
class QueryResult:
    total_size: int
    records: list[dict[str, Any]]


def _field_kind(field_def: FieldDef) -> str:
    if field_def.type in STRING_TYPES:
        return "string"
    if field_def.type in ("id", "reference"):
        return "id"
    if field_def.type in NUMBER_TYPES:
        return "number"
    return field_def.type  # boolean | datetime | date


class QueryEngine:
    """Evaluate SOQL against an Org; results are projected records in API shape."""

    def __init__(self, org: Org) -> None:
        self.org = org

    def run(self, text: str, *, include_deleted: bool, version: str) -> QueryResult:
        query = parse(text)
        sdef = self.org.sobject(query.sobject)
        if sdef is None:
            raise SoqlError("INVALID_TYPE", _NO_TYPE.format(name=query.sobject), text, query.sobject_pos)
        selected = self._select_list(query, sdef)
        if query.where is not None:
            self._check_condition(query, sdef, query.where)
        ordering = [(self.resolve(query, sdef, item.path, purpose="sorted"), item) for item in query.order]
        if query.offset is not None and query.offset > 2000:
            raise SoqlError("NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000", text, 0)
        rows: list[dict[str, Any]] = list(self.org.records[sdef.name].values())
        if include_deleted:
            rows += list(self.org.deleted[sdef.name].values())
        if query.where is not None:
            where = query.where
            rows = [row for row in rows if self._matches(query, sdef, where, row)]
        if ordering:

            def compare_rows(left: dict[str, Any], right: dict[str, Any]) -> int:
                for resolved, item in ordering:
                    a = _comparable(resolved.field, self.value(left, resolved))
                    b = _comparable(resolved.field, self.value(right, resolved))
                    result = _compare_for_sort(a, b, descending=item.descending, nulls_last=item.nulls_last)
                    if result:
                        return result
                return 0

            rows.sort(key=functools.cmp_to_key(compare_rows))
        rows = rows[query.offset or 0 :]
        if query.limit is not None:
            rows = rows[: query.limit]
        if query.count_only:
            return QueryResult(len(rows), [])
        return QueryResult(len(rows), [self.project(sdef, row, selected, version) for row in rows])

    # -- resolution and type checks --------------------------------------------------------------

    def _select_list(self, query: Query, sdef: SObjectDef) -> list[ResolvedPath]:
        selected: list[ResolvedPath] = []
        for path in query.paths:
            resolved = self.resolve(query, sdef, path, purpose=None)
            if any(r.names == resolved.names for r in selected):
                raise SoqlError(
                    "MALFORMED_QUERY", f"duplicate field selected: {path.text}", query.text, path.pos
                )
            selected.append(resolved)
        return selected

    def resolve(self, query: Query, sdef: SObjectDef, path: Path, *, purpose: str | None) -> ResolvedPath:
        current = [sdef]
        lookups: list[FieldDef] = []
        for name in path.parts[:-1]:
            lookup = next((s.relationship(name) for s in current if s.relationship(name)), None)
            if lookup is None or (len(lookups) and len(current) > 1):
                raise SoqlError("INVALID_FIELD", _NO_RELATIONSHIP.format(name=name), query.text, path.pos)
            lookups.append(lookup)
            current = [s for s in (self.org.sobject(t) for t in lookup.reference_to) if s is not None]
        last = path.parts[-1]
        field_def = next((s.field(last) for s in current if s.field(last)), None)
        if field_def is None:
            entity = current[0].name if len(current) == 1 else "Name"
            raise SoqlError(
                "INVALID_FIELD", _NO_COLUMN.format(name=last, entity=entity), query.text, path.pos
            )
        blocked = not field_def.filterable if purpose == "filtered" else not field_def.sortable
        if purpose and blocked:
            raise SoqlError(
                "INVALID_FIELD",
                f"field '{field_def.name}' can not be {purpose} in a query call",
                query.text,
                path.pos,
            )
        return ResolvedPath(tuple(lookups), field_def)

    def _check_condition(self, query: Query, sdef: SObjectDef, condition: Condition) -> None:
        if isinstance(condition, Junction):
            for item in condition.items:
                self._check_condition(query, sdef, item)
        elif isinstance(condition, Negation):
            self._check_condition(query, sdef, condition.item)
        else:
            resolved = self.resolve(query, sdef, condition.path, purpose="filtered")
            values = condition.value if isinstance(condition.value, tuple) else (condition.value,)
            for literal in values:
                _check_literal(query, resolved.field, condition.op, literal)

    # -- evaluation --------------------------------------------------------------------------------

    def value(self, row: dict[str, Any], resolved: ResolvedPath) -> Any:
        record: dict[str, Any] | None = row
        for lookup in resolved.lookups:
            found = self.org.related(record, lookup) if record is not None else None
            record = found[1] if found else None
        return None if record is None else record.get(resolved.field.name)

    def _matches(self, query: Query, sdef: SObjectDef, condition: Condition, row: dict[str, Any]) -> bool:
        if isinstance(condition, Junction):
            results = (self._matches(query, sdef, item, row) for item in condition.items)
            return all(results) if condition.op == "AND" else any(results)
        if isinstance(condition, Negation):
            return not self._matches(query, sdef, condition.item, row)
        resolved = self.resolve(query, sdef, condition.path, purpose="filtered")
        return _evaluate(resolved.field, self.value(row, resolved), condition)

    def project(
        self, sdef: SObjectDef, row: dict[str, Any], selected: Iterable[ResolvedPath], version: str
    ) -> dict[str, Any]:
        out = _attributes(sdef, row, version)
        for resolved in selected:
            container: dict[str, Any] | None = out
            record: dict[str, Any] | None = row
            for lookup in resolved.lookups:
                key = lookup.relationship_name or lookup.name
                found = self.org.related(record, lookup) if record is not None else None
                if container is None:
                    break
                if found is None:
                    container.setdefault(key, None)
                    container = record = None
                    break
                nested = container.get(key)
                if nested is None:
                    nested = container[key] = _attributes(found[0], found[1], version)
                container, record = nested, found[1]
            if container is not None and record is not None:
                container[resolved.field.name] = record.get(resolved.field.name)
        return out


def _attributes(sdef: SObjectDef, row: dict[str, Any], version: str) -> dict[str, Any]:
    url = f"/services/data/v{version}/sobjects/{sdef.name}/{row['Id']}"
    return {"attributes": {"type": sdef.name, "url": url}}


def _check_literal(query: Query, field_def: FieldDef, op: str, literal: Literal) -> None:
    kind = _field_kind(field_def)
    name = field_def.name
    if literal.kind == "like":
        if kind != "string":
            raise SoqlError(
                "INVALID_FIELD", f"invalid operator on {field_def.type} field: LIKE", query.text, literal.pos
            )
        return
    if literal.kind == "null":
        if op not in ("=", "!=", "IN", "NOT IN"):
            raise SoqlError(
                "MALFORMED_QUERY", f"invalid use of null with operator {op}", query.text, literal.pos
            )
        return
    if kind == "id" and literal.kind == "string":
        if literal.value and normalize_id(literal.value) is None:
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}", query.text, literal.pos
            )
        return
    if kind == "boolean" and literal.kind == "boolean":
        if op not in ("=", "!=", "IN", "NOT IN"):
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR",
                f"invalid operator on boolean field: {op}",
                query.text,
                literal.pos,
            )
        return
    if kind == literal.kind:
        return
    expected = _LITERAL_TYPE.get(kind, kind)
    quoted = (
        "should be enclosed in quotes" if kind in ("string", "id") else "should not be enclosed in quotes"
    )
    raise SoqlError(
        "INVALID_FIELD",
        f"value of filter criterion for field '{name}' must be of type {expected} and {quoted}",
        query.text,
        literal.pos,
    )


def _comparable(field_def: FieldDef, value: Any) -> Any:
    """Turn a stored or literal value into something Python compares like SOQL does."""
    if value is None:
        return None
    kind = _field_kind(field_def)
    if kind == "string":
        return str(value).casefold()
    if kind == "id":
        return normalize_id(value) or value
    if kind == "number":
        return float(value)
    if kind == "datetime" and isinstance(value, str):
        return parse_datetime(value)
    if kind == "date" and isinstance(value, str):
        return parse_date(value)
    return value


def _literal_value(field_def: FieldDef, literal: Literal) -> Any:
    # An empty string compared with an id field means null.
    if _field_kind(field_def) == "id" and literal.value == "":
        return None
    return literal.value


def _evaluate(field_def: FieldDef, stored: Any, comparison: Comparison) -> bool:
    op = comparison.op
    if isinstance(comparison.value, tuple):
        options = [_comparable(field_def, _literal_value(field_def, lit)) for lit in comparison.value]
        found = _comparable(field_def, stored) in options
        return found if op == "IN" else not found
    literal = comparison.value
    if op == "LIKE":
        pattern = literal.value
        return (
            stored is not None
            and isinstance(pattern, LikePattern)
            and bool(pattern.regex().fullmatch(str(stored)))
        )
    left = _comparable(field_def, stored)
    right = _comparable(field_def, _literal_value(field_def, literal))
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    return bool({"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op])


def _compare_for_sort(left: Any, right: Any, *, descending: bool, nulls_last: bool) -> int:
    if left is None or right is None:
        if left is None and right is None:
            return 0
        return (1 if left is None else -1) * (1 if nulls_last else -1)
    result = int(left > right) - int(left < right)
    return -result if descending else result
