"""Simulated agents against a running Kefu (one replica, or nginx in front of several), for a fixed time.

    .venv/bin/python scripts/load_agents.py --url http://127.0.0.1:8100 --agents 50 --seconds 60 [--key KEY]

Each agent loops: POST /v1/suggest with a new customer message, then POST /v1/feedback on the first suggestion
(with its own X-Request-ID), then waits `--think` seconds. Bounded in time and in requests, loopback only.
Prints one JSON object: errors by kind, throughput, and client-side latency percentiles per endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from urllib.parse import urlsplit

import httpx
from load_suggest import conversation, percentile


async def run(
    url: str, agents: int, seconds: float, key: str | None, think: float, max_requests: int
) -> dict[str, object]:
    headers = {"X-API-Key": key} if key else {}
    latencies: dict[str, list[float]] = {"suggest": [], "feedback": []}
    errors: dict[str, int] = {}
    sent = 0
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds

    async def call(client: httpx.AsyncClient, kind: str, path: str, body: dict[str, object]) -> httpx.Response | None:
        nonlocal sent
        sent += 1
        t0 = time.perf_counter()
        try:
            resp = await client.post(path, json=body, headers={**headers, "X-Request-ID": uuid.uuid4().hex})
        except httpx.HTTPError as e:
            errors[f"{kind} {type(e).__name__}"] = errors.get(f"{kind} {type(e).__name__}", 0) + 1
            return None
        if resp.status_code != 200:
            errors[f"{kind} {resp.status_code}"] = errors.get(f"{kind} {resp.status_code}", 0) + 1
            return None
        latencies[kind].append((time.perf_counter() - t0) * 1000)
        return resp

    async def agent(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline and sent < max_requests:
            served = await call(client, "suggest", "/v1/suggest", {"conversation": conversation(next(counter))})
            if served is not None:
                sid = served.json()["suggestions"][0]["id"]
                await call(client, "feedback", "/v1/feedback", {"suggestion_id": sid, "action": "accepted"})
            if think:
                await asyncio.sleep(think)

    limits = httpx.Limits(max_connections=agents, max_keepalive_connections=agents)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        began = time.perf_counter()
        await asyncio.gather(*(agent(client) for _ in range(agents)))
        elapsed = time.perf_counter() - began
    ok = sum(len(v) for v in latencies.values())

    def stats(values: list[float]) -> dict[str, float | None]:
        if not values:
            return {"p50": None, "p95": None}
        return {"p50": round(percentile(values, 0.50), 1), "p95": round(percentile(values, 0.95), 1)}

    return {
        "url": url,
        "agents": agents,
        "seconds": round(elapsed, 1),
        "requests": sent,
        "ok": ok,
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "requests_per_s": round(ok / elapsed, 1),
        "suggests_per_s": round(len(latencies["suggest"]) / elapsed, 1),
        "suggest_ms": stats(latencies["suggest"]),
        "feedback_ms": stats(latencies["feedback"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8100")
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--think", type=float, default=0.0, help="seconds an agent waits between conversations")
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--key", default=None, help="an agent API key (none: open mode)")
    args = ap.parse_args()
    host = urlsplit(args.url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"error: --url {args.url}: load runs go to loopback only")
    if not (1 <= args.agents <= 500) or not (0 < args.seconds <= 600):
        raise SystemExit("error: --agents must be 1-500 and --seconds 0-600")
    result = asyncio.run(run(args.url, args.agents, args.seconds, args.key, args.think, args.max_requests))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
