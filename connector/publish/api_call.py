"""One retry policy for platform API calls (tenacity), shared by the Graph and X clients.

A call that was certainly not processed (a rate-limit answer whose reset is seconds
away) is retried in place. A transient failure (5xx, timeout, dropped connection) is
retried in place only for idempotent calls: a POST that creates a reply may have
reached the platform, so it goes back to the job, whose next attempt first looks for
the reply on the platform. Everything else surfaces to the caller unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_exponential_jitter

from connector.model import utcnow
from connector.publish.base import PublishError, RateLimitedError

log = logging.getLogger("ventanilla.publish")
T = TypeVar("T")
#: Rate-limit resets closer than this are waited for in place; later ones go to the outbox.
SHORT_WAIT_S = 5.0


class TransientError(PublishError):
    """The platform or the network failed; the request may or may not have been processed."""


def _retryable(idempotent: bool, short_wait_s: float) -> Callable[[RetryCallState], bool]:
    def decide(state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return False
        error = outcome.exception()
        if isinstance(error, RateLimitedError):
            return (error.retry_at - utcnow()).total_seconds() <= short_wait_s
        return idempotent and isinstance(error, TransientError)

    return decide


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, RateLimitedError):
        return max(0.0, (error.retry_at - utcnow()).total_seconds())
    return float(wait_exponential_jitter(initial=0.5, max=4)(state))


def call(
    operation: Callable[[], T],
    *,
    idempotent: bool,
    attempts: int,
    short_wait_s: float = SHORT_WAIT_S,
) -> T:
    """Run ``operation`` under the policy above; the last error is raised as it was."""
    retrying = Retrying(
        retry=_retryable(idempotent, short_wait_s),
        wait=_wait,
        stop=stop_after_attempt(attempts),
        reraise=True,
        before_sleep=lambda state: log.info(
            "retrying platform call after %s (attempt %d)",
            type(state.outcome.exception()).__name__ if state.outcome else "?",
            state.attempt_number,
        ),
    )
    return retrying(operation)
