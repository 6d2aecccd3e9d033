"""A fake assistant with the real `run` signature, answering each customer message with a hand-made Result."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from assistant.result import CheckResult, Citation, Result, Suggestion, Turn, Violation

RULES = ("banned_phrases", "politeness", "unsupported_facts")


def suggestion(text: str, cites: Sequence[str] = (), violations: Sequence[Violation] = ()) -> Suggestion:
    check = CheckResult(
        passed=not any(v.severity == "block" for v in violations),
        violations=tuple(violations),
        rules_checked=RULES,
    )
    return Suggestion(
        id="s1",
        style="concise",
        text=text,
        citations=tuple(Citation(d, f"title of {d}", "quote") for d in cites),
        check=check,
    )


def result(
    text: str = "您好，签收后7天内可以申请退货。",
    *,
    intent: str = "return_request",
    emotion: str = "calm",
    handoff: bool = False,
    reason: str = "customer_request",
    retrieved: Sequence[str] = ("policy-return",),
    suggestions: Sequence[Suggestion] | None = None,
    total_ms: float = 12.0,
) -> Result:
    return Result(
        query="q",
        intent=intent,
        intent_confidence=0.9,
        emotion=emotion,
        handoff=handoff,
        handoff_reason="客户要求" if handoff else None,
        suggestions=tuple(suggestions if suggestions is not None else [suggestion(text, retrieved[:1])]),
        retrieved=tuple({"doc_id": d, "chunk_id": f"{d}#0", "title": d, "text": "", "score": 1.0} for d in retrieved),
        latency_ms={"total": total_ms},
        kb_version="test",
        handoff_reason_code=reason if handoff else None,
    )


class FakeAssistant:
    """Answers by the last customer message; an Exception as the answer is raised."""

    def __init__(self, answers: Mapping[str, Result | Exception], default: Result | None = None) -> None:
        self.answers = answers
        self.default = default or result()
        self.calls: list[str] = []
        self.warmed_up = False

    def warm_up(self) -> None:
        self.warmed_up = True

    def run(self, *, conversation: list[Turn], context: dict[str, Any] | None = None) -> Result:
        self.calls.append(conversation[-1].text)
        answer = self.answers.get(conversation[-1].text, self.default)
        if isinstance(answer, Exception):
            raise answer
        return answer


def case(case_id: str, message: str, **expected: Any) -> dict[str, Any]:
    return {"id": case_id, "conversation": [{"role": "customer", "text": message}], "expected": expected}


def write_set(path: Path, cases: Sequence[dict[str, Any] | str]) -> Path:
    """One line per case; a str is written as it is (for malformed lines)."""
    path.write_text(
        "".join((c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)) + "\n" for c in cases),
        encoding="utf-8",
    )
    return path
