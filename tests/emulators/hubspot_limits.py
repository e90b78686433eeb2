"""HubSpot emulator: the rate limits it enforces and the ``X-HubSpot-RateLimit-*`` headers it sends.

* Burst: ``burst_limit`` requests per rolling ``burst_window_s`` per token (policy TEN_SECONDLY_ROLLING).
* Daily: ``daily_limit`` requests per portal, shared by every token (policy DAILY).
* Search: ``search_per_second`` requests per rolling second per portal (policy SECONDLY); search calls
  count against the daily limit but not the burst window, and their answers carry no rate-limit headers.
Rejected (429) requests use no budget.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    burst_limit: int
    burst_window_s: float
    search_per_second: int
    daily_limit: int
    clock: Callable[[], float] = time.monotonic
    daily_used: int = 0
    _bursts: dict[str, deque[float]] = field(default_factory=dict)
    _searches: deque[float] = field(default_factory=deque)
    _forced: list[tuple[int, str]] = field(default_factory=list)  # [remaining, policy]

    def force(self, n: int, policy: str) -> None:
        """Reject the next ``n`` rate-limited requests with ``policy`` whatever the budget says."""
        self._forced.append((n, policy))

    def reset(self) -> None:
        self.daily_used = 0
        self._bursts.clear()
        self._searches.clear()
        self._forced.clear()

    def _window(self, token: str) -> deque[float]:
        window = self._bursts.setdefault(token, deque())
        horizon = self.clock() - self.burst_window_s
        while window and window[0] <= horizon:
            window.popleft()
        return window

    def admit(self, token: str, is_search: bool) -> str | None:
        """Record the request and return None, or return the policy name that rejects it."""
        if self._forced:
            remaining, policy = self._forced[0]
            if remaining <= 1:
                self._forced.pop(0)
            else:
                self._forced[0] = (remaining - 1, policy)
            return policy
        if self.daily_used >= self.daily_limit:
            return "DAILY"
        now = self.clock()
        if is_search:
            while self._searches and self._searches[0] <= now - 1.0:
                self._searches.popleft()
            if len(self._searches) >= self.search_per_second:
                return "SECONDLY"
            self._searches.append(now)
        else:
            window = self._window(token)
            if len(window) >= self.burst_limit:
                return "TEN_SECONDLY_ROLLING"
            window.append(now)
        self.daily_used += 1
        return None

    def headers(self, token: str) -> dict[str, str]:
        """The documented headers, as they stand after this request."""
        used = len(self._window(token))
        return {
            "X-HubSpot-RateLimit-Max": str(self.burst_limit),
            "X-HubSpot-RateLimit-Remaining": str(max(self.burst_limit - used, 0)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.burst_window_s * 1000)),
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(self.daily_limit - self.daily_used, 0)),
        }
