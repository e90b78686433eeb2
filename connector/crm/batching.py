"""Plumbing every remote connector shares: chunking, in-call retries, a durable circuit breaker.

Connectors stay small by delegating here: they say which failures are transient
(:class:`RetryableError`) or mean "the desk is throttling us" (:class:`RateLimitedError`),
and this module decides how long to wait. The breaker lives in the store, so every worker
and process of a deployment honours a pause one of them hit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from connector.crm.base import ConnectorError
from connector.model import parse_datetime, utcnow

T = TypeVar("T")
log = logging.getLogger("ventanilla.crm")


class RetryableError(ConnectorError):
    """A transient failure (timeout, connection reset, 5xx) worth retrying within the call.

    ``retry_after_s`` is how long the desk asked us to wait (a ``Retry-After`` header, or
    the window of the limit a 429 names); without it the backoff is exponential.
    """

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RateLimitedError(ConnectorError):
    """The desk refuses calls until its quota recovers; the circuit breaker pauses the connector."""


class StateStore(Protocol):
    """The part of the store a breaker needs (``Store`` implements it)."""

    def get_state(self, scope: str, key: str) -> Any: ...

    def set_state(self, scope: str, key: str, value: Any) -> None: ...


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most ``size`` items (desk APIs cap records per call)."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def call_with_retries(
    call: Callable[[], T], attempts: int, *, initial_s: float = 0.5, max_s: float = 8.0
) -> T:
    """Run ``call``, retrying :class:`RetryableError` with exponential backoff and jitter.

    Only errors the connector classified as transient are retried; after the last attempt
    the error propagates and the dispatcher reschedules the whole job. An error that says
    how long to wait (``retry_after_s``) is retried after exactly that long.
    """
    backoff = wait_exponential(multiplier=initial_s, max=max_s) + wait_random(0, initial_s)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        asked = getattr(error, "retry_after_s", None)
        return float(asked) if asked is not None else float(backoff(state))

    retrying = Retrying(
        retry=retry_if_exception_type(RetryableError),
        stop=stop_after_attempt(max(attempts, 1)),
        wait=wait,
        reraise=True,
    )
    return retrying(call)


class CircuitBreaker:
    """Pause a connector after the desk throttles it, doubling the pause each time it recurs.

    State (``paused_until`` and the number of consecutive trips) is kept with
    ``set_state`` so a restart or another worker does not hammer a throttled desk.
    """

    def __init__(
        self,
        store: StateStore,
        scope: str,
        base_s: float,
        max_s: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.scope = scope
        self.base_s = base_s
        self.max_s = max_s
        self.clock = clock
        self._trips_seen = 0

    def _state(self) -> dict[str, Any]:
        value = self.store.get_state(self.scope, "paused_until")
        return value if isinstance(value, dict) else {}

    def check(self) -> None:
        """Raise :class:`RateLimitedError` while paused (so no request is made at all)."""
        state = self._state()
        self._trips_seen = int(state.get("trips", 0))
        until = state.get("until")
        if until and parse_datetime(until) > self.clock():
            raise RateLimitedError(f"{self.scope}: paused until {until} ({state.get('reason', 'throttled')})")

    def trip(self, reason: str, until_at: datetime | None = None) -> RateLimitedError:
        """Record a new pause and return the error to raise.

        The pause doubles with each consecutive trip, unless the desk named when its quota
        comes back (``until_at``, e.g. a daily limit's reset).
        """
        trips = int(self._state().get("trips", 0)) + 1
        pause = min(self.base_s * 2 ** (trips - 1), self.max_s)
        until = (until_at or self.clock() + timedelta(seconds=pause)).isoformat()
        self.store.set_state(self.scope, "paused_until", {"until": until, "trips": trips, "reason": reason})
        self._trips_seen = trips
        log.warning("%s: %s; paused until %s (pause %d)", self.scope, reason, until, trips)
        return RateLimitedError(f"{self.scope}: {reason}; paused until {until}")

    def succeeded(self) -> None:
        """A call went through: the next throttle starts again from the base pause."""
        if self._trips_seen:
            self.store.set_state(self.scope, "paused_until", {"until": None, "trips": 0})
            self._trips_seen = 0
