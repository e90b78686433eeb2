"""Checked reads of decoded JSON payloads, shared by the platform parsers.

Every read names its JSON path, so a payload of the wrong shape is refused with a 400
that says exactly where (``entry[0].changes[1].value.from.id: expected a string``)
instead of a ``KeyError`` turning into a 500 deep inside a parser.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector.model import InboundBatch, from_unix
from webhooks.errors import MalformedPayloadError

_MAX_DIGITS = 20


@dataclass(frozen=True, slots=True)
class Node:
    """A JSON object together with its path from the payload root."""

    value: Mapping[str, Any]
    path: str = ""

    @classmethod
    def root(cls, payload: Mapping[str, Any]) -> Node:
        return cls(payload, "")

    @property
    def raw(self) -> dict[str, Any]:
        """The object itself, as the platform sent it (kept on the interaction)."""
        return dict(self.value)

    def where(self, key: str) -> str:
        """Return the path of ``key`` inside this object."""
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> MalformedPayloadError:
        return MalformedPayloadError(f"{self.where(key)}: {problem}")

    def has(self, key: str) -> bool:
        return self.value.get(key) is not None

    def _typed(self, key: str, kind: type, label: str, required: bool) -> Any:
        value = self.value.get(key)
        if value is None:
            if required:
                raise self.fail(key, "required field is missing")
            return None
        # bool is an int in Python; JSON true is never a count or a timestamp.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.fail(key, f"expected {label}")
        return value

    def string(self, key: str) -> str:
        result: str = self._typed(key, str, "a string", required=True)
        return result

    def optional_string(self, key: str) -> str | None:
        result: str | None = self._typed(key, str, "a string", required=False)
        return result

    def optional_int(self, key: str) -> int | None:
        result: int | None = self._typed(key, int, "an integer", required=False)
        return result

    def optional_bool(self, key: str) -> bool | None:
        result: bool | None = self._typed(key, bool, "a boolean", required=False)
        return result

    def obj(self, key: str) -> Node:
        value: Mapping[str, Any] = self._typed(key, dict, "an object", required=True)
        return Node(value, self.where(key))

    def optional_obj(self, key: str) -> Node | None:
        value: Mapping[str, Any] | None = self._typed(key, dict, "an object", required=False)
        return None if value is None else Node(value, self.where(key))

    def objects(self, key: str) -> list[Node]:
        """Read a required list of objects."""
        self._typed(key, list, "a list", required=True)
        return self.optional_objects(key)

    def optional_objects(self, key: str) -> list[Node]:
        """Read a list of objects; absent means empty."""
        items: list[Any] | None = self._typed(key, list, "a list", required=False)
        nodes = []
        for index, item in enumerate(items or []):
            where = f"{self.where(key)}[{index}]"
            if not isinstance(item, dict):
                raise MalformedPayloadError(f"{where}: expected an object")
            nodes.append(Node(item, where))
        return nodes

    def optional_digits(self, key: str) -> int | None:
        """Read an integer sent as a decimal string (X sends ids and timestamps so)."""
        text = self.optional_string(key)
        if text is None:
            return None
        if not text.isascii() or not text.isdigit():
            raise self.fail(key, "expected a string of digits")
        if len(text) > _MAX_DIGITS:
            # Past 4300 digits int() raises; no id or timestamp needs more than 20.
            raise self.fail(key, f"more than {_MAX_DIGITS} digits")
        return int(text)

    def optional_time(self, key: str, unit: float = 1.0) -> datetime | None:
        """Read a unix timestamp sent as a JSON number; ``unit`` is 1 for seconds, 1000 for ms."""
        return self._to_datetime(key, self.optional_int(key), unit)

    def optional_time_digits(self, key: str, unit: float = 1.0) -> datetime | None:
        """Read a unix timestamp sent as a string of digits (X's ``timestamp_ms``)."""
        return self._to_datetime(key, self.optional_digits(key), unit)

    def _to_datetime(self, key: str, number: int | None, unit: float) -> datetime | None:
        if number is None:
            return None
        try:
            return from_unix(number / unit)
        except (OverflowError, OSError, ValueError):
            # A number past year 9999 is an attack or a bug, not a timestamp: 400, not 500.
            raise self.fail(key, "timestamp out of range") from None


def merge_batches(batches: Iterable[InboundBatch]) -> InboundBatch:
    """Concatenate the parts of several batches, keeping the order they arrived in."""
    parts = list(batches)
    return InboundBatch(
        interactions=tuple(i for b in parts for i in b.interactions),
        edits=tuple(e for b in parts for e in b.edits),
        removals=tuple(r for b in parts for r in b.removals),
        ignored=tuple(reason for b in parts for reason in b.ignored),
    )


def ignored(reason: str) -> InboundBatch:
    """A batch that only records, for the log, an event we deliberately do not handle."""
    return InboundBatch(ignored=(reason,))
