"""Per-caller rate limiting: a token bucket per key (or client IP), in memory."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

MAX_BUCKETS = 10_000


class RateLimiter:
    """Allows `per_minute` requests a minute per caller, in bursts of up to `burst` (default: a minute's).

    >>> limiter = RateLimiter(60)
    >>> limiter.acquire("key:abc")   # None when allowed, else seconds to wait
    """

    def __init__(
        self, per_minute: int, *, burst: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_minute = per_minute
        self.rate = per_minute / 60.0
        self.capacity = float(burst if burst is not None else per_minute)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, last refill)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def acquire(self, caller: str) -> float | None:
        """Take one token for `caller`: None if allowed, else the seconds until the next token."""
        return self._take(caller, 1.0)

    def blocked(self, caller: str) -> float | None:
        """Without taking a token: None if `caller` has one, else the seconds until it will."""
        return self._take(caller, 0.0)

    def _take(self, caller: str, cost: float) -> float | None:
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(caller, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[caller] = (tokens - cost, now)
                if len(self._buckets) > MAX_BUCKETS:
                    self._forget_idle(now)
                return None
            self._buckets[caller] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        # A caller whose bucket has refilled completely is indistinguishable from a new one.
        full = [c for c, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.capacity]
        for c in full:
            del self._buckets[c]


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
