"""Meta Graph emulator: the ``fields`` mini-language, node rendering, time filters and cursor paging.

Graph clients ask for exactly the fields they need, with field expansion
(``from{id,username}``, ``replies.limit(5){id,text}``, ``mentioned_comment.comment_id(123){text}``),
so the emulator renders only what was requested and rejects fields a node does not have, as Graph does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from tests.emulators.meta_graph_store import GraphError, invalid_param, parse_time

T = TypeVar("T")
OMIT = object()  # a getter's answer for "this node has no value here; leave the key out"
DEFAULT_LIMIT = 25
MAX_LIMIT = 100


@dataclass
class FieldSpec:
    """One requested field: ``name.modifier(arg)...{children}``."""

    name: str
    modifiers: dict[str, str] = field(default_factory=dict)
    children: list[FieldSpec] | None = None


def parse_fields(text: str | None) -> list[FieldSpec]:
    """Parse a ``fields`` parameter; an empty or missing one means the node's default fields."""
    if not text or not text.strip():
        return []
    parser = _FieldParser(text)
    specs = parser.fields()
    if parser.pos != len(text):
        raise parser.error()
    return specs


class _FieldParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self) -> GraphError:
        rest = self.text[self.pos :]
        return GraphError(2500, f'Syntax error "Expected end of string instead of "{rest}"."')

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n":
            self.pos += 1

    def _peek(self) -> str:
        self._skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _name(self) -> str:
        self._skip_space()
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
            self.pos += 1
        if start == self.pos:
            raise self.error()
        return self.text[start : self.pos]

    def fields(self) -> list[FieldSpec]:
        specs = [self.field()]
        while self._peek() == ",":
            self.pos += 1
            specs.append(self.field())
        self._skip_space()
        return specs

    def field(self) -> FieldSpec:
        spec = FieldSpec(self._name())
        while self._peek() == ".":
            self.pos += 1
            modifier = self._name()
            if self._peek() != "(":
                raise self.error()
            end = self.text.find(")", self.pos)
            if end < 0:
                raise self.error()
            spec.modifiers[modifier] = self.text[self.pos + 1 : end].strip()
            self.pos = end + 1
        if self._peek() == "{":
            self.pos += 1
            spec.children = self.fields()
            if self._peek() != "}":
                raise self.error()
            self.pos += 1
        return spec


Getter = Callable[[Any, FieldSpec], Any]


@dataclass
class NodeType:
    """How one kind of Graph node renders: its field getters and the fields sent when none are asked."""

    name: str
    getters: dict[str, Getter]
    default: tuple[str, ...] = ("id",)

    def render(self, obj: Any, specs: Sequence[FieldSpec] | None) -> dict[str, Any]:
        """The node as JSON; Graph always includes ``id`` even when not requested."""
        wanted = list(specs) if specs else [FieldSpec(name) for name in self.default]
        out: dict[str, Any] = {}
        for spec in wanted:
            getter = self.getters.get(spec.name)
            if getter is None:
                raise GraphError(
                    100, f"(#100) Tried accessing nonexisting field ({spec.name}) on node type ({self.name})"
                )
            value = getter(obj, spec)
            if value is not OMIT:
                out[spec.name] = value
        if "id" not in out and "id" in self.getters:
            out["id"] = self.getters["id"](obj, FieldSpec("id"))
        return out


def parse_limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise invalid_param("param limit must be a number") from None
    return max(1, min(limit, MAX_LIMIT))


def time_filter(items: list[T], when: Callable[[T], datetime], params: dict[str, Any]) -> list[T]:
    """Keep the items inside ``since``/``until`` (both inclusive)."""
    since = parse_time(str(params["since"]), "since") if params.get("since") else None
    until = parse_time(str(params["until"]), "until") if params.get("until") else None
    return [
        item
        for item in items
        if (since is None or when(item) >= since) and (until is None or when(item) <= until)
    ]


def encode_cursor(object_id: str) -> str:
    return base64.urlsafe_b64encode(object_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_param("The after/before cursor is invalid") from None


def paginate(
    items: list[T],
    key: Callable[[T], str],
    params: dict[str, Any],
    url: str | None,
    limit: int | None = None,
) -> tuple[list[T], dict[str, Any]]:
    """Cut one page of ``items`` by the ``after``/``before`` cursor; return it with Graph's ``paging``.

    ``url`` is the edge's full URL for ``next``/``previous`` links (None: cursors only, for
    nested edges). The query of those links keeps every parameter the caller sent, as Graph does.
    """
    limit = parse_limit(params.get("limit")) if limit is None else limit
    ids = [key(item) for item in items]
    start = 0
    if params.get("after"):
        wanted = _decode_cursor(str(params["after"]))
        start = ids.index(wanted) + 1 if wanted in ids else len(ids)
    elif params.get("before"):
        wanted = _decode_cursor(str(params["before"]))
        end = ids.index(wanted) if wanted in ids else 0
        start = max(0, end - limit)
    chunk = items[start : start + limit]
    if not chunk:
        return chunk, {}
    first, last = encode_cursor(key(chunk[0])), encode_cursor(key(chunk[-1]))
    paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
    if url is not None:
        base = {k: str(v) for k, v in params.items() if k not in ("after", "before") and _is_scalar(v)}
        if start > 0:
            paging["previous"] = f"{url}?{urlencode({**base, 'limit': limit, 'before': first})}"
        if start + limit < len(items):
            paging["next"] = f"{url}?{urlencode({**base, 'limit': limit, 'after': last})}"
    return chunk, paging


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def edge(
    node_type: NodeType,
    items: list[T],
    key: Callable[[T], str],
    params: dict[str, Any],
    url: str | None,
    specs: Sequence[FieldSpec] | None,
    limit: int | None = None,
) -> dict[str, Any]:
    """An edge answer ``{"data": [...], "paging": {...}}`` (``paging`` omitted when empty)."""
    chunk, paging = paginate(items, key, params, url, limit)
    answer: dict[str, Any] = {"data": [node_type.render(item, specs) for item in chunk]}
    if paging:
        answer["paging"] = paging
    return answer


def nested_edge(
    node_type: NodeType, items: list[T], key: Callable[[T], str], spec: FieldSpec
) -> dict[str, Any]:
    """A field-expanded edge such as ``replies.limit(5){id,text}``: the first page, cursors only."""
    limit = parse_limit(spec.modifiers.get("limit"))
    return edge(node_type, items, key, {}, None, spec.children, limit)
