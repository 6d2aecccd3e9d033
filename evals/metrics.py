"""Scoring: per-case checks and the metrics of a run (CONTRACTS.md §5). Pure functions, no I/O.

Every metric is one `Metric` record in `METRICS`: its dotted `metrics.json` key, a label for people, its
direction, the expectation that labels cases for it, and how it is computed from the case scores. The
report, `kefu eval compare`/`table`, the CLI summary, the editor's impact table and the gate all derive
from this table, so a new metric is one entry here. A metric is the share (or mean) over the cases labelled
for it, and `None` when no case is.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from assistant.result import CheckResult, Result
from evals.cases import EXPECTED_KEYS, EvalCase, split_alternatives
from evals.polarity import reply_polarity

UNSUPPORTED_RULE = "unsupported_facts"
LABELS = (*EXPECTED_KEYS, "compliance")  # what `labelled` counts: the expectations, and the checked replies


def recall_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 when any relevant document is among the first `k` retrieved, else 0.0."""
    return 1.0 if any(d in relevant for d in retrieved[:k]) else 0.0


def reciprocal_rank_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1/rank of the first relevant document among the first `k` retrieved; 0.0 when there is none."""
    return next((1.0 / rank for rank, d in enumerate(retrieved[:k], 1) if d in relevant), 0.0)


@cache
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    # A number at either end of the phrase must not continue into more digits or a decimal part.
    head = r"(?<![\d.])(?<!\d\.)" if phrase[:1].isdigit() else ""
    tail = r"(?!\.?\d)" if phrase[-1:].isdigit() else ""
    return re.compile(head + re.escape(phrase) + tail)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether `text` contains `phrase`, a number at its start or end matching only as a whole number.

    >>> contains_phrase("运费15元", "5元"), contains_phrase("运费5元", "5元"), contains_phrase("约12小时", "2小时")
    (False, True, False)
    >>> contains_phrase("1-3个工作日到账", "1-3个工作日"), contains_phrase("容量5.5L", "5")
    (True, False)
    """
    return _phrase_pattern(phrase).search(text) is not None


def matches_alternatives(entry: str, text: str) -> bool:
    """Whether `text` contains `entry`, or one of its `|`-separated alternatives (`contains_phrase`)."""
    return any(contains_phrase(text, alt) for alt in split_alternatives(entry))


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
    intent: str | None = None  # what the assistant classified
    recall_at_1: float | None = None
    recall_at_5: float | None = None
    rr_at_10: float | None = None
    baseline_recall_at_5: float | None = None  # the plain-dense baseline's (`evals.baseline`), same labels
    baseline_rr_at_10: float | None = None
    must_include_missing: tuple[str, ...] = ()
    must_include_any: bool | None = None  # some suggestion has every must_include entry
    must_not_include_found: tuple[str, ...] = ()
    compliant: bool | None = None  # the top suggestion passed the guard; None when nothing was suggested
    unsupported_fact: bool | None = None
    expected_handoff: bool | None = None
    handoff: bool | None = None  # what the assistant recommended; None when it failed
    expected_handoff_reason: str | None = None
    handoff_reason: str | None = None  # the assistant's reason code
    citation_precision: float | None = None
    polarity: str | None = None  # the stance the top suggestion took (`evals.polarity`)
    latency_ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(self.passed.values())


def score_case(
    case: EvalCase,
    result: Result | None,
    *,
    latency_ms: float | None = None,
    error: str | None = None,
    baseline: Sequence[str] | None = None,
) -> CaseScore:
    """Score the assistant's `result` for `case`; `result` None means the run failed with `error`.
    `baseline`: the documents a reference retriever found for the case, best first (scored when given)."""
    exp = case.expected
    suggestions = result.suggestions if result else ()
    top = suggestions[0] if suggestions else None
    text = top.text if top else ""
    retrieved = _dedupe(result.retrieved_doc_ids) if result else []
    passed: dict[str, bool] = {}
    if exp.intent is not None:
        passed["intent"] = result is not None and result.intent == exp.intent
    if exp.emotion is not None:
        passed["emotion"] = result is not None and result.emotion == exp.emotion
    r1 = r5 = rr = citation = base_r5 = base_rr = None
    if exp.doc_ids is not None:
        relevant = set(exp.doc_ids)
        r1, r5, rr = (
            recall_at_k(retrieved, relevant, 1),
            recall_at_k(retrieved, relevant, 5),
            reciprocal_rank_at_k(retrieved, relevant, 10),
        )
        passed["doc_ids"] = r5 == 1.0
        if baseline is not None:
            base = _dedupe(baseline)
            base_r5, base_rr = recall_at_k(base, relevant, 5), reciprocal_rank_at_k(base, relevant, 10)
        cited = _dedupe(c.doc_id for c in top.citations) if top else []
        if exp.handoff is not True and cited:
            citation = sum(d in relevant for d in cited) / len(cited)
    missing = tuple(missing_includes(exp.must_include or (), text))
    any_include = None
    if exp.must_include is not None:
        passed["must_include"] = top is not None and not missing
        any_include = any(not missing_includes(exp.must_include, s.text) for s in suggestions)
    found = tuple(found_excludes(exp.must_not_include or (), text))
    if exp.must_not_include is not None:
        passed["must_not_include"] = not found
    if exp.handoff is not None:
        passed["handoff"] = result is not None and result.handoff == exp.handoff
    stance = reply_polarity(text) if top else None
    if exp.polarity is not None:
        passed["polarity"] = stance == exp.polarity
    compliant = top.check.passed if top else None
    if compliant is not None:
        passed["compliance"] = compliant
    return CaseScore(
        case_id=case.id,
        expected_intent=exp.intent,
        passed=passed,
        intent=result.intent if result else None,
        recall_at_1=r1,
        recall_at_5=r5,
        rr_at_10=rr,
        baseline_recall_at_5=base_r5,
        baseline_rr_at_10=base_rr,
        must_include_missing=missing,
        must_include_any=any_include,
        must_not_include_found=found,
        compliant=compliant,
        unsupported_fact=has_unsupported_fact(top.check) if top else None,
        expected_handoff=exp.handoff,
        handoff=result.handoff if result else None,
        expected_handoff_reason=exp.handoff_reason,
        handoff_reason=(result.handoff_reason_code if result.handoff else None) if result else None,
        citation_precision=citation,
        polarity=stance,
        latency_ms=latency_ms if error is None else None,
        error=error,
    )


# -- the metrics --------------------------------------------------------------------------------------------

Scores = Sequence[CaseScore]


def _labelled(key: str) -> Callable[[Scores], float | None]:
    return lambda scores: mean(s.passed.get(key) for s in scores)


def _handoff_precision(scores: Scores, reason: str | None = None) -> float | None:
    """Of the handoffs the assistant recommended (for `reason`, when given), the share a person was needed for."""
    said = [
        s.expected_handoff
        for s in scores
        if s.expected_handoff is not None and s.handoff and (reason is None or s.handoff_reason == reason)
    ]
    return mean(said)


def _handoff_recall(scores: Scores, reason: str | None = None) -> float | None:
    """Of the cases a person was needed for (with `reason`, when given), the share the assistant handed off.

    A case the assistant failed on counts as not handed off.
    """
    return mean(
        bool(s.handoff)
        for s in scores
        if s.expected_handoff and (reason is None or s.expected_handoff_reason == reason)
    )


def _by_reason(fn: Callable[[Scores, str | None], float | None], attr: str) -> Callable[[Scores], dict[str, Any]]:
    def per_reason(scores: Scores) -> dict[str, Any]:
        reasons = sorted({r for s in scores if (r := getattr(s, attr))})
        return {r: _round(fn(scores, r)) for r in reasons}

    return per_reason


def _handoff_reason_accuracy(scores: Scores) -> float | None:
    return mean(
        s.handoff_reason == s.expected_handoff_reason for s in scores if s.expected_handoff_reason and s.handoff
    )


@dataclass(frozen=True)
class IntentRow:
    intent: str
    support: int  # cases expecting it
    predicted: int  # cases classified as it
    correct: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.support if self.support else None

    @property
    def f1(self) -> float:
        p, r = self.precision or 0.0, self.recall or 0.0
        return 2 * p * r / (p + r) if p + r else 0.0


def intent_pairs(scores: Scores) -> list[tuple[str, str]]:
    """(expected, classified) per case labelled with an intent; a failed case is classified as '(error)'."""
    return [(s.expected_intent, s.intent or "(error)") for s in scores if s.expected_intent is not None]


def intent_table(pairs: Sequence[tuple[str, str]]) -> list[IntentRow]:
    """Precision, recall and F1 of each intent the cases expect, from (expected, classified) pairs."""
    support = Counter(e for e, _ in pairs)
    predicted = Counter(p for _, p in pairs)
    correct = Counter(e for e, p in pairs if e == p)
    return [IntentRow(i, support[i], predicted[i], correct[i]) for i in sorted(support)]


def confusion(pairs: Sequence[tuple[str, str]]) -> dict[str, Counter[str]]:
    """expected intent → Counter of what it was classified as."""
    out: dict[str, Counter[str]] = {}
    for e, p in pairs:
        out.setdefault(e, Counter())[p] += 1
    return out


def _macro_f1(scores: Scores) -> float | None:
    """Unweighted mean F1 over the intents the cases expect; a class never expected counts only as an error."""
    rows = intent_table(intent_pairs(scores))
    return mean(r.f1 for r in rows)


@dataclass(frozen=True)
class Metric:
    """One `metrics.json` entry: dotted key, label for people, direction, the labels it is over, how computed.

    `labelled_by` names the expectation (a `labelled` count) that makes a case count for it; None = every case.
    A `per_value` metric is a family: `compute` gives {value: figure}, keyed `<key>.<value>` (e.g. per reason).
    """

    key: str
    label: str
    higher_is_better: bool
    labelled_by: str | None
    compute: Callable[[Scores], Any] = field(repr=False, compare=False)
    per_value: bool = False
    per_intent: bool = True  # also computed over the cases of each expected intent


METRICS: tuple[Metric, ...] = (
    Metric("n_errors", "Cases the assistant failed on", False, None, lambda s: sum(x.error is not None for x in s)),
    Metric("retrieval.recall@1", "Retrieval recall@1", True, "doc_ids", lambda s: mean(x.recall_at_1 for x in s)),
    Metric("retrieval.recall@5", "Retrieval recall@5", True, "doc_ids", lambda s: mean(x.recall_at_5 for x in s)),
    Metric("retrieval.mrr@10", "Retrieval MRR@10", True, "doc_ids", lambda s: mean(x.rr_at_10 for x in s)),
    Metric(
        "retrieval.dense_baseline.recall@5",
        "Plain-dense baseline recall@5 (joined customer turns)",
        True,
        "doc_ids",
        lambda s: mean(x.baseline_recall_at_5 for x in s),
    ),
    Metric(
        "retrieval.dense_baseline.mrr@10",
        "Plain-dense baseline MRR@10 (joined customer turns)",
        True,
        "doc_ids",
        lambda s: mean(x.baseline_rr_at_10 for x in s),
    ),
    Metric("intent.accuracy", "Intent accuracy", True, "intent", _labelled("intent")),
    Metric("intent.macro_f1", "Intent macro-F1", True, "intent", _macro_f1, per_intent=False),
    Metric("emotion.accuracy", "Emotion accuracy", True, "emotion", _labelled("emotion")),
    Metric("reply.must_include_rate", "must_include pass rate (top)", True, "must_include", _labelled("must_include")),
    Metric(
        "reply.must_include_any_rate",
        "must_include pass rate (any suggestion)",
        True,
        "must_include",
        lambda s: mean(x.must_include_any for x in s),
    ),
    Metric(
        "reply.must_not_include_violation_rate",
        "must_not_include violation rate",
        False,
        "must_not_include",
        lambda s: mean(None if "must_not_include" not in x.passed else not x.passed["must_not_include"] for x in s),
    ),
    Metric(
        "reply.citation_precision",
        "Citation precision (top)",
        True,
        "doc_ids",
        lambda s: mean(x.citation_precision for x in s),
    ),
    Metric("reply.polarity_accuracy", "Yes/no polarity accuracy", True, "polarity", _labelled("polarity")),
    Metric(
        "reply.unsupported_fact_rate",
        "Unsupported-fact rate",
        False,
        "compliance",
        lambda s: mean(x.unsupported_fact for x in s),
    ),
    Metric(
        "reply.compliance_pass_rate", "Compliance pass rate", True, "compliance", lambda s: mean(x.compliant for x in s)
    ),
    Metric("reply.handoff_accuracy", "Handoff accuracy", True, "handoff", _labelled("handoff")),
    Metric("reply.handoff_precision", "Handoff precision", True, "handoff", _handoff_precision),
    Metric("reply.handoff_recall", "Handoff recall", True, "handoff", _handoff_recall),
    Metric(
        "reply.handoff_reason_accuracy",
        "Handoff reason accuracy (handed-off cases)",
        True,
        "handoff_reason",
        _handoff_reason_accuracy,
    ),
    Metric(
        "reply.handoff_recall_by_reason",
        "Handoff recall, expected reason",
        True,
        "handoff_reason",
        _by_reason(_handoff_recall, "expected_handoff_reason"),
        per_value=True,
        per_intent=False,
    ),
    Metric(
        "reply.handoff_precision_by_reason",
        "Handoff precision, the assistant's reason",
        True,
        "handoff",
        _by_reason(_handoff_precision, "handoff_reason"),
        per_value=True,
        per_intent=False,
    ),
    Metric(
        "latency_ms.p50",
        "Latency p50 (ms)",
        False,
        None,
        lambda s: percentile([x.latency_ms for x in s if x.latency_ms is not None], 50),
    ),
    Metric(
        "latency_ms.p95",
        "Latency p95 (ms)",
        False,
        None,
        lambda s: percentile([x.latency_ms for x in s if x.latency_ms is not None], 95),
    ),
    Metric(
        "latency_ms.max",
        "Latency max (ms)",
        False,
        None,
        lambda s: max((x.latency_ms for x in s if x.latency_ms is not None), default=None),
    ),
)
BY_KEY = {m.key: m for m in METRICS}


def metric_for(key: str) -> Metric | None:
    """The metric behind a flattened key: `retrieval.mrr@10`, `per_intent.exchange.intent.accuracy` or
    `reply.handoff_recall_by_reason.threat`; None for counts (`n_cases`, `labelled.*`)."""
    if key.startswith("per_intent."):
        key = key.split(".", 2)[2] if key.count(".") >= 2 else key
    if key in BY_KEY:
        return BY_KEY[key]
    family = key.rsplit(".", 1)[0]
    m = BY_KEY.get(family)
    return m if m is not None and m.per_value else None


def display_label(m: Metric) -> str:
    """The label with ↓ when lower is better."""
    return m.label + ("" if m.higher_is_better else " ↓")


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *groups, name = key.split(".", 1) if "." in key else [key]
        node = out
        for g in groups:
            node = node.setdefault(g, {})
        node[name] = value
    return out


def summarize(scores: Scores, *, per_intent: bool = False) -> dict[str, Any]:
    """The metrics of `METRICS` over `scores`, nested by group, with how many cases were labelled for each."""
    values: dict[str, Any] = {"n_cases": len(scores)}
    for m in METRICS:
        if per_intent and not m.per_intent:
            continue
        v = m.compute(scores)
        values[m.key] = v if m.per_value else (v if isinstance(v, int) else _round(v))
    out = _nest(values)
    labelled = {key: sum(key in s.passed for s in scores) for key in LABELS if key != "handoff_reason"}
    labelled["handoff_reason"] = sum(s.expected_handoff_reason is not None for s in scores)
    labelled["handoff_positive"] = sum(bool(s.expected_handoff) for s in scores)
    out["labelled"] = labelled
    return out


def compute_metrics(scores: Scores) -> dict[str, Any]:
    """`summarize` over all cases, plus `per_intent`: the same over the cases of each expected intent."""
    metrics = summarize(scores)
    groups: dict[str, list[CaseScore]] = {}
    for s in scores:
        if s.expected_intent is not None:
            groups.setdefault(s.expected_intent, []).append(s)
    metrics["per_intent"] = {name: summarize(group, per_intent=True) for name, group in sorted(groups.items())}
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
    """Every key of the table (the families' members are `<key>.<value>`)."""
    return set(BY_KEY)
