"""回访 drafts: after a problem was resolved, a message that names the customer's problem and what was done,
in the words of the KB's follow-up script (`rules.yaml` → followup, see `kb.rules.Followup`), cited, guarded,
and due within the KB's window after the resolution.

How the problem and the outcome are found (plain lookups, no model): the problem is the first of the KB's
`problems` whose regex matches a customer turn, with the product named in the customer's turns (an exact name
of a product document, `Index.names`) in place of the KB's `product_word` (商品破损 → 吹风机破损) or else put in
front; else the conversation's intent named by `intent_problems`. The script's passages are found by a search
for the words of `section`, then for `script_search`.
The outcome is the first of `outcomes` whose regex matches the outcome the caller states, or else a clause of
the agent's turns (latest turn first) that says something is done and offers or asks nothing (`done`,
`not_done`); else `outcome_default`.

>>> FollowupDrafter(index, kb.rules, guard, classifier).run(conversation=turns, resolved_at=at)
FollowupDraft(text='您好，您之前反馈的吹风机使用故障问题已经为您安排维修，请问现在使用还正常吗？…', ...)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from assistant.classify import IntentClassifier
from assistant.errors import FollowupNotConfiguredError
from assistant.guard import Guard
from assistant.result import CheckResult, Citation, Turn
from indexer.chunking import Chunk
from indexer.index import Index
from kb.rules import Followup, FollowupOutcome

MAX_QUOTE_CHARS = 240
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CLAUSE = re.compile(r"[，,。！!？?；;\n]")


@dataclass(frozen=True)
class FollowupDraft:
    """One 回访 draft and what it was made from."""

    text: str
    citations: tuple[Citation, ...]
    check: CheckResult
    problem: str  # as the draft names it, e.g. 吹风机使用故障
    problem_source: str  # lexicon | intent | default
    product: str | None
    intent: str
    outcome: str  # the outcome's name in the KB, e.g. repair
    outcome_source: str  # request | conversation | default
    resolved_at: datetime
    send_after: datetime
    due_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": [{"doc_id": c.doc_id, "title": c.title, "quote": c.quote} for c in self.citations],
            "passed": self.check.passed,
            "checks": self.check.as_checks(),
            "violations": self.check.to_dict()["violations"],
            "problem": {"text": self.problem, "source": self.problem_source, "product": self.product},
            "intent": self.intent,
            "outcome": {"code": self.outcome, "source": self.outcome_source},
            "resolved_at": self.resolved_at.isoformat(timespec="seconds"),
            "send_after": self.send_after.isoformat(timespec="seconds"),
            "due_at": self.due_at.isoformat(timespec="seconds"),
        }


def _first(patterns: Sequence[str], texts: Sequence[str]) -> bool:
    return any(re.search(p, t) for p in patterns for t in texts)


class FollowupDrafter:
    """Drafts the 回访 of a resolved conversation from one KB's follow-up rules and script."""

    def __init__(self, index: Index, rules: Followup, guard: Guard, classifier: IntentClassifier) -> None:
        self.index = index
        self.rules = rules
        self.guard = guard
        self.classifier = classifier

    @functools.cached_property
    def script(self) -> list[Chunk]:
        """The follow-up script's passages, in document order (found once per index generation)."""
        doc = self.rules.script
        for query in (re.sub(r"\W+", " ", self.rules.section), self.rules.script_search):
            hit = next((h.chunk for h in self.index.search_sparse(query, 100) if h.chunk.doc_id == doc), None)
            if hit is not None:
                return self.index.document_chunks(hit)
        found = [c for c in self.index.chunks if c.doc_id == doc]  # every passage: only when the search missed
        if not found:
            raise FollowupNotConfiguredError(
                f"the follow-up script '{doc}' (rules.yaml: followup.script) is not a published document of this "
                "KB: add a script document with that id (type: script, a section on 回访) or name yours there"
            )
        return sorted(found, key=lambda c: c.position)

    def _passage(self) -> Chunk:
        return next((c for c in self.script if re.search(self.rules.section, c.section)), self.script[0])

    def _product(self, texts: Sequence[str]) -> str | None:
        """The longest exact name (`Index.names`) the customer used that is in a product document's title."""
        joined = "\n".join(texts).lower()
        found = [n for n in self.index.names if len(n) >= 2 and _CJK.search(n) and n in joined]
        for name in sorted(found, key=len, reverse=True):
            chunks = self.index.lead_chunks(self.index.names[name])
            if any(c.doc_type == "product" and name in c.title.lower() for c in chunks):
                return name
        return None

    def _problem(self, customer: Sequence[str], intent: str) -> tuple[str, str, str | None]:
        product = self._product(customer)
        word = self.rules.product_word
        named = next((p.name for p in self.rules.problems if _first(p.when, customer)), None)
        if named is None:
            by_intent = self.rules.intent_problems.get(intent)
            if by_intent is None:
                return self.rules.problem_default, "default", None
            if product and by_intent.startswith(word):
                return product + by_intent.removeprefix(word), "intent", product
            return by_intent, "intent", None
        if product and named.startswith(word):
            return product + named.removeprefix(word), "lexicon", product
        return (product or "") + named, "lexicon", product

    def _outcome(self, stated: str | None, agent: Sequence[str]) -> tuple[FollowupOutcome, str]:
        if stated and stated.strip():
            found = next((o for o in self.rules.outcomes if o.name == stated.strip() or _first(o.when, [stated])), None)
            return (found, "request") if found else (self.rules.outcome_default, "default")
        done, offer = self.rules.done, self.rules.not_done
        for text in reversed(agent):
            clauses = [
                c
                for c in _CLAUSE.split(text)
                if (done is None or re.search(done, c)) and (offer is None or not re.search(offer, c))
            ]
            found = next((o for o in self.rules.outcomes if _first(o.when, clauses)), None)
            if found is not None:
                return found, "conversation"
        return self.rules.outcome_default, "default"

    def run(self, *, conversation: Sequence[Turn], resolved_at: datetime, outcome: str | None = None) -> FollowupDraft:
        """The draft for a conversation resolved at `resolved_at` (timezone-aware). `outcome`: what was done,
        as an outcome's name (reship, refund, …) or in words (已补发); found in the agent's turns without it."""
        if resolved_at.tzinfo is None:
            raise ValueError("`resolved_at` must be timezone-aware")
        customer = [t.text for t in conversation if t.role == "customer"]
        agent = [t.text for t in conversation if t.role == "agent"]
        intent = self.classifier.run(text=" ".join(customer)[:500]).name if customer else "other"
        problem, problem_source, product = self._problem(customer, intent)
        done, outcome_source = self._outcome(outcome, agent)
        text = self.rules.text.format(problem=problem, outcome=done.says, check=done.asks) + self.rules.close
        passage = self._passage()
        check = self.guard.check(
            text, sources=[c.text for c in self.script], conversation=conversation, fix=True, customer_quantities=False
        )
        quote = passage.text if len(passage.text) <= MAX_QUOTE_CHARS else passage.text[: MAX_QUOTE_CHARS - 1] + "…"
        start, end = self.rules.window_hours
        return FollowupDraft(
            text=check.fixed_text or text,
            citations=(Citation(passage.doc_id, passage.title, quote),),
            check=check,
            problem=problem,
            problem_source=problem_source,
            product=product,
            intent=intent,
            outcome=done.name,
            outcome_source=outcome_source,
            resolved_at=resolved_at,
            send_after=resolved_at + timedelta(hours=start),
            due_at=resolved_at + timedelta(hours=end),
        )
