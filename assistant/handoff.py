"""When to recommend a person instead of (or before) an automatic answer.

The reasons, their triggers and holding replies are the KB's (`rules.yaml` → handoff, see `kb.rules.Reason`);
this module evaluates them: reasons in order, the first with a trigger whose conditions all hold wins, and the
conditions that held are reported as the deciding signals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.handoff_model import HandoffModel
from kb.rules import HandoffModelWeights, HandoffTable, Reason, Trigger

# Signals that cost something to compute and that the fitted model reads.
MODEL_SIGNALS = frozenset({"unknown_terms", "asked_found", "asked_in_answer"})


@dataclass(frozen=True)
class Signals:
    """What a handoff decision looks at, for one request."""

    latest: str  # the latest customer message (consecutive customer turns joined)
    earlier: tuple[str, ...] = ()  # the customer's earlier turns, oldest first
    intent: str = "other"
    intent_confidence: float = 1.0
    emotion: str = "calm"
    angry_turns: int = 0  # customer turns read as angry, the latest among them (0 when the latest is not)
    customer_turns: int = 1
    order_context: bool = False  # the request carries `context.order`
    answerable: bool = True
    greeting: bool = False
    unknown_terms: tuple[str, ...] = ()  # content words of the latest message that the KB never uses
    # Read by the fitted model (assistant.handoff_model) only:
    stage: str = "general"  # the intent's stage: pre_sale, in_sale, after_sale, general
    agent_turns: int = 0  # replies the shop already gave in this conversation
    asks: bool = True  # the latest message asks something (a question word or an answer slot)
    top_dense: float = 0.0  # retrieval's best cosine
    best_coverage: float = 0.0  # share of the question's wording the best evidence sentence holds
    answers_slot: bool = True  # False when a figure is asked for and no good sentence holds one
    asked_found: float = 1.0  # share of the nouns the latest message asks about that the retrieved passages use
    # share of its specific nouns (not everyday words, not the KB's product names) that the document the answer
    # would come from uses: 分贝 asked, the air conditioner's page never says it
    asked_in_answer: float = 1.0
    agent_said: tuple[str, ...] = ()  # the shop's replies so far, oldest first


@dataclass(frozen=True)
class Handoff:
    recommended: bool
    reason: Reason | None = None
    signals: tuple[str, ...] = ()  # the conditions that decided, e.g. ("intent=order_status", "order_context=no")

    @property
    def reason_code(self) -> str | None:
        return self.reason.code if self.reason else None

    @property
    def label(self) -> str | None:
        return self.reason.label if self.reason else None


def _first_match(patterns: Sequence[str], texts: Sequence[str]) -> str | None:
    for p in patterns:
        for text in texts:
            m = re.search(p, text)
            if m:
                return m.group(0)
    return None


def _matched(name: str, patterns: Sequence[str], texts: Sequence[str]) -> str | None:
    found = _first_match(patterns, texts)
    return f"{name}~{found}" if found is not None else None


def _all_matched(patterns: Sequence[str], text: str) -> str | None:
    found = [_first_match([p], [text]) for p in patterns]
    return f"latest~{'+'.join(f for f in found if f)}" if all(f is not None for f in found) else None


def _flag(name: str, wanted: bool | None, actual: bool) -> str | None:
    return f"{name}={'yes' if actual else 'no'}" if wanted == actual else None


def _at_least(name: str, wanted: int | None, actual: int) -> str | None:
    return f"{name}={actual}" if wanted is not None and actual >= wanted else None


# One check per condition of a trigger (the keys of `kb.rules.Trigger`): the signal it saw, or None.
_CHECKS: dict[str, Callable[[Trigger, Signals], str | None]] = {
    "latest": lambda t, s: _matched("latest", t.latest, [s.latest]),
    "latest_all": lambda t, s: _all_matched(t.latest_all, s.latest),
    "earlier": lambda t, s: _matched("earlier", t.earlier, s.earlier),
    "any_turn": lambda t, s: _matched("turn", t.any_turn, [s.latest, *s.earlier]),
    "not_latest": lambda t, s: None if _first_match(t.not_latest, [s.latest]) is not None else "not_latest=none",
    "intents": lambda t, s: (
        f"intent={s.intent}" if s.intent in t.intents and s.intent_confidence >= t.min_confidence else None
    ),
    "not_intents": lambda t, s: f"intent={s.intent}" if s.intent not in t.not_intents else None,
    "emotions": lambda t, s: f"emotion={s.emotion}" if s.emotion in t.emotions else None,
    "angry_turns": lambda t, s: _at_least("angry_turns", t.angry_turns, s.angry_turns),
    "customer_turns": lambda t, s: _at_least("customer_turns", t.customer_turns, s.customer_turns),
    "order_context": lambda t, s: _flag("order_context", t.order_context, s.order_context),
    "answerable": lambda t, s: _flag("answerable", t.answerable, s.answerable),
    "greeting": lambda t, s: _flag("greeting", t.greeting, s.greeting),
    "unknown_terms": lambda t, s: (
        f"unknown_terms={'、'.join(s.unknown_terms)}"
        if t.unknown_terms is not None and len(s.unknown_terms) >= t.unknown_terms
        else None
    ),
}


def _holds(trigger: Trigger, signals: Signals) -> tuple[str, ...] | None:
    seen = []
    for name in trigger.conditions():
        found = _CHECKS[name](trigger, signals)
        if found is None:
            return None
        seen.append(found)
    return tuple(seen)


class HandoffPolicy:
    """Applies one KB's handoff table, then (when no trigger holds) its fitted model, if it has one.

    >>> HandoffPolicy(kb.rules.handoff).run(Signals(latest="转人工")).reason_code
    'customer_request'
    """

    def __init__(self, table: HandoffTable, model: HandoffModelWeights | None = None) -> None:
        unknown = {n for r in table.reasons for t in r.when for n in t.conditions()} - set(_CHECKS)
        if unknown:  # a condition added to kb.rules.Trigger without a check here
            raise ValueError(f"no check for trigger condition(s) {', '.join(sorted(unknown))}")
        self.table = table
        self.conditions = frozenset(n for r in table.reasons for t in r.when for n in t.conditions())
        self.model = HandoffModel(model, table.cues) if model is not None and model.reasons else None

    def uses(self, condition: str) -> bool:
        """Whether some trigger of the table has this condition (a signal not used need not be computed)."""
        return condition in self.conditions or (self.model is not None and condition in MODEL_SIGNALS)

    def run(self, signals: Signals) -> Handoff:
        for reason in self.table.reasons:
            for trigger in reason.when:
                seen = _holds(trigger, signals)
                if seen is not None:
                    return Handoff(True, reason, seen)
        decision = self.model.decide(signals) if self.model is not None else None
        fitted = self.table.get(decision.reason) if decision is not None else None
        if decision is not None and fitted is not None:
            return Handoff(True, fitted, decision.signals)
        return Handoff(False)
