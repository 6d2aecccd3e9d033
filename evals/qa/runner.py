"""Run 质检 over conversations and write `qa.json`, `turns.jsonl` and `qa.html` (NOTES.md, issue 19).

`qa.json`: `{config, standards, team, agents: [...], days: [...]}` where `team` and each agent have
`conversations, turns_checked, turns_passed, pass_rate, first_response_s: {p50, p95}, violations_by_rule`
(replies that broke each rule), agents also `agent_id`; `days` has the pass rate per agent and day.
`turns.jsonl`: one line per agent reply checked (`TurnReview.to_dict`).

>>> report = run_qa(QualityChecker(bot, kb.rules.qa, kb.rules.emotion), conversations, "out/qa")
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.metrics import percentile
from evals.progress import tracked
from evals.qa.checks import ConversationReview, QualityChecker, TurnReview
from evals.qa.conversations import QAConversation
from evals.qa.report import render_report

QA_FILE = "qa.json"
TURNS_FILE = "turns.jsonl"
REPORT_FILE = "qa.html"


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def summarize(reviews: Sequence[ConversationReview]) -> dict[str, Any]:
    """The figures of a group of reviewed conversations (an agent's, a day's, the team's)."""
    turns = [t for r in reviews for t in r.turns]
    passed = sum(t.passed for t in turns)
    firsts = [s for s in (r.first_response_s for r in reviews) if s is not None]
    by_rule = Counter(rule for t in turns for rule in t.rules_failed)
    return {
        "conversations": len(reviews),
        "turns_checked": len(turns),
        "turns_passed": passed,
        "pass_rate": round(passed / len(turns), 4) if turns else None,
        "first_response_s": {"p50": _rounded(percentile(firsts, 50)), "p95": _rounded(percentile(firsts, 95))},
        "violations_by_rule": dict(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def build_report(
    reviews: Sequence[ConversationReview], *, config: dict[str, Any], standards: dict[str, Any]
) -> dict[str, Any]:
    by_agent: dict[str, list[ConversationReview]] = defaultdict(list)
    by_day: dict[tuple[str, str], list[ConversationReview]] = defaultdict(list)
    for r in reviews:
        by_agent[r.conversation.agent_id].append(r)
        by_day[(r.conversation.agent_id, r.conversation.day.isoformat())].append(r)
    return {
        "config": config,
        "standards": standards,
        "team": summarize(reviews),
        "agents": [{"agent_id": a, **summarize(rs)} for a, rs in sorted(by_agent.items())],
        "days": [
            {"agent_id": a, "day": d, **{k: v for k, v in summarize(rs).items() if k != "violations_by_rule"}}
            for (a, d), rs in sorted(by_day.items())
        ],
    }


def _write(path: Path, text: str) -> None:
    """Write beside, then rename: a reader (the editor's 质检 tab) never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run_qa(
    checker: QualityChecker,
    conversations: Sequence[QAConversation],
    out_dir: Path | str,
    *,
    config: dict[str, Any] | None = None,
    progress: bool = False,
    worst: int = 30,
) -> dict[str, Any]:
    """Review every conversation, write the three outputs to `out_dir` and return the qa.json content."""
    warm_up = getattr(checker.assistant, "warm_up", None)
    if callable(warm_up):  # models load before the clock starts: `seconds` is the checking
        warm_up()
    started = time.perf_counter()
    reviews: list[ConversationReview] = []
    for conversation in tracked(conversations, label="qa", name=lambda c: c.id, enabled=progress):
        reviews.append(checker.run(conversation))
    qa = checker.standards
    standards = {
        "target_pass_rate": qa.target_pass_rate,
        "response_time": {"first_s": qa.response_time.first_s, "next_s": qa.response_time.next_s},
    }
    report = build_report(
        reviews,
        config={**(config or {}), "seconds": round(time.perf_counter() - started, 2)},
        standards=standards,
    )
    turns: list[TurnReview] = [t for r in reviews for t in r.turns]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / TURNS_FILE, "".join(json.dumps(t.to_dict(), ensure_ascii=False) + "\n" for t in turns))
    _write(out / REPORT_FILE, render_report(report, turns, worst=worst))
    _write(out / QA_FILE, json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    return report
