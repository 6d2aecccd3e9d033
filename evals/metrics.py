"""Scoring: per-case checks and the metrics of a run (CONTRACTS.md §5). Pure functions, no I/O.

A metric is the share (or mean) over the cases labelled for it, and `None` when no case is.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.result import CheckResult, Result
from evals.cases import EXPECTED_KEYS, EvalCase, split_alternatives

UNSUPPORTED_RULE = "unsupported_facts"
LABELS = (*EXPECTED_KEYS, "compliance")  # the keys of a case's `passed` map


def recall_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 when any relevant document is among the first `k` retrieved, else 0.0."""
    return 1.0 if any(d in relevant for d in retrieved[:k]) else 0.0


def reciprocal_rank_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1/rank of the first relevant document among the first `k` retrieved; 0.0 when there is none."""
    return next((1.0 / rank for rank, d in enumerate(retrieved[:k], 1) if d in relevant), 0.0)


def matches_alternatives(entry: str, text: str) -> bool:
    """Whether `text` contains `entry`, or one of its `|`-separated alternatives; literal, case-sensitive."""
    return any(alt in text for alt in split_alternatives(entry))


def missing_includes(entries: Iterable[str], text: str) -> list[str]:
    """The must_include entries `text` does not satisfy; it passes when there are none."""
    return [e for e in entries if not matches_alternatives(e, text)]


def found_excludes(entries: Iterable[str], text: str) -> list[str]:
    """The must_not_include entries `text` contains (any alternative counts); a violation if there are any."""
    return [e for e in entries if matches_alternatives(e, text)]


def has_unsupported_fact(check: CheckResult) -> bool:
    return any(v.rule == UNSUPPORTED_RULE for v in check.violations)


def mean(values: Iterable[float | bool | None]) -> float | None:
    """Mean of the labelled values (None = not labelled); None when nothing is labelled."""
    xs = [float(v) for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0-100), interpolating linearly between ranks as numpy does; None if empty."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _dedupe(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class CaseScore:
    """How one case fared. `passed` has one entry per labelled expectation, plus `compliance`."""

    case_id: str
    expected_intent: str | None
    passed: dict[str, bool]
    recall_at_1: float | None = None
    recall_at_5: float | None = None
    rr_at_10: float | None = None
    must_include_missing: tuple[str, ...] = ()
    must_not_include_found: tuple[str, ...] = ()
    compliant: bool | None = None  # the top suggestion passed the guard; None when nothing was suggested
    unsupported_fact: bool | None = None
    latency_ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(self.passed.values())


def score_case(
    case: EvalCase, result: Result | None, *, latency_ms: float | None = None, error: str | None = None
) -> CaseScore:
    """Score the assistant's `result` for `case`; `result` None means the run failed with `error`."""
    exp = case.expected
    top = result.suggestions[0] if result and result.suggestions else None
    text = top.text if top else ""
    retrieved = _dedupe(result.retrieved_doc_ids) if result else []
    passed: dict[str, bool] = {}
    if exp.intent is not None:
        passed["intent"] = result is not None and result.intent == exp.intent
    if exp.emotion is not None:
        passed["emotion"] = result is not None and result.emotion == exp.emotion
    r1 = r5 = rr = None
    if exp.doc_ids is not None:
        relevant = set(exp.doc_ids)
        r1, r5, rr = (
            recall_at_k(retrieved, relevant, 1),
            recall_at_k(retrieved, relevant, 5),
            reciprocal_rank_at_k(retrieved, relevant, 10),
        )
        passed["doc_ids"] = r5 == 1.0
    missing = tuple(missing_includes(exp.must_include or (), text))
    if exp.must_include is not None:
        passed["must_include"] = top is not None and not missing
    found = tuple(found_excludes(exp.must_not_include or (), text))
    if exp.must_not_include is not None:
        passed["must_not_include"] = not found
    if exp.handoff is not None:
        passed["handoff"] = result is not None and result.handoff == exp.handoff
    compliant = top.check.passed if top else None
    if compliant is not None:
        passed["compliance"] = compliant
    return CaseScore(
        case_id=case.id,
        expected_intent=exp.intent,
        passed=passed,
        recall_at_1=r1,
        recall_at_5=r5,
        rr_at_10=rr,
        must_include_missing=missing,
        must_not_include_found=found,
        compliant=compliant,
        unsupported_fact=has_unsupported_fact(top.check) if top else None,
        latency_ms=latency_ms if error is None else None,
        error=error,
    )


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _labelled(scores: Sequence[CaseScore], key: str) -> list[bool | None]:
    return [s.passed.get(key) for s in scores]


def summarize(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """The contract's metrics over `scores`, with how many cases were labelled for each."""
    latencies = [s.latency_ms for s in scores if s.latency_ms is not None]
    not_include = [None if "must_not_include" not in s.passed else not s.passed["must_not_include"] for s in scores]
    return {
        "n_cases": len(scores),
        "n_errors": sum(s.error is not None for s in scores),
        "retrieval": {
            "recall@1": _r(mean(s.recall_at_1 for s in scores)),
            "recall@5": _r(mean(s.recall_at_5 for s in scores)),
            "mrr@10": _r(mean(s.rr_at_10 for s in scores)),
        },
        "intent": {"accuracy": _r(mean(_labelled(scores, "intent")))},
        "emotion": {"accuracy": _r(mean(_labelled(scores, "emotion")))},
        "reply": {
            "must_include_rate": _r(mean(_labelled(scores, "must_include"))),
            "must_not_include_violation_rate": _r(mean(not_include)),
            "unsupported_fact_rate": _r(mean(s.unsupported_fact for s in scores)),
            "compliance_pass_rate": _r(mean(s.compliant for s in scores)),
            "handoff_accuracy": _r(mean(_labelled(scores, "handoff"))),
        },
        "latency_ms": {
            "p50": _r(percentile(latencies, 50)),
            "p95": _r(percentile(latencies, 95)),
            "max": _r(max(latencies, default=None)),
        },
        "labelled": {key: sum(key in s.passed for s in scores) for key in LABELS},
    }


def compute_metrics(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """`summarize` over all cases, plus `per_intent`: the same over the cases of each expected intent."""
    metrics = summarize(scores)
    groups: dict[str, list[CaseScore]] = {}
    for s in scores:
        if s.expected_intent is not None:
            groups.setdefault(s.expected_intent, []).append(s)
    metrics["per_intent"] = {name: summarize(group) for name, group in sorted(groups.items())}
    return metrics


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, float | None]:
    """Numeric metrics by dotted key (`retrieval.recall@5`, `per_intent.exchange.n_cases`), no config."""
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if name != "config":
                out.update(flatten(value, f"{name}."))
        elif value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            out[name] = value
    return out


def metric_keys() -> set[str]:
    """Every key `flatten` gives for a run, except the per-intent ones."""
    return set(flatten(summarize([])))
