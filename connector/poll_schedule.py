"""Poll desks for status changes on a schedule inside ``serve`` (``desks[].poll_interval_minutes``).

SOAP desks cannot call us back, so polling is how a resolved incident becomes a reply.
One daemon thread serves every polled desk; a failing poll is logged and retried at the
next tick, and a paused connector (bad credentials) simply fails until it is fixed.
Recording changes is idempotent, so several ``serve`` processes may poll the same desk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from connector.crm.base import ConnectorError
from connector.poll import poll_desk, pollable_desks
from connector.runtime import Runtime

log = logging.getLogger("ventanilla.poll")
TICK_S = 5.0


class PollSchedule:
    """Runs :func:`connector.poll.poll_desk` for each due desk."""

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.monotonic) -> None:
        self.runtime = runtime
        self.clock = clock
        self.intervals = {
            name: runtime.config.desk(name).poll_interval_minutes * 60 for name in pollable_desks(runtime)
        }
        self.intervals = {name: s for name, s in self.intervals.items() if s > 0}
        self._next: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start polling (the first poll of each desk happens at once), unless nothing is polled."""
        if not self.intervals:
            return
        self._thread = threading.Thread(target=self._loop, name="ventanilla-poll", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_due(self) -> list[str]:
        """Poll every desk whose interval has passed; return the desks polled."""
        now = self.clock()
        polled = []
        for name, interval in self.intervals.items():
            if self._next.get(name, now) > now:
                continue
            self._next[name] = now + interval
            polled.append(name)
            try:
                poll_desk(self.runtime, name)
            except ConnectorError as exc:
                log.warning("polling %s failed: %s", name, exc)
            except Exception:  # a bug or an outage must not end the schedule
                log.exception("polling %s failed", name)
        return polled

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            self._stop.wait(min(TICK_S, *self.intervals.values()))
