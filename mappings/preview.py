"""Show the fields a mapping would write for a sample payload, without touching any desk.

This is what ``ventanilla mappings preview`` runs: IT teams try a mapping on a saved
interaction before pointing a desk at it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from connector.model import Customer, Interaction, Triage
from mappings.loader import MappingError, load_mapping
from mappings.renderer import build_context, render_fields

# The default SLA for P3 (triage.sla_hours in the config); only used to fill in a triage
# the payload does not give.
_P3_SLA = timedelta(hours=24)
_Record = TypeVar("_Record")


def preview(
    mapping_path: str | os.PathLike[str],
    payload_path: str | os.PathLike[str],
    desk_name: str = "preview",
) -> dict[str, Any]:
    """Return the fields ``mapping_path`` would write for the interaction in ``payload_path``.

    The payload is JSON: ``interaction`` (as ``Interaction.to_dict()``, ``author``
    nested), and optionally ``customer`` and ``triage``. Without a triage, a neutral
    one with priority P3 stands in, so a mapping can be tried before triage exists.
    """
    mapping = load_mapping(mapping_path)
    interaction, customer, triage = _read_payload(Path(payload_path))
    context = build_context(interaction, interaction.author, customer, triage, desk_name)
    return render_fields(mapping, context)


def _read_payload(path: Path) -> tuple[Interaction, Customer | None, Triage]:
    """Read the payload file into canonical records; every failure names the file."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError([f"{path}: cannot read payload: {exc.strerror or exc}"]) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MappingError([f"{path}: payload is not valid JSON: {exc}"]) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("interaction"), dict):
        raise MappingError([f"{path}: payload must be a JSON object with an 'interaction' object"])
    interaction = _record(path, "interaction", lambda: Interaction.from_dict(payload["interaction"]))
    customer = (
        _record(path, "customer", lambda: Customer(**payload["customer"]))
        if payload.get("customer") is not None
        else None
    )
    triage = (
        _record(path, "triage", lambda: Triage.from_dict(payload["triage"]))
        if payload.get("triage") is not None
        else neutral_triage(interaction)
    )
    return interaction, customer, triage


def _record(path: Path, key: str, build: Callable[[], _Record]) -> _Record:
    """Build one record, turning the model's exceptions into a problem naming the key."""
    try:
        return build()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MappingError(
            [f"{path}: {key}: not a valid {key} record: {type(exc).__name__}: {exc}"]
        ) from None


def neutral_triage(interaction: Interaction) -> Triage:
    """Return the stand-in triage: neutral, public, P3, due one P3 SLA after the message."""
    return Triage(
        nature="other",
        sentiment="neutral",
        risk=0.0,
        influence=0.0,
        value_score=0.0,
        priority="P3",
        sla_due_at=interaction.created_at + _P3_SLA,
        channel="public",
        explanation="preview: no triage in the payload, neutral P3 assumed",
    )
