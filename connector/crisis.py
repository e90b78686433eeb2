"""Crisis detection: a burst of negative interactions on one topic, far above its baseline.

The rule, per topic (a folded hashtag, or a key term of a text without hashtags; see
:mod:`connector.crisis_topics`):

* **signals**: every interaction whose triage is negative (or of nature safety), never the
  brand's own, records one signal per topic, timed at its ``created_at`` (never later
  than now, so a skewed clock cannot stretch a burst into the future);
* **window**: ``count`` = signals in ``(end - window_minutes, end]``, where ``end`` is each
  of the batch's signal times on the topic; the fullest window is kept;
* **baseline**: signals in ``(end - window - baseline_hours, end - window]``, as a rate per
  window;
* **raise** when ``count >= min_count`` and ``count >= ratio * max(baseline, 1)``, and the
  window ended less than ``cooldown_hours`` ago.

Time is the interactions' own: a replayed or reconciled backlog counts when it was written,
not when it reached us. A backlog from a quiet night is baseline, never a burst now; a
burst we only learn about late (missed webhooks fetched by the reconciler) still raises,
while it is recent enough to still be open (younger than the cooldown).

A crisis stays open while its topic keeps coming: interactions on the topic join it until
``cooldown_hours`` pass without any (closed lazily, the next time the topic is touched).
One burst often shares several topics (two hashtags, or "reembolso" and "devuelven"):
a topic whose window is mostly children of an open crisis becomes an alias of that crisis
instead of raising its own.

Raising is exactly-once: ``crises.open_key`` (the topic while open) is unique, so one open
crisis per topic, inserted with insert-ignore. On PostgreSQL every detection also takes one
advisory transaction lock, so detections take turns and each counts every committed
signal (without it, two workers each holding half of a burst would each see too little).
SQLite serialises writers anyway.

What follows a raise (the alert, the parent incident ticket, the links) runs in the
``crisis`` outbox job: see :mod:`connector.crisis_incident`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, select, text

from connector.crisis_detect import Detection, Signal
from connector.crisis_flags import CrisisMark, chunks, counts_as_negative, flag_triage
from connector.crisis_records import crisis_report, is_incident_ticket
from connector.crisis_topics import brand_words, topics_of
from connector.model import Interaction, Triage, utcnow
from connector.outbox import JOB_CRISIS, rerun
from connector.runtime import Runtime
from connector.schema import crisis_members
from connector.store import Store

__all__ = [
    "CrisisMark",
    "crisis_report",
    "detect_crises",
    "is_incident_ticket",
    "queue_crisis_links",
    "take_turn",
]
#: Any constant shared by every process; detections on PostgreSQL take turns on it.
PG_LOCK_KEY = 7_310_448_001


def detect_crises(
    runtime: Runtime, items: Sequence[Interaction], triages: Mapping[int | None, Triage]
) -> dict[int | None, Triage]:
    """Record the batch's signals, raise or join crises; return the triages with crisis flags.

    Runs before the batch's tickets are planned, so a child's ticket carries its raised
    priority; children stored earlier get their stored triage updated here.
    """
    settings = runtime.config.crisis
    result = dict(triages)
    if not settings.enabled:
        return result
    now = utcnow()
    excluded = brand_words([runtime.config.brand.name])
    signals = []
    for item in items:
        triage = triages.get(item.id)
        if item.id is None or item.from_brand or triage is None or not counts_as_negative(triage):
            continue
        topics = topics_of(item.text, excluded)
        if topics:
            signals.append(Signal(item.id, tuple(topics), min(item.created_at, now)))
    if not signals:
        return result
    sla_hours = runtime.config.triage.sla_hours
    with runtime.store.write() as conn:
        take_turn(conn)
        marks = Detection(conn, settings, now, sla_hours).run(signals)
    for interaction_id, found in marks.items():
        if interaction_id not in result:
            continue  # an earlier child: its stored triage was flagged in the transaction
        for mark in found:
            result[interaction_id] = flag_triage(
                result[interaction_id], mark, settings.window_minutes, sla_hours
            )
    return result


def queue_crisis_links(store: Store, interaction_ids: Sequence[int]) -> None:
    """Once a batch's tickets are recorded, have its crises link them to their parent ticket.

    Also catches children a concurrent worker added to a crisis while this batch was in
    flight: their crisis job then runs again (see :func:`connector.outbox.rerun`).
    """
    if not interaction_ids:
        return
    found: set[int] = set()
    with store.read() as conn:
        for chunk in chunks(list(interaction_ids)):
            found.update(
                int(crisis_id)
                for crisis_id in conn.execute(
                    select(crisis_members.c.crisis_id)
                    .where(crisis_members.c.interaction_id.in_(chunk), crisis_members.c.linked_at.is_(None))
                    .distinct()
                ).scalars()
            )
    if not found:
        return
    now = utcnow()
    with store.write() as conn:
        for crisis_id in sorted(found):
            rerun(conn, JOB_CRISIS, crisis_id, now)


def take_turn(conn: Connection) -> None:
    """On PostgreSQL, wait for other detections to commit (released at the end of the transaction)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
