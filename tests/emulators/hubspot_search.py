"""HubSpot emulator: ``POST /crm/v3/objects/{objectType}/search`` (filterGroups, sorts, paging)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tests.emulators.hubspot_errors import ApiError, bad_request
from tests.emulators.hubspot_schema import ObjectDef, PropertyDef, parse_time
from tests.emulators.hubspot_store import Portal

# Limits since the August 2024 change (HubSpot changelog "Expanded Filtering Capabilities").
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_IN_VALUES = 100  # unconfirmed
MAX_LIMIT = 200
MAX_RESULTS = 10_000
DEFAULT_LIMIT = 10
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
_NO_VALUE = frozenset({"HAS_PROPERTY", "NOT_HAS_PROPERTY", "IN", "NOT_IN"})
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

SortKey = tuple[int, Any]
Predicate = Callable[[dict[str, str]], bool]


def _key(prop: PropertyDef, text: str) -> Any:
    """A comparable form of a stored value or a filter value for this property's type."""
    if prop.type == "number":
        try:
            return float(text)
        except ValueError:
            return None
    if prop.type in ("datetime", "date"):
        moment = parse_time(text)
        return moment.timestamp() if isinstance(moment, datetime) else None
    return text.lower()


def _contains_token(stored: str, wanted: str) -> bool:
    """Token match; ``*`` is a wildcard (``*@hubspot.com``)."""
    pattern = wanted.lower()
    if "*" in pattern:
        return fnmatch.fnmatchcase(stored.lower(), pattern) or any(
            fnmatch.fnmatchcase(token, pattern) for token in _TOKEN.findall(stored.lower())
        )
    return pattern in _TOKEN.findall(stored.lower()) or pattern == stored.lower()


def _in_list(prop: PropertyDef, stored: str, values: list[str]) -> bool:
    # The docs: "When searching a string property with this operator, values must be lowercase."
    # Stored text is compared lower-cased against the values as sent, so "Jane" never matches.
    if prop.type == "string":
        return stored.lower() in values
    key = _key(prop, stored)
    return any(key == _key(prop, value) for value in values)


def _predicate(prop: PropertyDef, item: dict[str, Any]) -> Predicate:
    operator = item.get("operator")
    name = prop.name
    value = item.get("value")
    value_text = None if value is None else str(value)
    values = [str(v) for v in item.get("values") or []]
    if operator in ("IN", "NOT_IN"):
        if not values:
            raise bad_request(f"Filter with operator {operator} on {name} needs a values array")
        if len(values) > MAX_IN_VALUES:
            raise bad_request(f"Filter on {name} has {len(values)} values; the maximum is {MAX_IN_VALUES}")
        inside = operator == "IN"
        return lambda r: (r.get(name) is not None and _in_list(prop, r[name], values)) == inside
    if operator == "HAS_PROPERTY":
        return lambda r: r.get(name) is not None
    if operator == "NOT_HAS_PROPERTY":
        return lambda r: r.get(name) is None
    if value_text is None:
        raise bad_request(f"Filter with operator {operator} on {name} needs a value")
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        wanted = operator == "CONTAINS_TOKEN"
        return lambda r: (r.get(name) is not None and _contains_token(r[name], value_text)) == wanted
    low = _key(prop, value_text)
    if low is None:
        raise bad_request(f"{value_text} is not a valid value for {name}")
    if operator == "BETWEEN":
        high_text = item.get("highValue")
        high = None if high_text is None else _key(prop, str(high_text))
        if high is None:
            raise bad_request(f"Filter with operator BETWEEN on {name} needs a valid highValue")
        return lambda r: r.get(name) is not None and _between(_key(prop, r[name]), low, high)
    compare: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda k: k == low,
        "NEQ": lambda k: k != low,
        "LT": lambda k: k is not None and k < low,
        "LTE": lambda k: k is not None and k <= low,
        "GT": lambda k: k is not None and k > low,
        "GTE": lambda k: k is not None and k >= low,
    }
    test = compare[str(operator)]
    if operator == "NEQ":  # records without a value are "not equal" too
        return lambda r: r.get(name) is None or test(_key(prop, r[name]))
    return lambda r: r.get(name) is not None and test(_key(prop, r[name]))


def _between(key: Any, low: Any, high: Any) -> bool:
    return key is not None and low <= key <= high


def _association_predicate(portal: Portal, object_def: ObjectDef, item: dict[str, Any]) -> Predicate:
    """``associations.contact`` EQ/IN ids: the pseudo-property for searching through associations."""
    name = str(item.get("propertyName"))
    to_def = portal.resolve(name.split(".", 1)[1])
    if to_def is None:
        raise bad_request(f"Property {name} does not exist on {object_def.name}")
    operator = item.get("operator")
    wanted = {str(v) for v in item.get("values") or []} | ({str(item["value"])} if "value" in item else set())

    def linked(record: dict[str, str]) -> set[str]:
        return set(portal.associations_of(object_def.name, record["hs_object_id"], to_def.name))

    if operator in ("EQ", "IN"):
        return lambda r: bool(linked(r) & wanted)
    if operator in ("NEQ", "NOT_IN"):
        return lambda r: not linked(r) & wanted
    if operator == "HAS_PROPERTY":
        return lambda r: bool(linked(r))
    if operator == "NOT_HAS_PROPERTY":
        return lambda r: not linked(r)
    raise bad_request(f"Operator {operator} is not supported for {name}")


def _group_predicates(portal: Portal, object_def: ObjectDef, groups: Any) -> list[list[Predicate]]:
    if not isinstance(groups, list):
        raise bad_request("filterGroups must be an array")
    if len(groups) > MAX_GROUPS:
        raise bad_request(f"Too many filter groups: {len(groups)}. The maximum is {MAX_GROUPS}.")
    total = 0
    compiled: list[list[Predicate]] = []
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise bad_request(
                "Invalid input JSON on line 1, column 2. Some required fields were not set: [filters]"
            )
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise bad_request(
                f"Too many filters in a filter group: {len(filters)}. The maximum is {MAX_FILTERS_PER_GROUP}."
            )
        total += len(filters)
        predicates: list[Predicate] = []
        for item in filters:
            if not isinstance(item, dict) or item.get("operator") not in OPERATORS:
                operator = item.get("operator") if isinstance(item, dict) else None
                raise bad_request(f"Invalid filter operator: {operator}")
            if str(item.get("propertyName")).startswith("associations."):
                predicates.append(_association_predicate(portal, object_def, item))
                continue
            prop = object_def.properties.get(str(item.get("propertyName")))
            if prop is None:
                raise bad_request(f"Property {item.get('propertyName')} does not exist on {object_def.name}")
            predicates.append(_predicate(prop, item))
        compiled.append(predicates)
    if total > MAX_FILTERS:
        raise bad_request(f"Too many filters: {total}. The maximum is {MAX_FILTERS}.")
    return compiled


def _sort_key(
    object_def: ObjectDef, sorts: Any
) -> tuple[Callable[[tuple[str, dict[str, str]]], SortKey], bool]:
    """Accept ``[{"propertyName", "direction"}]`` (the docs) or ``["-name"]`` (the SDK types sorts as str)."""
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise bad_request("Only one sort is allowed")
    if not sorts:
        return (lambda pair: (0, int(pair[0]))), False
    sort = sorts[0]
    if isinstance(sort, dict):
        name = str(sort.get("propertyName"))
        descending = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
    else:
        text = str(sort)
        name, descending = text.lstrip("-"), text.startswith("-")
    prop = object_def.properties.get(name)
    if prop is None:
        raise bad_request(f"Property {name} does not exist on {object_def.name}")

    def key(pair: tuple[str, dict[str, str]]) -> SortKey:
        stored = pair[1].get(name)
        value = None if stored is None else _key(prop, stored)
        # Records without a value sort last in either direction.
        return (1, 0) if value is None else (0, value)

    return key, descending


def search(portal: Portal, object_def: ObjectDef, body: Any) -> dict[str, Any]:
    """Run one search request and return the documented page (``total``, ``results``, ``paging``)."""
    if not isinstance(body, dict):
        raise bad_request("Invalid input JSON on line 1, column 1: the body must be an object")
    groups = _group_predicates(portal, object_def, body.get("filterGroups") or [])
    try:
        raw_limit = body.get("limit")
        limit = DEFAULT_LIMIT if raw_limit is None else int(raw_limit)
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError):
        raise bad_request("limit and after must be integers") from None
    if limit < 0 or limit > MAX_LIMIT:
        raise bad_request(f"limit must be between 0 and {MAX_LIMIT}, got {limit}")
    if offset >= MAX_RESULTS:
        raise ApiError(400, f"Paging beyond {MAX_RESULTS} results is not supported", "VALIDATION_ERROR")
    query = str(body.get("query") or "").lower().split()
    text_props = [p.name for p in object_def.properties.values() if p.type == "string"]

    def matches(record: dict[str, str]) -> bool:
        if groups and not any(all(p(record) for p in group) for group in groups):
            return False
        return all(any(word in (record.get(n) or "").lower() for n in text_props) for word in query)

    found = [(rid, rec) for rid, rec in portal.records[object_def.name].items() if matches(rec)]
    key, descending = _sort_key(object_def, body.get("sorts") or [])
    present = sorted((p for p in found if key(p)[0] == 0), key=key, reverse=descending)
    found = present + [p for p in found if key(p)[0] == 1]
    properties = body.get("properties") or None
    page = found[offset : offset + limit]
    result: dict[str, Any] = {
        "total": len(found),
        "results": [portal.serialize(object_def, rid, properties) for rid, _ in page],
    }
    if offset + limit < len(found):
        result["paging"] = {"next": {"after": str(offset + limit)}}
    return result
