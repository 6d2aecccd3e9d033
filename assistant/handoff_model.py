"""The fitted handoff model: when no trigger of the handoff table holds, does the conversation still need a person?

One logistic regression per reason (dispute, repeated, needs_order_data, no_answer, …) over named signals of
the conversation: its shape (turns, anger across turns, a customer repeating themselves), the intent's stage,
whether the order's data came with the request, how well the best evidence sentence covers the question, and
the KB's cue classes (`rules.yaml` → handoff.cues: a third party, a refusal, time that has passed …) in the
latest message and in earlier turns. The weights are a KB file (`handoff_model.json`) that `kefu handoff fit`
re-fits on any labelled eval set; the features that pushed a decision are reported as its signals.

>>> model = HandoffModel(kb.rules.handoff_model, kb.rules.handoff.cues)
>>> model.decide(signals)            # Decision(reason, probability, deciding signals) or None
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.conversation import clean
from kb.rules import HandoffModelWeights, LogisticWeights

if TYPE_CHECKING:  # assistant.handoff applies this model
    from assistant.handoff import Signals

STAGES = ("pre_sale", "in_sale", "after_sale", "general")


def _bigrams(text: str) -> set[str]:
    t = re.sub(r"[\s\W]+", "", clean(text))
    return {t[i : i + 2] for i in range(len(t) - 1)}


def repeat_share(latest: str, earlier: Sequence[str]) -> float:
    """The largest share of the latest message's character bigrams that one earlier message already holds:
    a customer asking the same thing again, or the shop giving the same answer again."""
    own = _bigrams(latest)
    if len(own) < 3:
        return 0.0
    return max((len(own & _bigrams(e)) / len(own) for e in earlier), default=0.0)


def features(signals: Signals, cues: Mapping[str, Sequence[re.Pattern[str]]]) -> dict[str, float]:
    """The named signals of one request, each in [0, 1]."""
    s = signals
    f: dict[str, float] = {
        "earlier_turns": min(s.customer_turns - 1, 6) / 6,
        "agent_replied": float(s.agent_turns > 0),
        "angry_turns": min(s.angry_turns, 3) / 3,
        "emotion=angry": float(s.emotion == "angry"),
        "emotion=anxious": float(s.emotion == "anxious"),
        "repeat": repeat_share(s.latest, s.earlier),
        "latest_length": min(len(clean(s.latest)), 60) / 60,
        "order_context": float(s.order_context),
        "intent_confidence": s.intent_confidence,
        "asks": float(s.asks),
        "greeting": float(s.greeting),
        "top_dense": min(max(s.top_dense, 0.0), 1.0),
        "best_coverage": min(max(s.best_coverage, 0.0), 1.0),
        "figure_unanswered": float(not s.answers_slot),
        "unknown_terms": min(len(s.unknown_terms), 2) / 2,
        "asked_missing": 1.0 - min(max(s.asked_found, 0.0), 1.0),
        "asked_missing_in_answer": 1.0 - min(max(s.asked_in_answer, 0.0), 1.0),
        "agent_repeated": max(
            (repeat_share(a, s.agent_said[:i]) for i, a in enumerate(s.agent_said) if i), default=0.0
        ),
    }
    for stage in STAGES:
        f[f"stage={stage}"] = float(s.stage == stage)
    f[f"intent={s.intent}"] = 1.0
    for name, patterns in cues.items():
        f[f"{name}@latest"] = float(any(p.search(s.latest) for p in patterns))
        f[f"{name}@earlier"] = float(any(p.search(e) for p in patterns for e in s.earlier))
    return f


@dataclass(frozen=True)
class Decision:
    reason: str
    probability: float  # that a person is needed
    signals: tuple[str, ...]  # e.g. ("model p=0.81 → dispute", "refusal@latest+1.2", …): what pushed it most


def _probability(w: LogisticWeights, f: Mapping[str, float]) -> tuple[float, list[tuple[str, float]]]:
    parts = [(name, weight * f[name]) for name, weight in w.weights.items() if f.get(name)]
    z = w.bias + sum(v for _, v in parts)
    return 1 / (1 + math.exp(-max(min(z, 40.0), -40.0))), parts


def _pushed(parts: Sequence[tuple[str, float]], n: int) -> list[str]:
    return [f"{name}+{v:.1f}" for name, v in sorted((x for x in parts if x[1] > 0), key=lambda x: -x[1])[:n]]


class HandoffModel:
    """Applies one KB's fitted weights: `decide` hands over when the detector's probability reaches the
    threshold, for the reason whose model is most probable."""

    def __init__(self, weights: HandoffModelWeights, cues: Mapping[str, Sequence[str]]) -> None:
        self.weights = weights
        self.cues = self.compile_cues(cues)

    @staticmethod
    def compile_cues(cues: Mapping[str, Sequence[str]]) -> dict[str, tuple[re.Pattern[str], ...]]:
        return {name: tuple(re.compile(p) for p in patterns) for name, patterns in cues.items()}

    def features(self, signals: Signals) -> dict[str, float]:
        return features(signals, self.cues)

    def probability(self, signals: Signals) -> float:
        return _probability(self.weights.detector, self.features(signals))[0]

    def decide(self, signals: Signals) -> Decision | None:
        return self.decide_on(self.features(signals))

    def decide_on(self, f: Mapping[str, float]) -> Decision | None:
        """The decision on named features (see `features`)."""
        if not self.weights.reasons:
            return None
        p, parts = _probability(self.weights.detector, f)
        if p < self.weights.threshold:
            return None
        scored = {code: _probability(w, f) for code, w in self.weights.reasons.items()}
        code = max(scored, key=lambda c: (scored[c][0], c))
        return Decision(
            code,
            round(p, 3),
            (f"model p={p:.2f} → {code}", *_pushed(parts, 3), *(f"{code}:{x}" for x in _pushed(scored[code][1], 2))),
        )


# -- fitting ------------------------------------------------------------------------------------------------


def _newton(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 50) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method; the last column of `x` is the (unpenalised) bias."""
    w = np.zeros(x.shape[1])
    penalty = np.r_[np.full(x.shape[1] - 1, l2), 0.0]
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -40, 40)))
        grad = x.T @ (p - y) + penalty * w
        hess = x.T @ (x * (p * (1 - p))[:, None]) + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _matrix(rows: Sequence[Mapping[str, float]], names: Sequence[str]) -> np.ndarray:
    return np.array([[r.get(n, 0.0) for n in names] + [1.0] for r in rows])


def _weights(w: np.ndarray, names: Sequence[str]) -> LogisticWeights:
    kept = {n: round(float(v), 4) for n, v in zip(names, w[:-1], strict=True) if abs(v) >= 1e-3}
    return LogisticWeights(bias=round(float(w[-1]), 4), weights=kept)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-np.clip(z, -40, 40))))


def held_out(x: np.ndarray, y: np.ndarray, l2: float, folds: int) -> np.ndarray:
    """Each row's probability from a model fitted on the other folds (interleaved: sets come in blocks)."""
    fold = np.arange(len(y)) % folds
    out = np.zeros(len(y))
    for k in range(folds):
        train, test = fold != k, fold == k
        out[test] = _sigmoid(x[test] @ _newton(x[train], y[train], l2))
    return out


def choose_threshold(p: np.ndarray, y: np.ndarray, min_precision: float, given: np.ndarray | None = None) -> float:
    """The lowest threshold (≥ 0.5) at which the held-out decisions keep `min_precision`: the most recall a
    handoff may buy without asking people to take over conversations that did not need them. 0.95 if none.
    `given` marks the rows handed over whatever the threshold (by the handoff table): the precision asked for
    is that of all handoffs, the table's and the model's together, as an agent sees them."""
    always = given if given is not None else np.zeros(len(y), dtype=bool)
    best = 0.95
    for t in np.round(np.arange(0.95, 0.499, -0.05), 2):
        chosen = (p >= t) | always
        if chosen.sum() and y[chosen].mean() >= min_precision:
            best = float(t)
    return best


@dataclass(frozen=True)
class FitReport:
    weights: HandoffModelWeights
    summary: dict[str, Any]


def fit(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[str | None],
    *,
    reasons: Sequence[str],
    l2: float = 1.0,
    folds: int = 5,
    min_precision: float = 0.85,
    min_support: int = 3,
    by_table: Sequence[bool] | None = None,
    fitted_on: Sequence[str] = (),
) -> FitReport:
    """Fit the detector on every row (`labels[i]`: why a person was needed for row i, or None) and one model per
    reason (of `reasons`, with at least `min_support` rows) on the rows that needed a person. The threshold is
    chosen on `folds`-fold held-out probabilities so that all handoffs — the table's (`by_table[i]` true) and
    those the model adds on the other rows — keep `min_precision` (the report gives both)."""
    names = sorted({n for r in rows for n in r})
    x = _matrix(rows, names)
    y = np.array([1.0 if label else 0.0 for label in labels])
    if y.sum() < min_support or (1 - y).sum() < min_support:
        raise ValueError(
            f"the labelled cases hold {int(y.sum())} that need a person and {int((1 - y).sum())} that do not; "
            f"a fit needs at least {min_support} of each (expected.handoff true / false)"
        )
    held = held_out(x, y, l2, folds)
    rest = ~np.array(by_table, dtype=bool) if by_table is not None else np.ones(len(y), dtype=bool)
    threshold = choose_threshold(held, y, min_precision, given=~rest)
    chosen = (held >= threshold) | ~rest
    need = y == 1
    by_reason: dict[str, LogisticWeights] = {}
    support: dict[str, int] = {}
    for code in reasons:
        yr = np.array([1.0 if label == code else 0.0 for label in labels])[need]
        if yr.sum() >= min_support:
            by_reason[code] = _weights(_newton(x[need], yr, l2), names)
            support[code] = int(yr.sum())
    tp = float((chosen & need).sum())
    summary: dict[str, Any] = {
        "cases": len(labels),
        "need_a_person": int(y.sum()),
        "threshold": threshold,
        "cv_precision": round(tp / chosen.sum(), 3) if chosen.sum() else None,
        "cv_recall": round(tp / y.sum(), 3),
        "added_by_model": int((held[rest] >= threshold).sum()),
        "added_needing_a_person": int(((held >= threshold) & rest & need).sum()),
        "reasons": support,
    }
    weights_file = HandoffModelWeights(
        detector=_weights(_newton(x, y, l2), names),
        threshold=threshold,
        reasons=by_reason,
        fitted_on=tuple(fitted_on),
        l2=l2,
        fit_report=summary,
    )
    return FitReport(weights_file, summary)
