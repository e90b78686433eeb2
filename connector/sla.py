"""SLA clocks: when an answer is due, which threads wait for one, and how late they are.

**Unanswered.** A stored interaction waits for an answer when it

* has a triage (``interactions.triage``: it was ticketed, with ``priority`` and ``sla_due_at``),
* is the customer's (``from_brand`` false) and still on the platform (``removed`` false),
* sits on a ticket that is not resolved or closed (its ``thread_links`` row, found by desk
  and ticket id, has another status), and
* has no answer after it in its thread: no reply of ours in state ``posted`` with
  ``posted_at`` at or after its ``created_at``, and no message of the brand in the thread
  (``from_brand``, e.g. an agent answering natively on the platform, echoed back) created
  at or after it.

**One row per thread** (desk + thread key). Its clock is the *earliest* ``sla_due_at`` among
the thread's unanswered interactions, and it started when that interaction was written
(``created_at``); the row also names the thread's most urgent priority and quotes its
oldest unanswered text. The earliest due time, not the oldest interaction's: a P1 ("it is
smoking") after a P4 question must not wait three days.

``due_at`` counts business hours when configured (``triage.business_hours``): only the
configured days, between start and end, in the configured time zone; time is real elapsed
time, so a window crossing a DST change is an hour longer or shorter that day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from connector.config import BusinessHours
from connector.model import PRIORITIES, Triage, utcnow
from connector.schema import interactions, replies, thread_links
from connector.store import Store
from connector.store_links import FINISHED

TEXT_WIDTH = 80
_CHUNK = 500


# --- business time -----------------------------------------------------------------------


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def _window(day: date, hours: BusinessHours, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The business window opening on ``day`` (local), in UTC; None on a day off.

    An end at or before the start is an overnight window that closes the next day.
    """
    if day.weekday() not in hours.days:
        return None
    opens, closes = _clock(hours.start), _clock(hours.end)
    start = datetime.combine(day, opens, zone)
    end = datetime.combine(day + timedelta(days=1) if closes <= opens else day, closes, zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _windows(since: datetime, hours: BusinessHours) -> Iterable[tuple[datetime, datetime]]:
    """Business windows (UTC) that end after ``since``, in order, forever."""
    if not hours.days:
        raise ValueError("business hours without any day: an SLA would never fall due")
    zone = ZoneInfo(hours.timezone)
    day = since.astimezone(zone).date() - timedelta(days=1)  # yesterday's overnight window
    while True:
        window = _window(day, hours, zone)
        if window is not None and window[1] > since:
            yield max(window[0], since), window[1]
        day += timedelta(days=1)


def due_at(start: datetime, hours: float, business_hours: BusinessHours | None) -> datetime:
    """Return when ``hours`` of SLA time after ``start`` are used up (aware UTC).

    Wall-clock time without business hours; otherwise only business time counts, so a
    clock started outside hours starts at the next opening.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(UTC)
    remaining = timedelta(hours=hours)
    if business_hours is None or remaining <= timedelta(0):
        return start + remaining
    for opens, closes in _windows(start, business_hours):
        if remaining <= closes - opens:
            return opens + remaining
        remaining -= closes - opens
    raise AssertionError("unreachable: the windows never end")  # pragma: no cover


def business_time(start: datetime, end: datetime, business_hours: BusinessHours | None) -> timedelta:
    """Return how much SLA time passes between ``start`` and ``end`` (the inverse of :func:`due_at`)."""
    if end <= start:
        return timedelta(0)
    if business_hours is None:
        return end - start
    total = timedelta(0)
    for opens, closes in _windows(start.astimezone(UTC), business_hours):
        if opens >= end:
            return total
        total += min(closes, end) - opens
    raise AssertionError("unreachable: the windows never end")  # pragma: no cover


# --- the report --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaRow:
    """One thread waiting for an answer."""

    thread_key: str
    desk: str
    ticket_id: str
    ticket_number: str | None
    priority: str
    started_at: datetime
    due_at: datetime
    #: ``now - due_at``: positive when late, negative while time is left.
    overdue: timedelta
    platform: str
    permalink: str | None
    text: str
    unanswered: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "thread_key": self.thread_key,
            "desk": self.desk,
            "ticket_id": self.ticket_id,
            "ticket_number": self.ticket_number,
            "priority": self.priority,
            "started_at": self.started_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "overdue_seconds": int(self.overdue.total_seconds()),
            "platform": self.platform,
            "permalink": self.permalink,
            "text": self.text,
            "unanswered": self.unanswered,
        }


def shorten(text: str, width: int = TEXT_WIDTH) -> str:
    """One line of at most ``width`` characters, ending in … when cut."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def sla_report(store: Store, now: datetime | None = None, overdue_only: bool = False) -> list[SlaRow]:
    """Every thread waiting for an answer, most overdue first (see the module doc)."""
    now = now or utcnow()
    waiting = _open_interactions(store)
    answered = _last_answers(store, sorted({row.thread_key for row in waiting}))
    threads: dict[tuple[str, str], list[Any]] = {}
    for row in waiting:
        last = answered.get(row.thread_key)
        if last is None or last < row.created_at:
            threads.setdefault((row.desk, row.thread_key), []).append(row)
    report = [_row(members, now) for members in threads.values()]
    if overdue_only:
        report = [row for row in report if row.overdue > timedelta(0)]
    return sorted(report, key=lambda r: (-r.overdue, PRIORITIES.index(r.priority), r.thread_key))


def _open_interactions(store: Store) -> list[Any]:
    """Triaged customer interactions on tickets that are neither resolved nor closed."""
    query = (
        select(
            interactions.c.id,
            interactions.c.thread_key,
            interactions.c.desk,
            interactions.c.ticket_id,
            interactions.c.platform,
            interactions.c.permalink,
            interactions.c.text,
            interactions.c.created_at,
            interactions.c.triage,
            thread_links.c.ticket_number,
        )
        .join(
            thread_links,
            (thread_links.c.desk == interactions.c.desk)
            & (thread_links.c.ticket_id == interactions.c.ticket_id),
        )
        .where(
            interactions.c.triage.is_not(None),
            interactions.c.from_brand.is_(False),
            interactions.c.removed.is_(False),
            thread_links.c.status.not_in(sorted(FINISHED)),
        )
        .order_by(interactions.c.created_at, interactions.c.id)
    )
    with store.read() as conn:
        return [row for row in conn.execute(query) if isinstance(row.triage, dict)]


def _last_answers(store: Store, thread_keys: Sequence[str]) -> dict[str, datetime]:
    """The latest answer per thread: a posted reply of ours or a message of the brand."""
    latest: dict[str, datetime] = {}
    with store.read() as conn:
        for start in range(0, len(thread_keys), _CHUNK):
            chunk = list(thread_keys[start : start + _CHUNK])
            posted = (
                select(replies.c.thread_key, func.max(replies.c.posted_at).label("at"))
                .where(replies.c.thread_key.in_(chunk), replies.c.state == "posted")
                .group_by(replies.c.thread_key)
            )
            brand = (
                select(interactions.c.thread_key, func.max(interactions.c.created_at).label("at"))
                .where(interactions.c.thread_key.in_(chunk), interactions.c.from_brand.is_(True))
                .group_by(interactions.c.thread_key)
            )
            for query in (posted, brand):
                for row in conn.execute(query):
                    if row.at is not None and (
                        row.thread_key not in latest or row.at > latest[row.thread_key]
                    ):
                        latest[row.thread_key] = row.at
    return latest


def _row(members: list[Any], now: datetime) -> SlaRow:
    """Summarise one thread's unanswered interactions (oldest first)."""
    triages = [Triage.from_dict(m.triage) for m in members]
    deciding = min(range(len(members)), key=lambda i: (triages[i].sla_due_at, i))
    first, decider = members[0], members[deciding]
    due = triages[deciding].sla_due_at
    return SlaRow(
        thread_key=first.thread_key,
        desk=first.desk,
        ticket_id=decider.ticket_id,
        ticket_number=decider.ticket_number,
        priority=min((t.priority for t in triages), key=PRIORITIES.index),
        started_at=min(decider.created_at, due),
        due_at=due,
        overdue=now - due,
        platform=first.platform,
        permalink=decider.permalink or first.permalink,
        text=shorten(first.text or ""),
        unanswered=len(members),
    )


def format_duration(delta: timedelta) -> str:
    """``2d 3h``, ``3h 05m``, ``12m``: how late (or how early), without the sign."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def format_report(rows: Sequence[SlaRow], now: datetime | None = None) -> list[str]:
    """Lines for ``ventanilla sla report``: one per thread, most overdue first."""
    now = now or utcnow()
    if not rows:
        return [f"No thread is waiting for an answer ({now:%Y-%m-%d %H:%M} UTC)."]
    late = sum(row.overdue > timedelta(0) for row in rows)
    lines = [f"{len(rows)} thread(s) waiting for an answer, {late} overdue ({now:%Y-%m-%d %H:%M} UTC):"]
    for row in rows:
        when = f"{'LATE' if row.overdue > timedelta(0) else 'left'} {format_duration(row.overdue)}"
        ticket = row.ticket_number or row.ticket_id
        lines.append(
            f"  {row.priority}  {when:<12} {row.desk}/{ticket}  due {row.due_at:%Y-%m-%d %H:%M}  "
            f"{row.platform}  {row.thread_key}"
        )
        detail = f'      "{row.text}"' + (f"  ({row.unanswered} unanswered)" if row.unanswered > 1 else "")
        lines.append(detail + (f"  {row.permalink}" if row.permalink else ""))
    return lines
