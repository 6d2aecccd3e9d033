"""Fit the handoff model (`assistant.handoff_model`) on labelled eval sets: `kefu handoff fit`.

Every case with `expected.handoff` (true or false) is one example: its signals as the assistant reads them on
the KB the set was written for, and as label the reason a person was needed (`expected.handoff_reason`), or
none. Cases a trigger of the handoff table already hands over stay in: the model learns what a conversation
that needs a person looks like, and the table still decides first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from assistant.handoff import HandoffPolicy
from assistant.handoff_model import FitReport, HandoffModel, features, fit
from assistant.pipeline import Assistant
from evals.cases import EvalCase
from kb.rules import HandoffModelWeights

UNNAMED = "unnamed"  # label of a case that needs a person but names no reason


@dataclass(frozen=True)
class Example:
    set_name: str
    case_id: str
    features: dict[str, float]
    label: str | None  # the reason a person was needed, or None
    by_table: bool  # a trigger of the handoff table already hands it over


def collect(
    assistant: Assistant, cases: Iterable[EvalCase], set_name: str, *, tick: Callable[[], None] = lambda: None
) -> list[Example]:
    """The labelled examples of one eval set (cases without `expected.handoff` are skipped)."""
    cues = HandoffModel.compile_cues(assistant.kb.rules.handoff.cues)
    table = HandoffPolicy(assistant.kb.rules.handoff)  # the triggers alone, without a fitted model
    out = []
    for case in cases:
        tick()
        if case.expected.handoff is None:
            continue
        signals = assistant.signals(conversation=case.conversation, context=case.context)
        label = (case.expected.handoff_reason or UNNAMED) if case.expected.handoff else None
        out.append(Example(set_name, case.id, features(signals, cues), label, table.run(signals).recommended))
    return out


def fit_examples(
    examples: Sequence[Example],
    *,
    reasons: Sequence[str],
    l2: float = 1.0,
    min_precision: float = 0.85,
) -> FitReport:
    """Fit the detector and the models of the reasons with enough examples."""
    return fit(
        [e.features for e in examples],
        [e.label for e in examples],
        reasons=reasons,
        l2=l2,
        min_precision=min_precision,
        by_table=[e.by_table for e in examples],
        fitted_on=sorted({e.set_name for e in examples}),
    )


@dataclass(frozen=True)
class HoldOut:
    """How the table alone, and the table with the fitted model, hand over on examples the fit did not see."""

    cases: int
    need_a_person: int
    table: tuple[float | None, float]  # precision, recall
    with_model: tuple[float | None, float]


def _precision_recall(chosen: Sequence[bool], needed: Sequence[bool]) -> tuple[float | None, float]:
    tp = sum(c and n for c, n in zip(chosen, needed, strict=True))
    return (round(tp / sum(chosen), 3) if any(chosen) else None), round(tp / max(sum(needed), 1), 3)


def _decisions(weights: HandoffModelWeights, examples: Sequence[Example]) -> list[tuple[bool, bool, bool]]:
    """Per example: handed over by the table, by the table then the model, and whether a person was needed."""
    model = HandoffModel(weights, {})
    return [(e.by_table, e.by_table or model.decide_on(e.features) is not None, e.label is not None) for e in examples]


def _hold_out(decisions: Sequence[tuple[bool, bool, bool]]) -> HoldOut:
    table, both, needed = ([d[i] for d in decisions] for i in range(3))
    return HoldOut(len(decisions), sum(needed), _precision_recall(table, needed), _precision_recall(both, needed))


def evaluate(weights: HandoffModelWeights, examples: Sequence[Example]) -> HoldOut:
    """Precision and recall of handing over on `examples` (by the table, or by the table then the model)."""
    return _hold_out(_decisions(weights, examples))


def leave_one_out(
    examples: Sequence[Example], *, reasons: Sequence[str], l2: float = 1.0, min_precision: float = 0.85
) -> dict[str, HoldOut]:
    """For each set, a fit on the other sets evaluated on it, and (key "pooled") all those held-out decisions
    together: how a fit generalises to a set it did not see, set by set."""
    names = list(dict.fromkeys(e.set_name for e in examples))
    if len(names) < 2:
        raise ValueError("leaving one set out needs at least two --set files")
    out: dict[str, HoldOut] = {}
    pooled: list[tuple[bool, bool, bool]] = []
    for name in names:
        train = [e for e in examples if e.set_name != name]
        try:
            weights = fit_examples(train, reasons=reasons, l2=l2, min_precision=min_precision).weights
        except ValueError as exc:
            raise ValueError(f"fitting without {name}: {exc}") from exc
        decisions = _decisions(weights, [e for e in examples if e.set_name == name])
        out[name] = _hold_out(decisions)
        pooled += decisions
    out["pooled"] = _hold_out(pooled)
    return out
