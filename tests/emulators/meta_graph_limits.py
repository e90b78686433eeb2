"""Meta Graph emulator: call counting, Graph throttling errors and the usage headers.

Meta never answers 429 and sends no Retry-After: it answers HTTP 400 with a throttling code
(4 app, 17 user, 32 page, 613 custom, 8000x Business Use Case) and reports usage in
``X-App-Usage`` / ``X-Business-Use-Case-Usage`` (percent of the limit, minutes to regain access).
The emulator counts calls in a rolling window (one hour by default) against ``page_call_limit``.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.emulators.meta_graph_store import error_body

THROTTLE_MESSAGES: dict[int, str] = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try again. "
    "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again. "
    "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    80006: "(#80006) There have been too many messenger api calls to this Page account. Wait a bit and try "
    "again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
}


def throttle_body(code: int) -> dict[str, Any]:
    message = THROTTLE_MESSAGES.get(code, f"(#{code}) Request limit reached")
    return error_body(code, message)


@dataclass
class _Forced:
    remaining: int
    code: int
    minutes: int


@dataclass
class UsageMeter:
    """Rolling-window call count shared by every authenticated call (the app's and the Page's usage)."""

    limit: int
    clock: Callable[[], datetime]
    window: timedelta = timedelta(hours=1)
    calls: deque[datetime] = field(default_factory=deque)
    _forced: list[_Forced] = field(default_factory=list)

    def force(self, n: int, code: int, minutes: int) -> None:
        self._forced.append(_Forced(n, code, minutes))

    def take_forced(self) -> _Forced | None:
        """Consume one forced throttle (``throttle_next``), if any is pending."""
        if not self._forced:
            return None
        forced = self._forced[0]
        forced.remaining -= 1
        if forced.remaining <= 0:
            self._forced.pop(0)
        return forced

    def reset(self) -> None:
        self.calls.clear()
        self._forced.clear()

    def _prune(self) -> datetime:
        now = self.clock()
        while self.calls and self.calls[0] <= now - self.window:
            self.calls.popleft()
        return now

    def admit(self) -> bool:
        """Count one call, or return False (uncounted) when the window is already full."""
        now = self._prune()
        if len(self.calls) >= self.limit:
            return False
        self.calls.append(now)
        return True

    def percent(self) -> int:
        self._prune()
        return min(100, math.floor(len(self.calls) * 100 / max(self.limit, 1)))

    def regain_minutes(self) -> int:
        """Minutes until the oldest counted call leaves the window (0 while under the limit)."""
        now = self._prune()
        if len(self.calls) < self.limit:
            return 0
        seconds = (self.calls[0] + self.window - now).total_seconds()
        return max(1, math.ceil(seconds / 60))

    def headers(self, business_id: str, use_case: str, forced: _Forced | None = None) -> dict[str, str]:
        """``X-App-Usage`` and ``X-Business-Use-Case-Usage`` as they stand after this call."""
        if forced is not None:
            percent, minutes = 100, forced.minutes
        else:
            percent, minutes = self.percent(), self.regain_minutes()
        # Graph reports CPU and total time separately; the emulator ties them to the call count.
        cpu, total = percent // 2, percent // 2
        app = {"call_count": percent, "total_cputime": cpu, "total_time": total}
        buc = {
            business_id: [
                {
                    "type": use_case,
                    "call_count": percent,
                    "total_cputime": cpu,
                    "total_time": total,
                    "estimated_time_to_regain_access": minutes,
                }
            ]
        }
        return {"X-App-Usage": json.dumps(app), "X-Business-Use-Case-Usage": json.dumps(buc)}
