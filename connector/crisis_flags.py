"""How a crisis marks its children: the crisis flag, at least P2, and a line saying why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from connector.crisis_topics import display_topic
from connector.model import Triage
from connector.routing import priority_rank
from connector.schema import interactions

CRISIS_FLOOR = "P2"
CHUNK = 500


@dataclass(frozen=True, slots=True)
class CrisisMark:
    """An interaction's part in a crisis, as its triage explains it."""

    crisis_id: int
    topic: str
    window_count: int


def counts_as_negative(triage: Triage) -> bool:
    """Only negative interactions (and safety reports, whatever their tone) feed crises."""
    return triage.sentiment == "neg" or triage.nature == "safety"


def crisis_label(topic: str, window_count: int, window_minutes: float) -> str:
    return f"crisis {display_topic(topic)} ({window_count} in {window_minutes:g} min)"


def flag_triage(
    triage: Triage, mark: CrisisMark, window_minutes: float, sla_hours: Mapping[str, float]
) -> Triage:
    """Mark a child of a crisis: crisis flag, at least P2 (SLA moved with it), and why.

    Idempotent: a triage already explained for this topic is returned unchanged.
    """
    marker = f"crisis {display_topic(mark.topic)} ("
    if triage.crisis and marker in triage.explanation:
        return triage
    priority, sla_due_at, explanation = triage.priority, triage.sla_due_at, triage.explanation
    if priority in sla_hours and priority_rank(priority) > priority_rank(CRISIS_FLOOR):
        if CRISIS_FLOOR in sla_hours:
            sla_due_at = min(
                sla_due_at, sla_due_at - timedelta(hours=sla_hours[priority] - sla_hours[CRISIS_FLOOR])
            )
        if explanation.startswith(f"{priority}:"):
            explanation = CRISIS_FLOOR + explanation[len(priority) :]
        priority = CRISIS_FLOOR
    label = crisis_label(mark.topic, mark.window_count, window_minutes)
    explanation = f"{explanation}; {label}" if explanation else label
    return replace(triage, crisis=True, priority=priority, sla_due_at=sla_due_at, explanation=explanation)


def flag_stored_triages(
    conn: Connection,
    interaction_ids: Iterable[int],
    mark: CrisisMark,
    window_minutes: float,
    sla_hours: Mapping[str, float],
) -> int:
    """Flag the stored triage of children already ticketed; return how many changed."""
    changed = 0
    for chunk in chunks(sorted(set(interaction_ids))):
        rows = conn.execute(
            select(interactions.c.id, interactions.c.triage).where(
                interactions.c.id.in_(chunk), interactions.c.triage.is_not(None)
            )
        ).all()
        for row in rows:
            stored = Triage.from_dict(row.triage)
            flagged = flag_triage(stored, mark, window_minutes, sla_hours)
            if flagged != stored:
                conn.execute(
                    update(interactions).where(interactions.c.id == row.id).values(triage=flagged.to_dict())
                )
                changed += 1
    return changed


def chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
