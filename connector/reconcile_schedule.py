"""Run the reconciliation poller on a schedule inside ``serve`` (``reconcile.interval_minutes``).

One daemon thread; a failing run is logged and the next one still happens. Several
``serve`` processes may each run it: ingestion is idempotent, so the cost is API calls only.
"""

from __future__ import annotations

import logging
import threading

from connector.reconcile import reconcile
from connector.runtime import Runtime

log = logging.getLogger("ventanilla.reconcile")


class ReconcileSchedule:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.interval_s = runtime.config.reconcile.interval_minutes * 60
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the schedule, unless it is turned off (interval 0)."""
        if self.interval_s <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="ventanilla-reconcile", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> int:
        """One reconciliation; returns how many interactions were recovered."""
        report = reconcile(self.runtime)
        for line in report.lines():
            log.log(logging.INFO if report.ok else logging.WARNING, "reconcile: %s", line)
        return report.total_recovered

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # a bug or an outage must not end the schedule
                log.exception("reconciliation run failed")
