"""SLA: business-time arithmetic, the unanswered-thread report, and the monitor's alerts."""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time as clock
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from connector.config import BusinessHours, Config, config_from_dict
from connector.crm.local import list_local_tickets, resolve_ticket
from connector.dispatcher import Dispatcher
from connector.model import utcnow
from connector.runtime import Runtime
from connector.schema import interactions
from connector.sla import business_time, due_at, format_report, shorten, sla_report
from connector.sla_monitor import CLAIM_TIMEOUT, SlaMonitor, alert_key
from connector.store import Store
from tests.conftest import META_PAGE_ID, base_config
from tests.signing import compact, post_meta
from webhooks import create_app

MADRID = ZoneInfo("Europe/Madrid")
OFFICE = BusinessHours()  # Monday to Friday, 09:00-18:00, Europe/Madrid


def madrid(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MADRID)


# --- due_at ----------------------------------------------------------------------------------


def test_without_business_hours_the_clock_is_the_wall_clock() -> None:
    start = datetime(2025, 11, 21, 16, 30, tzinfo=UTC)
    assert due_at(start, 72, None) == start + timedelta(hours=72)
    assert due_at(madrid(2025, 11, 21, 17, 30), 1, None) == madrid(2025, 11, 21, 18, 30)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Friday 17:30 + 1 h: half an hour on Friday, half an hour on Monday.
        (madrid(2025, 11, 21, 17, 30), 1, madrid(2025, 11, 24, 9, 30)),
        # Inside one day.
        (madrid(2025, 11, 18, 10, 0), 4, madrid(2025, 11, 18, 14, 0)),
        # Exactly the rest of the day ends at closing time, not at the next opening.
        (madrid(2025, 11, 18, 10, 0), 8, madrid(2025, 11, 18, 18, 0)),
        # Before opening, after closing, on a Saturday: the clock starts at the next opening.
        (madrid(2025, 11, 18, 7, 0), 1, madrid(2025, 11, 18, 10, 0)),
        (madrid(2025, 11, 18, 20, 0), 1, madrid(2025, 11, 19, 10, 0)),
        (madrid(2025, 11, 22, 10, 0), 2, madrid(2025, 11, 24, 11, 0)),
        # 72 business hours are eight working days: Monday 09:00 → the next Wednesday 18:00.
        (madrid(2025, 11, 17, 9, 0), 72, madrid(2025, 11, 26, 18, 0)),
        # Across the end of summer time (Sunday 26 October 2025): still 10:00 on Monday.
        (madrid(2025, 10, 24, 17, 0), 2, madrid(2025, 10, 27, 10, 0)),
        # Across its start (Sunday 30 March 2025).
        (madrid(2025, 3, 28, 17, 0), 2, madrid(2025, 3, 31, 10, 0)),
    ],
)
def test_business_hours_by_hand(start: datetime, hours: float, expected: datetime) -> None:
    found = due_at(start, hours, OFFICE)
    assert found == expected and found.tzinfo is UTC
    assert business_time(start, found, OFFICE) == timedelta(hours=hours)


def test_the_autumn_change_makes_a_night_window_an_hour_longer() -> None:
    night = BusinessHours(days=[6], start="00:00", end="06:00")
    sunday = madrid(2025, 10, 26, 0, 0)  # 00:00 CEST; 06:00 CET is seven real hours later
    assert due_at(sunday, 6.5, night) == madrid(2025, 10, 26, 5, 30)
    assert due_at(sunday, 6.5, night) - sunday == timedelta(hours=6.5)
    spring = madrid(2025, 3, 30, 0, 0)  # 00:00 CET; 06:00 CEST is five real hours later
    assert due_at(spring, 5, night) == madrid(2025, 3, 30, 6, 0)
    assert due_at(spring, 5.5, night) == madrid(2025, 4, 6, 0, 30)


def test_an_overnight_shift_closes_the_next_morning() -> None:
    shift = BusinessHours(timezone="UTC", days=[4], start="22:00", end="06:00")  # Friday night
    friday = datetime(2025, 11, 21, 23, 0, tzinfo=UTC)
    assert due_at(friday, 6, shift) == datetime(2025, 11, 22, 5, 0, tzinfo=UTC)
    assert due_at(friday, 8, shift) == datetime(2025, 11, 28, 23, 0, tzinfo=UTC)


def test_no_business_day_at_all_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError, match="without any day"):
        due_at(madrid(2025, 11, 21, 10, 0), 1, BusinessHours(days=[]))


def _in_hours(moment: datetime, hours: BusinessHours) -> bool:
    """Independent of the module: is ``moment`` inside a business window (minute resolution)?"""
    local = moment.astimezone(ZoneInfo(hours.timezone))
    opens, closes = (int(v[:2]) * 60 + int(v[3:]) for v in (hours.start, hours.end))
    minute = local.hour * 60 + local.minute
    if closes > opens:
        return local.weekday() in hours.days and opens <= minute < closes
    yesterday = (local.weekday() - 1) % 7
    return (local.weekday() in hours.days and minute >= opens) or (
        yesterday in hours.days and minute < closes
    )


SCHEDULES = [
    OFFICE,
    BusinessHours(timezone="America/New_York", days=[0, 1, 2, 3, 4, 5], start="08:30", end="17:15"),
    BusinessHours(timezone="Australia/Sydney", days=[0, 2, 4], start="22:00", end="06:00"),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=["madrid", "new-york", "sydney-nights"])
def test_business_time_properties(schedule: BusinessHours) -> None:
    """For random starts through a year (DST changes included) and random SLA lengths."""
    rng = random.Random(20251122)
    year = datetime(2025, 1, 1, tzinfo=UTC)
    for _ in range(40):
        start = year + timedelta(minutes=rng.randrange(365 * 24 * 60))
        hours = rng.choice([0.25, 1, 2.5, 4, 9, 24, 72]) * rng.choice([1, 1, 0.5])
        due = due_at(start, hours, schedule)
        assert due > start
        assert business_time(start, due, schedule) == timedelta(hours=hours)
        assert _in_hours(due - timedelta(minutes=1), schedule)
        assert due_at(start, hours + 0.5, schedule) > due
        if hours <= 4:  # count business minutes one by one, with no help from the module
            minutes = sum(
                _in_hours(start + timedelta(minutes=m), schedule)
                for m in range(int((due - start).total_seconds() // 60))
            )
            assert abs(minutes - hours * 60) <= 1


# --- the report ------------------------------------------------------------------------------

T0 = (utcnow() - timedelta(days=2)).replace(second=0, microsecond=0)
KETTLE = (
    "The kettle I bought last month stopped working after two days and the shop will not "
    "answer my emails at all"
)


def feed(
    post: str, comment_id: str, text: str, created: datetime, user: str = "3450000000000001", **more: Any
) -> bytes:
    value = {
        "from": {"id": user, "name": "Someone"},
        "message": text,
        "post_id": f"{META_PAGE_ID}_{post}",
        "comment_id": comment_id,
        "created_time": int(created.timestamp()),
        "item": "comment",
        "parent_id": f"{META_PAGE_ID}_{post}",
        "verb": "add",
        **more,
    }
    change = {"field": "feed", "value": value}
    return compact(
        {"object": "page", "entry": [{"id": META_PAGE_ID, "time": 1763800000, "changes": [change]}]}
    )


def send(client: FlaskClient, body: bytes) -> None:
    response = post_meta(client, body)
    assert response.status_code == 200, response.get_data(as_text=True)


def set_triage(store: Store, external_id: str, priority: str, due: datetime) -> None:
    """Pin the triage so the test does not depend on the lexicons."""
    with store.engine.begin() as conn:
        row = conn.execute(select(interactions).where(interactions.c.external_id == external_id)).one()
        triage = {**row.triage, "priority": priority, "sla_due_at": due.isoformat()}
        conn.execute(update(interactions).where(interactions.c.id == row.id).values(triage=triage))


def ticket_of(store: Store, post: str) -> str:
    (ticket,) = [
        t for t in list_local_tickets(store) if t["thread_key"].endswith(post) and t["status"] == "open"
    ]
    return str(ticket["id"])


@pytest.fixture
def scenario(any_store: Store, tmp_path: Path) -> tuple[Store, Config]:
    """Five threads: waiting (two messages), answered by the brand, resolved, reopened, removed."""
    config = config_from_dict(base_config(tmp_path, database_url=any_store.url), base_dir=str(tmp_path))
    store = any_store
    client = create_app(config, store=store).test_client()
    dispatch = Dispatcher(Runtime(config, store)).run_until_idle
    send(client, feed("1001", "1001_1", KETTLE, T0))
    send(
        client,
        feed(
            "1001",
            "1001_2",
            "Mine smokes when I switch it on",
            T0 + timedelta(hours=1),
            user="3450000000000002",
        ),
    )
    send(client, feed("1002", "1002_1", "Do you ship to the Canary Islands?", T0))
    send(client, feed("1003", "1003_1", "Where is my refund?", T0))
    send(client, feed("1004", "1004_1", "My order arrived broken", T0))
    send(client, feed("1005", "1005_1", "Your app is slow", T0))
    dispatch()
    set_triage(store, "1001_1", "P4", T0 + timedelta(hours=24))
    set_triage(store, "1001_2", "P1", T0 + timedelta(hours=2))
    set_triage(store, "1002_1", "P3", T0 + timedelta(hours=4))
    set_triage(store, "1003_1", "P2", T0 + timedelta(hours=1))
    # 1002: the page answers on Facebook itself.
    send(
        client,
        feed(
            "1002",
            "1002_2",
            "Yes, 3-5 days",
            T0 + timedelta(minutes=30),
            user=META_PAGE_ID,
            parent_id=f"{META_PAGE_ID}_1002",
        ),
    )
    # 1003: resolved in the desk.
    resolve_ticket(store, ticket_of(store, "1003"), "refunded")
    # 1004: resolved and answered, then the customer writes again (after our reply).
    resolve_ticket(store, ticket_of(store, "1004"), "replaced")
    dispatch()
    send(client, feed("1004", "1004_2", "The replacement is broken too", utcnow() + timedelta(minutes=1)))
    # 1005: the customer deleted the comment.
    send(client, feed("1005", "1005_1", "", T0, verb="remove"))
    dispatch()
    set_triage(store, "1004_2", "P2", T0 + timedelta(hours=10))
    return store, config


def test_the_report_lists_each_waiting_thread_once_most_overdue_first(scenario: tuple[Store, Config]) -> None:
    store, _ = scenario
    now = T0 + timedelta(hours=3)
    rows = sla_report(store, now)
    assert [row.thread_key.rsplit("_", 1)[-1] for row in rows] == ["1001", "1004"]
    waiting, reopened = rows
    # The earliest due time of the thread decides, with its most urgent priority; the text is the oldest.
    assert (waiting.priority, waiting.due_at, waiting.overdue) == (
        "P1",
        T0 + timedelta(hours=2),
        timedelta(hours=1),
    )
    assert waiting.started_at == T0 + timedelta(hours=1) and waiting.unanswered == 2
    assert waiting.text == shorten(KETTLE) and len(waiting.text) == 80 and waiting.text.endswith("…")
    assert (waiting.desk, waiting.platform, waiting.ticket_number) == (
        "support",
        "facebook",
        f"L-{int(waiting.ticket_id):06d}",
    )
    assert (reopened.unanswered, reopened.text, reopened.overdue) == (
        1,
        "The replacement is broken too",
        -timedelta(hours=7),
    )
    assert [r.thread_key for r in sla_report(store, now, overdue_only=True)] == [waiting.thread_key]
    json.dumps([row.to_dict() for row in rows])


def test_the_report_reads_well(scenario: tuple[Store, Config]) -> None:
    store, _ = scenario
    now = T0 + timedelta(hours=3)
    lines = format_report(sla_report(store, now), now)
    assert lines[0].startswith("2 thread(s) waiting for an answer, 1 overdue")
    assert "P1  LATE 1h 00m" in lines[1] and "support/L-" in lines[1]
    assert lines[2].startswith('      "The kettle') and "(2 unanswered)" in lines[2]
    assert "P2  left 7h 00m" in lines[3]
    assert format_report([], now) == [f"No thread is waiting for an answer ({now:%Y-%m-%d %H:%M} UTC)."]


# --- the monitor -----------------------------------------------------------------------------


class Receiver:
    """A local Slack-like webhook that records every POST and can fail the first ones."""

    def __init__(self, failures: int = 0) -> None:
        self.posts: list[dict[str, Any]] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                receiver.posts.append({"type": self.headers["Content-Type"], "json": json.loads(body)})
                status = 500 if receiver.failures else 200
                receiver.failures = max(0, receiver.failures - 1)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/sla"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def texts(self) -> list[str]:
        return [post["json"]["text"] for post in self.posts]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def monitored(
    tmp_path: Path, sla: dict[str, Any], created: datetime, due: datetime, **more: Any
) -> tuple[Runtime, Store]:
    """One waiting Facebook comment, written at ``created`` and due at ``due``."""
    config = config_from_dict(base_config(tmp_path, sla=sla, **more), base_dir=str(tmp_path))
    store = Store(config.database_url)
    store.create_schema()
    client = create_app(config, store=store).test_client()
    send(client, feed("2001", "2001_1", "My order never arrived", created))
    runtime = Runtime(config, store)
    Dispatcher(runtime).run_until_idle()
    set_triage(store, "2001_1", "P2", due)
    return runtime, store


def test_a_warning_then_a_breach_each_sent_once(tmp_path: Path, receiver: Receiver) -> None:
    runtime, store = monitored(
        tmp_path, {"webhook_url": receiver.url, "warn_at_fraction": 0.5}, T0, T0 + timedelta(hours=4)
    )
    monitor = SlaMonitor(runtime)
    assert monitor.check(T0 + timedelta(hours=1)) == []
    (warning,) = monitor.check(T0 + timedelta(hours=2, minutes=1))
    assert (warning.kind, warning.delivered) == ("warning", True)
    assert monitor.check(T0 + timedelta(hours=3)) == []
    (breach,) = monitor.check(T0 + timedelta(hours=5))
    assert (breach.kind, breach.delivered) == ("breach", True)
    assert monitor.check(T0 + timedelta(hours=6)) == []
    assert [post["type"] for post in receiver.posts] == ["application/json"] * 2
    first, second = receiver.texts()
    assert first.startswith(":warning: SLA due in 1h 59m: P2 ticket L-") and "facebook thread" in first
    assert second.startswith(":rotating_light: SLA breached by 1h 00m: P2 ticket L-")
    assert "My order" not in first + second  # the customer's words stay in the desk
    store.dispose()


def test_a_thread_first_seen_late_gets_the_breach_only(tmp_path: Path, receiver: Receiver) -> None:
    runtime, store = monitored(tmp_path, {"webhook_url": receiver.url}, T0, T0 + timedelta(hours=4))
    assert [a.kind for a in SlaMonitor(runtime).check(T0 + timedelta(hours=9))] == ["breach"]
    assert len(receiver.posts) == 1
    store.dispose()


def test_a_failed_post_is_retried_on_the_next_check(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    failing = Receiver(failures=1)
    runtime, store = monitored(tmp_path, {"webhook_url": failing.url}, T0, T0 + timedelta(hours=4))
    monitor = SlaMonitor(runtime)
    with caplog.at_level(logging.WARNING, "ventanilla.sla"):
        (first,) = monitor.check(T0 + timedelta(hours=5))
    assert not first.delivered and "answered 500" in caplog.text and failing.url not in caplog.text
    (second,) = monitor.check(T0 + timedelta(hours=5, minutes=1))
    assert second.delivered and second.kind == "breach"
    assert monitor.check(T0 + timedelta(hours=5, minutes=2)) == []
    assert len(failing.posts) == 2
    failing.close()
    store.dispose()


def test_an_unreachable_webhook_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    runtime, store = monitored(tmp_path, {"webhook_url": closed}, T0, T0 + timedelta(hours=4))
    with caplog.at_level(logging.WARNING, "ventanilla.sla"):
        (alert,) = SlaMonitor(runtime).check(T0 + timedelta(hours=5))
    assert not alert.delivered and "unreachable (ConnectionError)" in caplog.text
    store.dispose()


def test_without_a_webhook_alerts_are_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    runtime, store = monitored(tmp_path, {}, T0, T0 + timedelta(hours=4))
    monitor = SlaMonitor(runtime)
    with caplog.at_level(logging.WARNING, "ventanilla.sla"):
        (alert,) = monitor.check(T0 + timedelta(hours=5))
        assert monitor.check(T0 + timedelta(hours=6)) == []
    assert alert.delivered
    assert [r.getMessage() for r in caplog.records if "SLA breached" in r.getMessage()] == [alert.message]
    store.dispose()


def test_the_warning_counts_business_time(tmp_path: Path, receiver: Receiver) -> None:
    # Friday 16:00 Madrid, due Monday 11:00: four business hours, so the warning (half) is at 18:00 Friday.
    friday, monday = madrid(2025, 11, 21, 16, 0), madrid(2025, 11, 24, 11, 0)
    runtime, store = monitored(
        tmp_path,
        {"webhook_url": receiver.url, "warn_at_fraction": 0.5},
        friday,
        monday,
        triage={"business_hours": {"timezone": "Europe/Madrid"}},
    )
    monitor = SlaMonitor(runtime)
    assert monitor.check(madrid(2025, 11, 21, 17, 30)) == []
    assert [a.kind for a in monitor.check(madrid(2025, 11, 22, 12, 0))] == ["warning"]
    store.dispose()


def test_a_claim_by_another_process_is_respected_until_it_goes_stale(
    tmp_path: Path, receiver: Receiver
) -> None:
    runtime, store = monitored(tmp_path, {"webhook_url": receiver.url}, T0, T0 + timedelta(hours=4))
    now = T0 + timedelta(hours=5)
    crashed, survivor = SlaMonitor(runtime), SlaMonitor(runtime)
    (row,) = sla_report(store, now)
    assert crashed._claim(alert_key("breach", row), row, now)  # then it died before posting
    assert survivor.check(now + timedelta(minutes=1)) == []
    assert [a.kind for a in survivor.check(now + CLAIM_TIMEOUT + timedelta(minutes=1))] == ["breach"]
    assert len(receiver.posts) == 1
    store.dispose()


def test_the_schedule_survives_a_failing_check(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, store = monitored(
        tmp_path,
        {"webhook_url": receiver.url, "monitor_interval_seconds": 0.05},
        T0,
        T0 + timedelta(hours=1),  # long past due on the real clock
    )
    import connector.sla_monitor as module

    calls = {"n": 0}
    real = sla_report

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "sla_report", flaky)
    monitor = SlaMonitor(runtime)
    with caplog.at_level(logging.ERROR, "ventanilla.sla"):
        monitor.start()
        deadline = clock.monotonic() + 10
        while not receiver.posts and clock.monotonic() < deadline:
            clock.sleep(0.02)
        monitor.stop()
    assert len(receiver.posts) == 1 and calls["n"] >= 2
    assert "SLA check failed" in caplog.text
    assert monitor._thread is None
    store.dispose()
