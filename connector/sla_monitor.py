"""Warn before an SLA is breached and when it is, once per thread and kind, inside ``serve``.

Each check reads :func:`connector.sla.sla_report`: a thread past ``sla.warn_at_fraction``
of its SLA time gets a *warning*, a thread past due a *breach* (a thread first seen late
gets the breach only). Every alert is logged; with ``sla.webhook_url`` it is also POSTed as
Slack-compatible JSON (``{"text": ...}``). An alert is remembered in ``connector_state``
(scope ``sla_alerts``) only once delivered, so a failed post is tried again on the next
check. Several ``serve`` processes may run the monitor: an alert is claimed in the store
before it is posted, so only one of them posts it (a claim left by a crashed process is
taken over after ``CLAIM_TIMEOUT``). Alerts name the ticket and thread, never the
customer's words: the channel they go to is not the desk.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from connector.http_session import ConfiguredSession
from connector.model import utcnow
from connector.runtime import Runtime
from connector.schema import connector_state
from connector.sla import SlaRow, business_time, due_at, format_duration, sla_report

log = logging.getLogger("ventanilla.sla")
SCOPE = "sla_alerts"
WEBHOOK_TIMEOUT_S = 10.0
#: A claim not turned into a sent alert by then is taken over by another check.
CLAIM_TIMEOUT = timedelta(minutes=5)
#: Remembered alerts are forgotten after this long (a thread still waiting would alert again).
FORGET_AFTER = timedelta(days=90)
WARNING, BREACH = "warning", "breach"


@dataclass(frozen=True, slots=True)
class SlaAlert:
    kind: str
    row: SlaRow
    message: str
    #: Posted to the webhook (or, without one, logged): it will not be sent again.
    delivered: bool


def alert_key(kind: str, row: SlaRow) -> str:
    """One key per thread, SLA period (its due time) and kind; short enough for any thread key."""
    digest = hashlib.sha256(f"{row.desk}\n{row.thread_key}\n{row.due_at.isoformat()}".encode())
    return f"{kind}:{digest.hexdigest()[:40]}"


def alert_message(kind: str, row: SlaRow) -> str:
    ticket = row.ticket_number or row.ticket_id
    if kind == BREACH:
        head = f":rotating_light: SLA breached by {format_duration(row.overdue)}"
    else:
        head = f":warning: SLA due in {format_duration(row.overdue)}"
    link = f" {row.permalink}" if row.permalink else ""
    return (
        f"{head}: {row.priority} ticket {ticket} (desk {row.desk}), {row.platform} thread "
        f"{row.thread_key}, due {row.due_at:%Y-%m-%d %H:%M} UTC, {row.unanswered} unanswered.{link}"
    )


class SlaMonitor:
    """Checks every ``sla.monitor_interval_seconds`` in a daemon thread; ``check`` runs one pass."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.config.sla
        self.business_hours = runtime.config.triage.business_hours
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one pass ------------------------------------------------------------------------

    def check(self, now: datetime | None = None) -> list[SlaAlert]:
        """Send the warnings and breaches not sent yet; return what was attempted."""
        now = now or utcnow()
        store = self.runtime.store
        due = [(kind, row) for row in sla_report(store, now) if (kind := self.kind(row, now))]
        sent = store.get_states(SCOPE, [alert_key(kind, row) for kind, row in due])
        alerts = []
        for kind, row in due:
            key = alert_key(kind, row)
            if (sent.get(key) or {}).get("sent") or not self._claim(key, row, now):
                continue
            message = alert_message(kind, row)
            log.warning("%s", message)
            delivered = self._post(message)
            self._settle(key, kind, row, now, delivered)
            alerts.append(SlaAlert(kind, row, message, delivered))
        self._forget(now)
        return alerts

    def kind(self, row: SlaRow, now: datetime) -> str | None:
        """``breach`` past due, ``warning`` past the warning fraction of its SLA time, else None."""
        if now >= row.due_at:
            return BREACH
        allowed = business_time(row.started_at, row.due_at, self.business_hours)
        fraction = self.settings.warn_at_fraction
        warn_at = due_at(row.started_at, allowed.total_seconds() * fraction / 3600, self.business_hours)
        return WARNING if now >= warn_at else None

    def _post(self, message: str) -> bool:
        """POST to the webhook; True when it took it (or there is none). The URL is never logged."""
        url = self.settings.webhook_url
        if not url:
            return True
        session = ConfiguredSession(None, WEBHOOK_TIMEOUT_S)
        try:
            response = session.post(url, json={"text": message}, timeout=WEBHOOK_TIMEOUT_S)
        except requests.RequestException as exc:
            log.warning(
                "SLA alert webhook unreachable (%s); trying again on the next check", type(exc).__name__
            )
            return False
        finally:
            session.close()
        if not 200 <= response.status_code < 300:
            log.warning("SLA alert webhook answered %d; trying again on the next check", response.status_code)
            return False
        return True

    # --- remembering alerts ------------------------------------------------------------------

    def _claim(self, key: str, row: SlaRow, now: datetime) -> bool:
        """Take the alert for this process: a new claim, or a stale one left by a crash."""
        value = {"sent": False, "thread_key": row.thread_key, "desk": row.desk, "claimed_at": now.isoformat()}
        where = (connector_state.c.scope == SCOPE) & (connector_state.c.key == key)
        with self.runtime.store.write() as conn:
            found = conn.execute(
                select(connector_state.c.value, connector_state.c.updated_at).where(where)
            ).first()
            if found is None:
                insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
                statement = insert(connector_state).on_conflict_do_nothing(index_elements=["scope", "key"])
                added = conn.execute(
                    statement, {"scope": SCOPE, "key": key, "value": value, "updated_at": now}
                )
                return bool(added.rowcount)
            if (found.value or {}).get("sent") or found.updated_at > now - CLAIM_TIMEOUT:
                return False
            taken = conn.execute(
                update(connector_state)
                .where(where, connector_state.c.updated_at == found.updated_at)
                .values(value=value, updated_at=now)
            )
            return bool(taken.rowcount)

    def _settle(self, key: str, kind: str, row: SlaRow, now: datetime, delivered: bool) -> None:
        """Remember a delivered alert; release the claim of a failed one so it is tried again."""
        where = (connector_state.c.scope == SCOPE) & (connector_state.c.key == key)
        with self.runtime.store.write() as conn:
            if not delivered:
                conn.execute(connector_state.delete().where(where))
                return
            value: dict[str, Any] = {
                "sent": True,
                "kind": kind,
                "thread_key": row.thread_key,
                "desk": row.desk,
                "ticket_id": row.ticket_id,
                "due_at": row.due_at.isoformat(),
                "sent_at": now.isoformat(),
            }
            conn.execute(update(connector_state).where(where).values(value=value, updated_at=now))

    def _forget(self, now: datetime) -> None:
        with self.runtime.store.write() as conn:
            conn.execute(
                connector_state.delete().where(
                    connector_state.c.scope == SCOPE, connector_state.c.updated_at < now - FORGET_AFTER
                )
            )

    # --- the schedule ------------------------------------------------------------------------

    def start(self) -> None:
        """Check now, then every ``sla.monitor_interval_seconds``, in a daemon thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="ventanilla-sla", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # a bug or an outage must not end the monitor
                log.exception(
                    "SLA check failed; trying again in %s s", self.settings.monitor_interval_seconds
                )
            if self._stop.wait(self.settings.monitor_interval_seconds):
                return
