"""The embedded dispatcher: worker threads that claim leased outbox jobs in batches.

A job that fails is retried at a time stored in the database (exponential backoff with
jitter); after the last try it becomes a dead letter. A worker that dies mid-batch
leaves its lease to expire, and another worker takes the jobs over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from connector.crisis_incident import handle_crisis_jobs
from connector.moderation import hide_comments
from connector.outbox import JOB_CRISIS
from connector.outcome import BatchOutcome
from connector.pipeline import process_interactions
from connector.runtime import Runtime
from connector.store import JOB_HIDE, JOB_PROCESS, JOB_PUBLISH, JOB_SYNC, Job
from connector.sync import publish_replies, sync_status_changes

log = logging.getLogger("ventanilla.dispatcher")
Handler = Callable[[Runtime, Sequence[Job]], BatchOutcome]
HANDLERS: dict[str, Handler] = {
    JOB_PROCESS: process_interactions,
    JOB_SYNC: sync_status_changes,
    JOB_PUBLISH: publish_replies,
    JOB_HIDE: hide_comments,
    JOB_CRISIS: handle_crisis_jobs,
}


def worker_name() -> str:
    """A lease owner that is unique per process and thread start."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    """Claims due jobs kind by kind and settles each one exactly once per attempt."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.config.dispatcher
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def run_once(self, owner: str | None = None) -> int:
        """Claim and handle one batch of every kind; return how many jobs were handled."""
        owner = owner or worker_name()
        handled = 0
        for kind, handler in HANDLERS.items():
            jobs = self.runtime.store.claim_jobs(
                [kind], self.settings.batch_size, self.settings.lease_seconds, owner
            )
            if not jobs:
                continue
            handled += len(jobs)
            self._settle(jobs, self._handle(handler, jobs))
        return handled

    def _handle(self, handler: Handler, jobs: list[Job]) -> BatchOutcome:
        try:
            return handler(self.runtime, jobs)
        except Exception as exc:  # a bug or an outage must not kill the worker or lose the jobs
            log.exception("batch of %d %s job(s) failed", len(jobs), jobs[0].kind)
            outcome = BatchOutcome()
            outcome.fail(jobs, f"{type(exc).__name__}: {exc}")
            return outcome

    def _settle(self, jobs: list[Job], outcome: BatchOutcome) -> None:
        store = self.runtime.store
        store.complete_jobs(outcome.done)
        for failure in outcome.failed:
            dead = store.fail_job(
                failure.job,
                failure.error,
                self.settings.max_attempts,
                self.settings.backoff_base_seconds,
                self.settings.backoff_max_seconds,
                permanent=failure.permanent,
                retry_at=failure.retry_at,
            )
            level = logging.ERROR if dead else logging.WARNING
            log.log(
                level,
                "%s job %d %s: %s",
                failure.job.kind,
                failure.job.id,
                "dead-lettered" if dead else f"retry after attempt {failure.job.attempts}",
                failure.error,
            )
        settled = {job.id for job in outcome.done} | {f.job.id for f in outcome.failed}
        missing = [job for job in jobs if job.id not in settled]
        if missing:
            log.error("%d job(s) left unsettled by their handler; their leases will expire", len(missing))

    def run_until_idle(self, timeout: float = 30.0) -> int:
        """Handle due jobs until none are left (for the demo, the CLI and tests)."""
        deadline = time.monotonic() + timeout
        total = 0
        owner = worker_name()
        while time.monotonic() < deadline:
            handled = self.run_once(owner)
            total += handled
            if handled == 0:
                return total
        return total

    def start(self) -> None:
        """Start the worker threads."""
        self._stop.clear()
        for index in range(self.settings.workers):
            thread = threading.Thread(target=self._loop, name=f"ventanilla-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the workers to finish their batch and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _loop(self) -> None:
        owner = worker_name()
        while not self._stop.is_set():
            try:
                handled = self.run_once(owner)
            except Exception:  # the database may be briefly unavailable: back off, keep going
                log.exception("worker %s could not claim jobs", owner)
                handled = 0
            if handled == 0:
                self._stop.wait(self.settings.poll_interval_seconds)
