"""Triage a file of canonical interactions (JSON Lines) without a database: for the teams that tune it.

Each line is the generic endpoint's body (its optional ``engagement: {"replies", "reactions",
"shares"}`` counts included, validated the same way), optionally with ``customer: {"value", "tier"}``
(the CRM's view) and ``label`` (ignored here, read by ``triage eval``). Lines that are not
valid are reported as ``file:line: problem`` and skipped; the rest are still triaged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from connector.config import TriageSettings
from connector.language import resolve_language
from connector.model import Customer, Interaction, Triage
from connector.triage import triage_interaction
from webhooks.errors import MalformedPayloadError
from webhooks.generic_parse import parse_generic

EXTRA_KEYS = ("customer", "label")


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    interaction: Interaction
    customer: Customer | None
    label: dict[str, Any] | None


class BatchInputError(Exception):
    """A line of the input cannot be triaged; the message starts with ``file:line:``."""


def read_records(path: Path) -> Iterator[Record | BatchInputError]:
    """Yield one record per non-empty line, or the error that line has."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield _record(number, line)
            except BatchInputError as exc:
                yield BatchInputError(f"{path}:{number}: {exc}")


def _record(number: int, line: str) -> Record:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BatchInputError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise BatchInputError("each line must be a JSON object")
    body = {key: value for key, value in data.items() if key not in EXTRA_KEYS}
    try:
        (interaction,) = parse_generic(body, "triage").interactions
    except MalformedPayloadError as exc:
        raise BatchInputError(str(exc)) from None
    label = data.get("label")
    if label is not None and not isinstance(label, dict):
        raise BatchInputError("label: expected an object")
    return Record(number, interaction, _customer(data.get("customer")), label)


def _customer(value: Any) -> Customer | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BatchInputError("customer: expected an object with value and tier")
    amount = value.get("value")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | float)):
        raise BatchInputError("customer.value: expected a number")
    tier = value.get("tier")
    if tier is not None and not isinstance(tier, str):
        raise BatchInputError("customer.tier: expected a string")
    return Customer(
        system="file", customer_id="file", value=float(amount) if amount is not None else None, tier=tier
    )


def triage_record(record: Record, settings: TriageSettings) -> tuple[str, Triage]:
    """Return the language and the triage of one record, as the pipeline would."""
    item = record.interaction
    language = resolve_language(item.language, item.text, settings.languages, settings.default_language)
    triage = triage_interaction(replace(item, language=language), record.customer, settings)
    return language, triage


def result_row(record: Record, language: str, triage: Triage) -> dict[str, Any]:
    """The JSON object written per line by ``ventanilla triage --json``."""
    return {
        "external_id": record.interaction.external_id,
        "language": language,
        "nature": triage.nature,
        "sentiment": triage.sentiment,
        "sentiment_score": triage.sentiment_score,
        "pii": list(triage.pii),
        "risk": triage.risk,
        "influence": triage.influence,
        "value_score": triage.value_score,
        "priority": triage.priority,
        "channel": triage.channel,
        "crisis": triage.crisis,
        "explanation": triage.explanation,
    }
