"""One batch's crisis detection, inside one write transaction (the rule: :mod:`connector.crisis`)."""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connector.config import CrisisSettings
from connector.crisis_flags import CrisisMark, chunks, flag_stored_triages
from connector.db import insert_ignore
from connector.outbox import JOB_CRISIS, enqueue
from connector.schema import crises, crisis_aliases, crisis_members, crisis_signals
from connector.store import Store

log = logging.getLogger("ventanilla.crisis")


@dataclass(frozen=True, slots=True)
class Signal:
    interaction_id: int
    topics: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class _Window:
    start: datetime
    end: datetime
    members: tuple[int, ...]


@dataclass
class _OpenCrisis:
    id: int
    topic: str
    window_start: datetime
    window_count: int
    topics: set[str] = field(default_factory=set)


class Detection:
    """One batch's detection, inside one write transaction."""

    def __init__(
        self, conn: Connection, settings: CrisisSettings, now: datetime, sla_hours: Mapping[str, float]
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.now = now
        self.sla_hours = sla_hours
        self.window = timedelta(minutes=settings.window_minutes)
        self.baseline = timedelta(hours=settings.baseline_hours)
        self.cooldown = timedelta(hours=settings.cooldown_hours)
        self.marks: dict[int, list[CrisisMark]] = {}

    def run(self, signals: list[Signal]) -> dict[int, list[CrisisMark]]:
        # Nothing older than this can fall in a window or a baseline that may still raise.
        horizon = self.now - self.cooldown - self.window - self.baseline
        self.conn.execute(delete(crisis_signals).where(crisis_signals.c.at < horizon))
        kept = [s for s in signals if s.at >= horizon]
        _insert_many_ignore(
            self.conn,
            crisis_signals,
            [{"topic": t, "interaction_id": s.interaction_id, "at": s.at} for s in kept for t in s.topics],
            ("topic", "interaction_id"),
        )
        by_topic: dict[str, list[Signal]] = {}
        for signal in kept:
            for topic in signal.topics:
                by_topic.setdefault(topic, []).append(signal)
        open_crises = self._open_crises(list(by_topic))
        for crisis in open_crises:
            for topic in sorted(crisis.topics & by_topic.keys()):
                self._join(crisis, by_topic[topic])
        covered = set().union(*(c.topics for c in open_crises))
        live = {
            topic: [s for s in found if s.at >= self.now - self.cooldown]
            for topic, found in by_topic.items()
            if topic not in covered
        }
        for topic in self._candidates({t: s for t, s in live.items() if s}):
            self._evaluate(topic, live[topic], open_crises)
        return self.marks

    # --- open crises -------------------------------------------------------------------

    def _open_crises(self, topics: list[str]) -> list[_OpenCrisis]:
        """The open crises on these topics (as main topic or alias); quiet ones are closed."""
        found: dict[int, _OpenCrisis] = {}
        for chunk in chunks(topics):
            main = select(crises).where(crises.c.state == "open", crises.c.topic.in_(chunk))
            aliased = (
                select(crises, crisis_aliases.c.topic.label("alias"))
                .join(crisis_aliases, crisis_aliases.c.crisis_id == crises.c.id)
                .where(crises.c.state == "open", crisis_aliases.c.topic.in_(chunk))
            )
            rows: list[Any] = [*self.conn.execute(main), *self.conn.execute(aliased)]
            for row in rows:
                crisis = found.get(int(row.id))
                if crisis is None:
                    if row.last_seen_at < self.now - self.cooldown:
                        self._close(int(row.id), row.topic)
                        continue
                    crisis = _OpenCrisis(int(row.id), row.topic, row.window_start, int(row.window_count))
                    crisis.topics.add(row.topic)
                    found[crisis.id] = crisis
                crisis.topics.add(getattr(row, "alias", None) or row.topic)
        return sorted(found.values(), key=lambda c: c.id)

    def _close(self, crisis_id: int, topic: str) -> None:
        self.conn.execute(
            update(crises)
            .where(crises.c.id == crisis_id, crises.c.state == "open")
            .values(state="closed", open_key=None, closed_at=self.now)
        )
        Store.audit(self.conn, "crisis", "crisis.closed", f"crisis:{crisis_id}", {"topic": topic})
        log.info("crisis %d on %s closed: quiet for %g h", crisis_id, topic, self.settings.cooldown_hours)

    def _join(self, crisis: _OpenCrisis, signals: Sequence[Signal]) -> None:
        """Add the signals written since the crisis's window began as its children."""
        joining = [s for s in signals if s.at > crisis.window_start]
        if not joining:
            return
        self._add_members(crisis, [s.interaction_id for s in joining])
        last = max(s.at for s in joining)
        self.conn.execute(
            update(crises)
            .where(crises.c.id == crisis.id, crises.c.last_seen_at < last)
            .values(last_seen_at=last)
        )
        self._refresh_count(crisis.id)
        mark = CrisisMark(crisis.id, crisis.topic, crisis.window_count)
        for signal in joining:
            self._mark(signal.interaction_id, mark)

    def _add_members(self, crisis: _OpenCrisis, interaction_ids: Sequence[int]) -> None:
        _insert_many_ignore(
            self.conn,
            crisis_members,
            [{"crisis_id": crisis.id, "interaction_id": i, "joined_at": self.now} for i in interaction_ids],
            ("crisis_id", "interaction_id"),
        )

    def _refresh_count(self, crisis_id: int) -> None:
        count = self.conn.execute(
            select(func.count()).select_from(crisis_members).where(crisis_members.c.crisis_id == crisis_id)
        ).scalar_one()
        self.conn.execute(update(crises).where(crises.c.id == crisis_id).values(interaction_count=int(count)))

    def _mark(self, interaction_id: int, mark: CrisisMark) -> None:
        found = self.marks.setdefault(interaction_id, [])
        if all(m.crisis_id != mark.crisis_id for m in found):
            found.append(mark)

    # --- raising -----------------------------------------------------------------------

    def _candidates(self, live: dict[str, list[Signal]]) -> list[str]:
        """Topics that may reach ``min_count``: one grouped count over all windows at once.

        The count spans every window holding one of the batch's signals, so it is never
        below the fullest one; only the few topics it lets through are looked at closely.
        Hashtags first, then the most talked-about, so a burst is named by its tag when it
        has one.
        """
        if not live:
            return []
        times = [s.at for found in live.values() for s in found]
        low, high = min(times) - self.window, max(times) + self.window
        counts: dict[str, int] = {}
        for chunk in chunks(sorted(live)):
            query = (
                select(crisis_signals.c.topic, func.count().label("n"))
                .where(
                    crisis_signals.c.topic.in_(chunk), crisis_signals.c.at > low, crisis_signals.c.at <= high
                )
                .group_by(crisis_signals.c.topic)
                .having(func.count() >= self.settings.min_count)
            )
            counts.update((row.topic, int(row.n)) for row in self.conn.execute(query))
        return sorted(counts, key=lambda t: (not t.startswith("#"), -counts[t], t))

    def _evaluate(self, topic: str, live: list[Signal], open_crises: list[_OpenCrisis]) -> None:
        window = self._fullest_window(topic, sorted({s.at for s in live}))
        if window is None:
            return
        count = len(window.members)
        baseline = self._baseline_per_window(topic, window)
        if count < self.settings.ratio * max(baseline, 1.0):
            return
        host = self._overlapping(window, open_crises)
        if host is not None:
            insert_ignore(
                self.conn, crisis_aliases, {"crisis_id": host.id, "topic": topic}, ("crisis_id", "topic")
            )
            host.topics.add(topic)
            self._join(host, live)
            return
        crisis = self._raise(topic, window, baseline)
        open_crises.append(crisis)
        self._join(crisis, live)

    def _fullest_window(self, topic: str, batch_times: list[datetime]) -> _Window | None:
        """The fullest window holding at least one of the batch's signals on ``topic``.

        Such a window ends at a stored signal within ``window`` after a batch signal, not
        only at the batch's own: a worker that processes the first half of a burst after
        another worker processed the second half must still see the whole burst.
        """
        low, high = batch_times[0], batch_times[-1] + self.window
        rows = self.conn.execute(
            select(crisis_signals.c.interaction_id, crisis_signals.c.at)
            .where(
                crisis_signals.c.topic == topic,
                crisis_signals.c.at > low - self.window,
                crisis_signals.c.at < high,
            )
            .order_by(crisis_signals.c.at, crisis_signals.c.interaction_id)
        ).all()
        times = [row.at for row in rows]
        best: tuple[int, int, datetime] | None = None  # (count, first index, end)
        for end in sorted({t for t in times if t >= low}):
            latest = bisect_right(batch_times, end)
            if latest == 0 or batch_times[latest - 1] <= end - self.window:
                continue  # no signal of this batch in that window
            first, last = bisect_right(times, end - self.window), bisect_right(times, end)
            if best is None or last - first >= best[0]:
                best = (last - first, first, end)
        if best is None or best[0] < self.settings.min_count:
            return None
        count, first, end = best
        members = tuple(int(row.interaction_id) for row in rows[first : first + count])
        return _Window(end - self.window, end, members)

    def _baseline_per_window(self, topic: str, window: _Window) -> float:
        before = self.conn.execute(
            select(func.count())
            .select_from(crisis_signals)
            .where(
                crisis_signals.c.topic == topic,
                crisis_signals.c.at > window.start - self.baseline,
                crisis_signals.c.at <= window.start,
            )
        ).scalar_one()
        return float(before) * (self.window / self.baseline)

    def _overlapping(self, window: _Window, open_crises: list[_OpenCrisis]) -> _OpenCrisis | None:
        """The open crisis already holding at least half of this window's interactions."""
        if not open_crises:
            return None
        by_id = {c.id: c for c in open_crises}
        shared: dict[int, int] = {}
        for chunk in chunks(list(window.members)):
            query = (
                select(crisis_members.c.crisis_id, func.count().label("n"))
                .where(
                    crisis_members.c.interaction_id.in_(chunk), crisis_members.c.crisis_id.in_(list(by_id))
                )
                .group_by(crisis_members.c.crisis_id)
            )
            for row in self.conn.execute(query):
                shared[int(row.crisis_id)] = shared.get(int(row.crisis_id), 0) + int(row.n)
        best = max(shared, key=lambda i: (shared[i], -i), default=None)
        if best is None or 2 * shared[best] < len(window.members):
            return None
        return by_id[best]

    def _raise(self, topic: str, window: _Window, baseline: float) -> _OpenCrisis:
        count = len(window.members)
        started = self.conn.execute(
            select(func.min(crisis_signals.c.at)).where(
                crisis_signals.c.topic == topic, crisis_signals.c.interaction_id.in_(list(window.members))
            )
        ).scalar_one()
        values = {
            "topic": topic,
            "open_key": topic,
            "state": "open",
            "started_at": started or window.end,
            "window_start": window.start,
            "window_count": count,
            "baseline_per_window": round(baseline, 3),
            "last_seen_at": window.end,
            "interaction_count": 0,
            "created_at": self.now,
        }
        crisis_id = insert_ignore(self.conn, crises, values, ("open_key",))
        if crisis_id is None:  # raised by someone else first: join theirs
            row = self.conn.execute(select(crises).where(crises.c.open_key == topic)).one()
            crisis = _OpenCrisis(int(row.id), topic, row.window_start, int(row.window_count), {topic})
        else:
            crisis = _OpenCrisis(crisis_id, topic, window.start, count, {topic})
            enqueue(self.conn, JOB_CRISIS, crisis_id, self.now)
            Store.audit(
                self.conn,
                "crisis",
                "crisis.raised",
                f"crisis:{crisis_id}",
                {"topic": topic, "count": count, "baseline_per_window": round(baseline, 3)},
            )
            log.warning(
                "crisis %d raised on %s: %d negative interactions in %g min (baseline %.2f per window)",
                crisis_id,
                topic,
                count,
                self.settings.window_minutes,
                baseline,
            )
        self._add_members(crisis, window.members)
        mark = CrisisMark(crisis.id, crisis.topic, crisis.window_count)
        flag_stored_triages(self.conn, window.members, mark, self.settings.window_minutes, self.sla_hours)
        for interaction_id in window.members:
            self._mark(interaction_id, mark)
        self._refresh_count(crisis.id)
        return crisis


def _insert_many_ignore(
    conn: Connection, table: Table, rows: list[dict[str, Any]], conflict: tuple[str, ...]
) -> None:
    """Insert rows in one round trip, skipping those that collide on ``conflict``."""
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        conn.execute(insert(table).on_conflict_do_nothing(index_elements=list(conflict)), rows)
        return
    for row in rows:
        insert_ignore(conn, table, row, conflict)
