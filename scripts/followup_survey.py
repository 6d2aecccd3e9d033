"""How the 回访 drafter reads real-style conversations, and which tickets the handoffs become: for each
conversation of an eval set (its turns as the resolved conversation), where the problem and the outcome came
from, whether the draft passed the guard, how long drafting took, and the suggestion's handoff priority. Writes
one JSON line per conversation and prints the summary.

    kefu index build --index out/demo-index      # the demo KB, the configured model
    PYTHONPATH=$PWD .venv/bin/python scripts/followup_survey.py evals/sets/chats-dev.jsonl out/survey.jsonl out/demo-index
"""

from __future__ import annotations

import collections
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from assistant.service.holder import assistant_factory
from ui.runtime import Runtime


def main(cases_path: str, out_path: str, index_dir: str) -> None:
    rt = Runtime(index_dir=Path(index_dir))
    bot = assistant_factory(rt.kb_path, rt.index_path, rt.embedder)()
    rows, ms = [], []
    for line in Path(cases_path).read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        t = time.perf_counter()
        draft = bot.followup(conversation=case["conversation"], resolved_at=datetime(2026, 12, 5, tzinfo=UTC))
        ms.append((time.perf_counter() - t) * 1000)
        handoff = bot.run(conversation=case["conversation"], context=case.get("context")).to_dict()["handoff"]
        rows.append({"id": case["id"], **draft.to_dict(), "handoff": handoff})
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    n = len(rows)
    print(f"conversations {n}; guard passed {sum(r['passed'] for r in rows)}/{n}")
    print("problem source", dict(collections.Counter(r["problem"]["source"] for r in rows)))
    print("outcome source", dict(collections.Counter(r["outcome"]["source"] for r in rows)))
    print("outcome", dict(collections.Counter(r["outcome"]["code"] for r in rows)))
    print(f"with a product named {sum(bool(r['problem']['product']) for r in rows)}/{n}")
    tickets = collections.Counter(
        (r["handoff"]["priority"], r["handoff"]["code"]) for r in rows if r["handoff"]["priority"]
    )
    print("tickets (priority, reason)", dict(sorted(tickets.items())))
    print(f"drafting ms p50 {statistics.median(ms):.1f} max {max(ms):.1f}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
