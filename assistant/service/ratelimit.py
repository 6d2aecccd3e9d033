"""Per-caller rate limits over a moving window, kept in this process or shared by every replica in Redis.

A limit is `per_minute` requests in any 60 s per caller (an API key, or a client IP). With a Redis URL the
counts live in Redis, so N replicas behind a load balancer allow `per_minute` in total, not N times it. When
Redis cannot be reached the limiter counts in this process instead (a warning is logged; Redis is tried
again after `retry_s`): never an open door, and never an error for the caller.

>>> limiter = RateLimiter(60, name="requests")                       # this process only
>>> shared = RateLimiter(60, name="requests", storage=redis_storage("redis://127.0.0.1:6379/0"))
>>> shared.acquire("key:abc")   # None when allowed, else the seconds to wait
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from assistant.errors import AssistantError

log = logging.getLogger("kefu.service")

# A replica must not stall on an unreachable Redis: each call waits at most this long before falling back.
REDIS_TIMEOUT_S = 0.25
RETRY_SHARED_S = 5.0


def redis_storage(url: str) -> RedisStorage:
    """A Redis storage for limits, with short timeouts; it connects on first use."""
    try:
        return RedisStorage(
            url,
            key_prefix="kefu",
            wrap_exceptions=True,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
        )
    except ValueError as e:
        raise AssistantError(
            f"KEFU_REDIS_URL {shown_url(url)!r} is not a Redis URL ({e}); give e.g. redis://127.0.0.1:6379/0"
        ) from e


def shown_url(url: str) -> str:
    """A storage URL without its password, for messages: 'redis://:secret@h:6379' → 'redis://:***@h:6379'."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


class RateLimiter:
    """Allows `per_minute` requests in any minute per caller; `name` keeps limits apart in a shared storage.

    `storage` is shared by the replicas (Redis); without one, or while it is unreachable, each process
    counts alone.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        name: str = "requests",
        storage: Storage | None = None,
        retry_s: float = RETRY_SHARED_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_minute = per_minute
        self.name = name
        self.retry_s = retry_s
        self._clock = clock
        self._item = RateLimitItemPerMinute(max(per_minute, 1), namespace=name)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._storage = storage
        self._shared = MovingWindowRateLimiter(storage) if storage is not None else None
        self._down_until = 0.0  # while the clock is below, the shared storage is not tried
        self._state = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    @property
    def shared(self) -> bool:
        """Whether the counts are meant to be shared (a storage is configured), reachable or not."""
        return self._shared is not None

    def acquire(self, caller: str) -> float | None:
        """Count one request of `caller`: None if allowed, else the seconds until one will be."""
        return self._run(caller, take=True)

    def blocked(self, caller: str) -> float | None:
        """Without counting: None if `caller` may make a request now, else the seconds until it may."""
        return self._run(caller, take=False)

    def reachable(self) -> bool:
        """Whether the shared storage answers (True when there is none)."""
        if self._storage is None:
            return True
        try:
            return bool(self._storage.check())
        except Exception:
            return False

    def _run(self, caller: str, *, take: bool) -> float | None:
        if not self.enabled:
            return None
        if self._shared is not None and self._clock() >= self._down_until:
            try:
                wait = self._decide(self._shared, caller, take)
            except StorageError as e:
                self._fall_back(e)
            else:
                self._recovered()
                return wait
        return self._decide(self._local, caller, take)

    def _decide(self, limiter: MovingWindowRateLimiter, caller: str, take: bool) -> float | None:
        allowed = limiter.hit(self._item, caller) if take else limiter.test(self._item, caller)
        if allowed:
            return None
        reset, _ = limiter.get_window_stats(self._item, caller)
        return max(reset - time.time(), 0.001)

    def _fall_back(self, error: StorageError) -> None:
        with self._state:
            first = self._down_until == 0.0
            self._down_until = self._clock() + self.retry_s
        if first:
            log.warning(
                "rate limit '%s': the shared store (KEFU_REDIS_URL) is unreachable (%s); counting per process "
                "until it answers again, so each replica allows %d a minute; check that Redis is running",
                self.name,
                error.storage_error,
                self.per_minute,
            )

    def _recovered(self) -> None:
        if self._down_until == 0.0:
            return
        with self._state:
            self._down_until = 0.0
        log.warning("rate limit '%s': the shared store answers again; limits are shared across replicas", self.name)


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
