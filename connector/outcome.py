"""What a stage did with a batch of jobs: which are done, which failed and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from connector.store import Job


@dataclass(frozen=True, slots=True)
class Failure:
    job: Job
    error: str
    permanent: bool
    retry_at: datetime | None = None


@dataclass
class BatchOutcome:
    """Collected per batch so the dispatcher settles every job exactly once."""

    done: list[Job] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)

    def fail(
        self, jobs: list[Job], error: str, permanent: bool = False, retry_at: datetime | None = None
    ) -> None:
        self.failed.extend(Failure(job, error, permanent, retry_at) for job in jobs)

    def fail_platform(self, jobs: list[Job], stage: str, error: Exception) -> None:
        """A platform call failed for now: retry at the platform's reset time when it gave one."""
        self.fail(jobs, f"{stage}: {error}", retry_at=getattr(error, "retry_at", None))
