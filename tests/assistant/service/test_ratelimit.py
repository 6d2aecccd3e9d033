"""Rate limits in one process, shared in Redis, and the fallback when Redis is away."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from assistant.errors import AssistantError
from assistant.service.ratelimit import RateLimiter, redis_storage, shown_url

REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("KEFU_TEST_REDIS_URL is not set; `make services` starts Redis and writes it to .kefu/services.env")
    return REDIS_URL


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A private redis-server on a free port, which a test may stop."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed; `make services` installs it")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not RateLimiter(1, storage=redis_storage(url)).reachable():
        assert time.monotonic() < deadline, "the test's redis-server did not start"
        time.sleep(0.05)
    yield url, proc
    proc.kill()
    proc.wait()


def test_each_caller_gets_its_own_limit_and_then_a_wait() -> None:
    limiter = RateLimiter(3)
    assert [limiter.acquire("key:a") for _ in range(3)] == [None, None, None]
    wait = limiter.acquire("key:a")
    assert wait is not None and 0 < wait <= 60
    assert limiter.blocked("key:a") is not None
    assert limiter.acquire("key:b") is None


def test_blocked_does_not_count() -> None:
    limiter = RateLimiter(2)
    assert [limiter.blocked("ip:1") for _ in range(10)] == [None] * 10
    assert [limiter.acquire("ip:1") for _ in range(3)][:2] == [None, None]


def test_zero_switches_the_limit_off() -> None:
    limiter = RateLimiter(0)
    assert not limiter.enabled
    assert all(limiter.acquire("key:a") is None for _ in range(1000))


def test_an_unreachable_redis_falls_back_to_per_process_limits_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on port 1: each call is refused at once. Never open, never an exception.
    limiter = RateLimiter(2, storage=redis_storage("redis://127.0.0.1:1/0"), retry_s=0.0)
    with caplog.at_level(logging.WARNING, logger="kefu.service"):
        results = [limiter.acquire("key:a") for _ in range(4)]
    assert results[:2] == [None, None] and all(w is not None for w in results[2:])
    warnings = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1 and "KEFU_REDIS_URL" in warnings[0] and "per process" in warnings[0]
    assert limiter.shared and not limiter.reachable()


def test_a_redis_url_that_is_not_one_is_refused_with_an_example() -> None:
    with pytest.raises(AssistantError, match=r"redis://127\.0\.0\.1:6379/0"):
        redis_storage("http://127.0.0.1:6379")


def test_passwords_are_not_shown() -> None:
    assert shown_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert shown_url("redis://cache:6379/0") == "redis://cache:6379/0"


@pytest.mark.cluster
def test_replicas_share_one_limit(redis_url: str) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"  # the test database may hold other runs' counts
    # Each replica has its own connection to Redis, as two processes would.
    a = RateLimiter(5, name=name, storage=redis_storage(redis_url))
    b = RateLimiter(5, name=name, storage=redis_storage(redis_url))
    allowed = sum((a if i % 2 else b).acquire("key:same") is None for i in range(20))
    assert allowed == 5
    assert a.blocked("key:same") is not None and b.blocked("key:same") is not None
    assert a.acquire("key:other") is None


@pytest.mark.cluster
def test_redis_going_away_and_coming_back(
    own_redis: tuple[str, subprocess.Popen[bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    url, proc = own_redis
    clock = [0.0]
    limiter = RateLimiter(3, storage=redis_storage(url), retry_s=5.0, clock=lambda: clock[0])
    other = RateLimiter(3, storage=redis_storage(url))
    assert limiter.acquire("key:a") is None and other.acquire("key:a") is None  # 2 of 3 used, shared
    proc.kill()
    proc.wait()
    with caplog.at_level(logging.WARNING, logger="kefu.service"):
        # Per process now: this replica's own count starts afresh, and still stops at 3.
        assert [limiter.acquire("key:a") is None for _ in range(4)] == [True, True, True, False]
    assert any("unreachable" in r.getMessage() for r in caplog.records)
    port = url.rsplit(":", 1)[1].split("/")[0]
    restarted = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not limiter.reachable():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        clock[0] += 5.0  # the retry period passed: Redis is asked again (an empty one after the restart)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="kefu.service"):
            assert limiter.acquire("key:a") is None
            assert other.acquire("key:a") is None
        assert any("answers again" in r.getMessage() for r in caplog.records)
        assert [limiter.acquire("key:a") is None for _ in range(2)] == [True, False]  # 3 shared again
    finally:
        restarted.kill()
        restarted.wait()
