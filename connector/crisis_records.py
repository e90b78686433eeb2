"""Crises as stored, and the report ``ventanilla crisis list`` shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from connector.config import CrisisSettings
from connector.crisis_topics import display_topic
from connector.model import utcnow
from connector.schema import crises
from connector.store import Store


@dataclass(frozen=True, slots=True)
class Crisis:
    id: int
    topic: str
    state: str
    started_at: datetime
    window_count: int
    baseline_per_window: float
    last_seen_at: datetime
    interaction_count: int
    desk: str | None
    parent_system: str | None
    parent_ticket_id: str | None
    parent_ticket_number: str | None
    alerted_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Crisis:
        return cls(
            int(row.id),
            row.topic,
            row.state,
            row.started_at,
            int(row.window_count),
            float(row.baseline_per_window),
            row.last_seen_at,
            int(row.interaction_count),
            row.desk,
            row.parent_system,
            row.parent_ticket_id,
            row.parent_ticket_number,
            row.alerted_at,
            row.closed_at,
        )


def load_crisis(store: Store, crisis_id: int) -> Crisis:
    with store.read() as conn:
        row = conn.execute(select(crises).where(crises.c.id == crisis_id)).first()
    if row is None:
        raise LookupError(f"crisis {crisis_id} is not in the store")
    return Crisis.from_row(row)


def summary(crisis: Crisis, window_minutes: float) -> str:
    return (
        f"Crisis: {display_topic(crisis.topic)} — {crisis.window_count} negative interactions "
        f"in {window_minutes:g} min"
    )


def crisis_report(
    store: Store, settings: CrisisSettings | None = None, days: float = 7.0
) -> list[dict[str, Any]]:
    """Open crises and those started in the last ``days``, newest first (``ventanilla crisis list``).

    With ``settings``, an open crisis quiet for longer than the cooldown reads as closed
    (it is closed for good the next time its topic comes up).
    """
    now = utcnow()
    since = now - timedelta(days=days)
    with store.read() as conn:
        rows = conn.execute(
            select(crises)
            .where((crises.c.state == "open") | (crises.c.started_at >= since))
            .order_by(crises.c.started_at.desc(), crises.c.id.desc())
        ).all()
    report = []
    for row in rows:
        crisis = Crisis.from_row(row)
        state = crisis.state
        quiet_since = None if settings is None else now - timedelta(hours=settings.cooldown_hours)
        if state == "open" and quiet_since is not None and crisis.last_seen_at < quiet_since:
            state = "closed"
        report.append(
            {
                "id": crisis.id,
                "topic": crisis.topic,
                "state": state,
                "count": crisis.interaction_count,
                "window_count": crisis.window_count,
                "baseline_per_window": crisis.baseline_per_window,
                "started_at": crisis.started_at.isoformat(),
                "last_seen_at": crisis.last_seen_at.isoformat(),
                "closed_at": crisis.closed_at.isoformat() if crisis.closed_at else None,
                "desk": crisis.desk,
                "parent_ticket_id": crisis.parent_ticket_id,
                "parent_ticket_number": crisis.parent_ticket_number,
                "alerted": crisis.alerted_at is not None,
                "alerted_at": crisis.alerted_at.isoformat() if crisis.alerted_at else None,
            }
        )
    return report


def is_incident_ticket(store: Store, system: str, ticket_id: str) -> bool:
    """Is this a crisis's parent ticket? (Its resolution answers no social thread.)"""
    with store.read() as conn:
        found = conn.execute(
            select(crises.c.id).where(
                crises.c.parent_system == system, crises.c.parent_ticket_id == ticket_id
            )
        ).first()
    return found is not None
