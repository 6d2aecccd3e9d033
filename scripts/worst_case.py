"""CPU time of the slowest requests a client can send within the body limit (issue 14, item 2).

    python scripts/worst_case.py            # prints one line per input: endpoint, input, bytes, CPU seconds

Builds the demo KB's index with the fake embedder in a temporary folder, then posts each ~64 KB body to
/v1/suggest and /v1/check in process. CPU time (all threads) is measured, not wall time, so a busy machine
does not inflate it; the target is under 0.5 s per request.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from assistant.service.app import create_app
from assistant.service.holder import AssistantHolder, assistant_factory
from assistant.service.store import FeedbackStore
from assistant.settings import AssistantSettings
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from kb import demo_kb_dir, load_kb

BODY_LIMIT = 64 * 1024
TURN_LIMIT = 20_000  # characters per turn (assistant.service.schemas.MAX_TEXT)

# Runs that made the old patterns rescan (a letter or digit run for the e-mail pattern, address units for the
# address pattern), numbers too long for float, many distinct numbers for the check, and plain text.
RUNS = {
    "letters": "a",
    "digits": "1",
    "dots": ".",
    "email-ish": "a1.",
    "at-signs": "a@",
    "address units": "市路",
    "admin units": "市区县",
    "street digits": "路1",
    "numbers": "1元 ",
    "numbers-cn": "三天，",
    "numerals": "一",
    "chinese": "衣服收到了尺码偏小能退吗",
}


def bodies() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, unit in RUNS.items():
        per_char = len(unit.encode()) / len(unit)
        total = int((BODY_LIMIT - 400) / per_char)
        text = (unit * (total // len(unit) + 1))[:total]
        turns = [text[i : i + TURN_LIMIT] for i in range(0, len(text), TURN_LIMIT)]
        conversation = [{"role": "customer", "text": t} for t in turns]
        yield "/v1/suggest", name, {"conversation": conversation}
        yield "/v1/check", name, {"text": turns[0], "conversation": conversation[1:] or conversation, "sources": []}
    distinct = "，".join(str(n) for n in range(1000, 9000))[:TURN_LIMIT]  # one violation each, once
    yield "/v1/check", "distinct numbers", {"text": distinct, "sources": []}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="kefu-worst-") as tmp:
        root = Path(tmp)
        build_index(load_kb(demo_kb_dir()), HashingEmbedder(), root / "index")
        holder = AssistantHolder(
            assistant_factory(demo_kb_dir(), root / "index", HashingEmbedder()), index_dir=root / "index"
        )
        store = FeedbackStore(f"sqlite:///{root / 'kefu.db'}")
        store.migrate()
        app = create_app(holder, store, AssistantSettings(api_keys={}, rate_limit_per_minute=0))
        worst = 0.0
        with TestClient(app) as client:
            client.post("/v1/suggest", json={"conversation": [{"role": "customer", "text": "你好"}]})  # warm up
            for path, name, body in bodies():
                raw = json.dumps(body, ensure_ascii=False).encode()
                start = time.process_time()
                resp = client.post(path, content=raw, headers={"content-type": "application/json"})
                cpu = time.process_time() - start
                worst = max(worst, cpu)
                print(f"{path:12} {name:14} {len(raw):6} bytes  HTTP {resp.status_code}  "
                      f"{len(resp.content):9} bytes out  {cpu:.3f} s CPU")  # fmt: skip
        print(f"worst: {worst:.3f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
