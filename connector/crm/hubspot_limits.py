"""HubSpot's limits on our side: shared token buckets, the daily budget, and its usage record.

Every request takes a token from the account's burst bucket (190 per 10 s by default),
searches also from the search bucket (4 per second), so HubSpot rarely needs to answer
429 at all. The daily budget is counted from ``X-HubSpot-RateLimit-Daily-Remaining`` when
HubSpot sends it, else by ourselves, and recorded in the connector state once per batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connector.crm.batching import RateLimitedError, StateStore
from connector.crm.hubspot_settings import HubSpotSettings
from connector.crm.rate_limit import TokenBucket, shared_bucket
from connector.model import utcnow

log = logging.getLogger("ventanilla.hubspot")
DAILY_REMAINING = "X-HubSpot-RateLimit-Daily-Remaining"
DAILY_MAX = "X-HubSpot-RateLimit-Daily"
USAGE_WARNING_RATIO = 0.8
# HubSpot counts a request when it arrives, we when we send it: network jitter can bring two
# requests a window apart closer together on HubSpot's side. Each window gets this margin.
MARGIN_S = 0.1


class DailyLimitError(RateLimitedError):
    """The account's daily budget is spent; nothing goes through until ``resets_at``."""

    def __init__(self, message: str, resets_at: datetime | None = None) -> None:
        super().__init__(message)
        self.resets_at = resets_at


def header_int(headers: Mapping[str, str] | None, name: str) -> int | None:
    """An integer response header (names compared without case), or None."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            try:
                return int(str(value).strip())
            except ValueError:
                return None
    return None


class HubSpotLimits:
    """The buckets and the daily count of one account, as seen by one connector."""

    def __init__(
        self,
        settings: HubSpotSettings,
        store: StateStore,
        scope: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        limits = settings.rate_limit
        account = f"hubspot:{settings.base_url}:{settings.account_key}"
        self.burst: TokenBucket = shared_bucket(
            f"{account}:burst", limits.requests_per_10s, limits.burst_window_s + MARGIN_S
        )
        self.search: TokenBucket = shared_bucket(
            f"{account}:search", limits.search_per_second, limits.search_window_s + MARGIN_S
        )
        self.daily = limits.daily
        self.zone = ZoneInfo(limits.time_zone)
        self.store = store
        self.scope = scope
        self.clock = clock
        self._lock = threading.Lock()
        self._day: date | None = None
        self._used = 0  # requests today, ours plus what the store said at the start
        self._unrecorded = 0  # requests not yet added to the stored count
        self._remaining: int | None = None  # HubSpot's own figure, when it sends one
        self._limit: int | None = self.daily

    # --- before and after each request -----------------------------------------------------

    def acquire(self, search: bool) -> None:
        """Wait for the account's buckets; refuse at once when the daily budget is spent."""
        with self._lock:
            self._roll_day()
            spent = self._remaining is not None and self._remaining <= 0
            if not spent and self._remaining is None and self._limit is not None:
                spent = self._used >= self._limit
        if spent:
            raise self.daily_exhausted("the daily API budget is spent")
        if search:
            self.search.acquire()
        self.burst.acquire()

    def observe(self, headers: Mapping[str, str] | None) -> None:
        """Count one request HubSpot answered, and take its daily figures when it sent them."""
        remaining = header_int(headers, DAILY_REMAINING)
        limit = header_int(headers, DAILY_MAX)
        with self._lock:
            self._roll_day()
            self._used += 1
            self._unrecorded += 1
            if remaining is not None:
                self._remaining = remaining
            if limit is not None:
                self._limit = limit

    def drain(self, search: bool) -> None:
        """HubSpot answered 429 for a window: hold every caller of the account for that window."""
        (self.search if search else self.burst).drain()

    def daily_exhausted(self, reason: str) -> DailyLimitError:
        with self._lock:
            self._remaining = 0
        resets = self.next_reset()
        return DailyLimitError(f"hubspot: {reason}; paused until {resets.isoformat()}", resets)

    def next_reset(self) -> datetime:
        """Midnight after now, in the account's time zone (as a UTC-aware datetime)."""
        local = self.clock().astimezone(self.zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.zone)
        return midnight.astimezone(UTC)

    def _today(self) -> date:
        return self.clock().astimezone(self.zone).date()

    def _roll_day(self) -> None:
        """Start a new count at midnight (account time), continuing the stored one if any."""
        today = self._today()
        if self._day == today:
            return
        stored = self.store.get_state(self.scope, "api_usage")
        same_day = isinstance(stored, dict) and stored.get("day") == today.isoformat()
        self._day = today
        self._used = int(stored.get("used", 0)) if same_day and isinstance(stored, dict) else 0
        self._unrecorded = 0
        self._remaining = None

    # --- once per batch --------------------------------------------------------------------

    def record(self) -> None:
        """Add this connector's requests to the stored daily usage, and warn past 80 %."""
        with self._lock:
            if not self._unrecorded or self._day is None:
                return
            day, added, remaining, limit = self._day, self._unrecorded, self._remaining, self._limit
            self._unrecorded = 0
        stored = self.store.get_state(self.scope, "api_usage")
        used = added
        if isinstance(stored, dict) and stored.get("day") == day.isoformat():
            used += int(stored.get("used", 0))
        usage: dict[str, Any] = {
            "day": day.isoformat(),
            "used": used,
            "remaining": remaining,
            "limit": limit,
            "source": "header" if remaining is not None else "counted",
            "at": self.clock().isoformat(),
        }
        self.store.set_state(self.scope, "api_usage", usage)
        spent = limit - remaining if limit is not None and remaining is not None else used
        if limit and spent / limit >= USAGE_WARNING_RATIO:
            log.warning(
                "%s: %d of %d daily API requests used (%.0f%%)", self.scope, spent, limit, 100 * spent / limit
            )
