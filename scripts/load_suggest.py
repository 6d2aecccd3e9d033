"""A bounded load run against a running `kefu serve`: POST /v1/suggest, fixed count, fixed concurrency.

    .venv/bin/python scripts/load_suggest.py --url http://127.0.0.1:8000 -n 400 -c 4 [--key KEY]

Prints requests per second and latency percentiles (client-side, over loopback) as one JSON object.
Each request is a different customer message, so the server's query-embedding cache rarely helps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx

MESSAGES = [
    "衣服收到了，尺码偏小，能退吗？", "退款多久能到账？", "今天下单什么时候发货？", "发什么快递，能发顺丰吗",
    "店铺券和平台券能一起用吗", "我的快递三天没动了", "收到的杯子碎了怎么办", "发错颜色了，我要的是黑色",
    "怎么开发票？", "会员积分怎么用", "电热水壶保修多久", "羽绒服充绒量多少", "能改一下收货地址吗",
    "付款失败了怎么回事", "这个什么时候有货", "买完就降价了，能补差价吗", "空气炸锅怎么清洗", "退货运费谁出",
    "转人工", "你们这是什么垃圾东西，我要投诉",
]  # fmt: skip
OPENERS = ["", "您好，", "在吗？", "麻烦问下，", "你好，请问"]


def conversation(i: int) -> list[dict[str, str]]:
    text = OPENERS[(i // len(MESSAGES)) % len(OPENERS)] + MESSAGES[i % len(MESSAGES)]
    if i >= len(MESSAGES) * len(OPENERS):
        text += "～" * (i // (len(MESSAGES) * len(OPENERS)))
    return [{"role": "customer", "text": text}]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(url: str, n: int, concurrency: int, key: str | None, start: int = 0) -> dict[str, object]:
    headers = {"X-API-Key": key} if key else {}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(start, start + n):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            t0 = time.perf_counter()
            resp = await client.post("/v1/suggest", json={"conversation": conversation(i)}, headers=headers)
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for i in range(concurrency):  # warm-up, not measured
            await client.post("/v1/suggest", json={"conversation": conversation(start + n + i)}, headers=headers)
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"requests": n, "concurrency": concurrency, "seconds": round(elapsed, 2),
            "rps": round(n / elapsed, 1), "statuses": statuses,
            "latency_ms": {"p50": round(percentile(latencies, 0.5), 1), "p95": round(percentile(latencies, 0.95), 1),
                           "p99": round(percentile(latencies, 0.99), 1),
                           "mean": round(statistics.fmean(latencies), 1)}}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("-n", "--requests", type=int, default=400)
    p.add_argument("-c", "--concurrency", type=int, default=4)
    p.add_argument("--key", default=None, help="API key (X-API-Key), when the server has keys")
    p.add_argument("--start", type=int, default=0, help="first message number (use fresh ones on a warm server)")
    args = p.parse_args()
    result = asyncio.run(run(args.url, args.requests, args.concurrency, args.key, args.start))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
