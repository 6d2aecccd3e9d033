"""Run an eval set through the assistant: metrics.json, cases.jsonl, report.html (CONTRACTS.md §5)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from assistant.result import Result, Turn
from evals.cases import EvalCase
from evals.gate import Threshold
from evals.metrics import CaseScore, compute_metrics, score_case
from evals.progress import tracked
from evals.report import write_report

METRICS_FILE = "metrics.json"
CASES_FILE = "cases.jsonl"
REPORT_FILE = "report.html"


class RetrievesDocuments(Protocol):
    """A reference retriever scored beside the assistant (`evals.baseline.DenseBaseline`)."""

    def run(self, turns: Sequence[Turn]) -> list[str]: ...


class SuggestsReplies(Protocol):
    """What the runner needs of the assistant (`assistant.pipeline.Assistant`)."""

    def run(self, *, conversation: list[Turn], context: dict[str, Any] | None = None) -> Result: ...


def case_record(case: EvalCase, result: Result | None, score: CaseScore) -> dict[str, Any]:
    """One line of cases.jsonl: what the assistant did, what was expected, each expectation's pass/fail."""
    top = result.suggestions[0] if result and result.suggestions else None
    return {
        "id": case.id,
        "line": case.line,
        "intent": result.intent if result else None,
        "intent_confidence": round(result.intent_confidence, 4) if result else None,
        "emotion": result.emotion if result else None,
        "handoff": result.handoff if result else None,
        "handoff_reason": result.handoff_reason if result else None,
        "handoff_reason_code": result.handoff_reason_code if result else None,
        "handoff_code": result.handoff_code if result else None,
        "retrieved": list(dict.fromkeys(result.retrieved_doc_ids)) if result else [],
        "suggestions": [
            {
                "text": s.text,
                "citations": [c.doc_id for c in s.citations],
                "style": s.style,
                "drafter": s.drafter,
                "passed": s.check.passed,
            }
            for s in (result.suggestions if result else ())
        ],
        "checks": None
        if top is None
        else {
            "passed": top.check.passed,
            "rules": top.check.as_checks(),
            "violations": [asdict(v) for v in top.check.violations],
        },
        "latency_ms": None if score.latency_ms is None else round(score.latency_ms, 2),
        "latency_stages_ms": {k: round(v, 2) for k, v in result.latency_ms.items()} if result else {},
        "passed": score.passed,
        "ok": score.ok,
        "scores": {
            "recall@1": score.recall_at_1,
            "recall@5": score.recall_at_5,
            "rr@10": score.rr_at_10,
            "dense_baseline.recall@5": score.baseline_recall_at_5,
            "dense_baseline.rr@10": score.baseline_rr_at_10,
        },
        "citation_precision": score.citation_precision,
        "polarity": score.polarity,
        "must_include_missing": list(score.must_include_missing),
        "must_include_any": score.must_include_any,
        "must_not_include_found": list(score.must_not_include_found),
        "expected": case.expected.to_dict(),
        "conversation": [{"role": t.role, "text": t.text} for t in case.conversation],
        "context": case.context,
        "annotations": case.extra or None,
        "notes": list(result.notes) if result else [],
        "error": score.error,
    }


# Not a case of any set, so no case's timing benefits from what this run leaves in caches.
WARM_UP = [Turn("customer", "你好，请问我昨天买的东西什么时候发货？")]


def _warm_up(assistant: SuggestsReplies) -> None:
    """Load models and lazy resources before the clock starts, so latency measures answering, not loading."""
    warm_up = getattr(assistant, "warm_up", None)
    if callable(warm_up):
        warm_up()
    # If the assistant cannot answer at all, every case records the error; the run itself goes on.
    with contextlib.suppress(Exception):
        assistant.run(conversation=WARM_UP, context=None)


def run_case(
    assistant: SuggestsReplies, case: EvalCase, baseline: RetrievesDocuments | None = None
) -> tuple[Result | None, CaseScore]:
    """Run one case; an exception of the assistant is recorded as the case's error, not raised. The baseline,
    when given, runs outside the timed part."""
    start = time.perf_counter()
    try:
        result = assistant.run(conversation=list(case.conversation), context=case.context)
    except Exception as e:  # one broken case must not lose a run of hundreds
        return None, score_case(case, None, error=f"{type(e).__name__}: {e}")
    latency = (time.perf_counter() - start) * 1000
    base = baseline.run(case.conversation) if baseline is not None and case.expected.doc_ids is not None else None
    return result, score_case(case, result, latency_ms=latency, baseline=base)


def run_eval(
    assistant: SuggestsReplies,
    cases: Sequence[EvalCase],
    out_dir: Path | str,
    *,
    config: dict[str, Any] | None = None,
    thresholds: dict[str, Threshold] | None = None,
    progress: bool = False,
    baseline: RetrievesDocuments | None = None,
) -> dict[str, Any]:
    """Run every case, write the three outputs to `out_dir` and return the metrics.

    `config` (retriever, drafter, k, set, KB, ...) is recorded under `metrics["config"]`; `thresholds`, when
    given, are shown against the metrics in the report; `baseline`, when given, is scored beside the
    assistant's retrieval on the cases labelled with doc_ids.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _warm_up(assistant)
    scores: list[CaseScore] = []
    records: list[dict[str, Any]] = []
    started = time.perf_counter()
    with (out / CASES_FILE).open("w", encoding="utf-8") as f:
        for case in tracked(cases, label="eval", name=lambda c: c.id, enabled=progress):
            result, score = run_case(assistant, case, baseline)
            record = case_record(case, result, score)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            scores.append(score)
            records.append(record)
    metrics = compute_metrics(scores)
    metrics["config"] = {**(config or {}), "seconds": round(time.perf_counter() - started, 2)}
    (out / METRICS_FILE).write_text(json.dumps(metrics, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    write_report(out / REPORT_FILE, metrics, records, thresholds=thresholds)
    return metrics
