"""Client-side rate limits any connector can share: a token bucket per account and budget.

Desk limits are usually "at most N requests in any rolling window of W seconds" (HubSpot:
190 per 10 s, search 4 per second). A classic bucket refilled at N/W lets up to 2N through
one rolling window (a full bucket, then the refill), which the desk answers with 429s.
Here every token comes back exactly W seconds after it was spent, so no rolling window
ever sees more than N requests, and a full-speed burst still gets all N at once.

Buckets are shared by every connector of the process that names the same key (one per
account and budget), so two desks on one account never exceed its limit together.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger("ventanilla.crm")


class TokenBucket:
    """At most ``capacity`` acquisitions in any window of ``window_s`` seconds; thread-safe.

    :meth:`acquire` blocks until a token is free. Waiters reserve the token that frees up
    next before sleeping, so concurrent callers queue in order instead of polling.
    """

    def __init__(
        self,
        capacity: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if capacity < 1 or window_s <= 0:
            raise ValueError("a bucket needs a capacity of at least 1 and a positive window")
        self.capacity = capacity
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._spent: deque[float] = deque()  # when each token in use was (or will be) spent
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; return how long to wait before using it (0 when one is free now)."""
        with self._lock:
            now = self._clock()
            while self._spent and self._spent[0] + self.window_s <= now:
                self._spent.popleft()
            if len(self._spent) < self.capacity:
                self._spent.append(now)
                return 0.0
            # Every token is in use: take the one that comes back first.
            at = self._spent.popleft() + self.window_s
            self._spent.append(at)
            return max(at - now, 0.0)

    def acquire(self) -> float:
        """Wait for a token; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def drain(self) -> None:
        """Mark every token as spent now: the desk said the window is used up (a 429)."""
        with self._lock:
            now = self._clock()
            self._spent = deque(max(now, t) for t in self._spent)
            self._spent.extend([now] * (self.capacity - len(self._spent)))


_buckets: dict[str, TokenBucket] = {}
_registry_lock = threading.Lock()


def shared_bucket(key: str, capacity: int, window_s: float) -> TokenBucket:
    """The process-wide bucket for ``key`` (an account and a budget), created on first use.

    Connectors on the same account must agree on its limits; the first one's apply, and
    a different configuration is logged rather than silently doubling the budget.
    """
    with _registry_lock:
        bucket = _buckets.get(key)
        if bucket is None:
            bucket = _buckets[key] = TokenBucket(capacity, window_s)
        elif (bucket.capacity, bucket.window_s) != (capacity, window_s):
            log.warning(
                "rate limit %s is already %d per %.1f s in this process; ignoring %d per %.1f s",
                key,
                bucket.capacity,
                bucket.window_s,
                capacity,
                window_s,
            )
        return bucket
