"""The assistant: conversation (+ order context) → retrieval → intent/emotion → drafts → guard → result."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from assistant.answerability import asks_something, clauses, content_words, is_everyday, unknown_terms
from assistant.classify import IntentClassifier, IntentPrediction, angry_turns, detect_emotion
from assistant.conversation import (
    clean,
    formulate_query,
    is_greeting,
    latest_customer_turns,
    leans_on_history,
    open_question,
)
from assistant.drafting import Draft, Plan, TemplateDrafter
from assistant.errors import BadConversationError, FollowupNotConfiguredError, LLMUnavailableError
from assistant.evidence import AnswerRules, Evidence, EvidenceFinder
from assistant.followup import FollowupDraft, FollowupDrafter
from assistant.guard import Guard
from assistant.handoff import HandoffPolicy, Signals
from assistant.result import CheckResult, Result, Suggestion, Turn
from assistant.retrieval import Hit, Hits, HybridRetriever
from assistant.ticket import TicketPolicy
from indexer.index import Index
from kb.models import Intent, KBSummary, KnowledgeBase

log = logging.getLogger("kefu.assistant")

MAX_TURN_CHARS = 4000
# Cosine (e5-small, query vs passage) below which nothing in the KB is taken to answer the question;
# calibrated on the dev set (see NOTES.md). The fake embedder gets its own value.
DEFAULT_ANSWERABLE_THRESHOLD = 0.80


class Drafter(Protocol):
    name: str

    def run(self, plan: Plan, *, conversation: Sequence[Turn], context: dict[str, Any] | None) -> list[Draft]: ...


def parse_conversation(raw: Sequence[Any], *, customer_last: bool = True) -> list[Turn]:
    """Validate turns given as dicts or Turn objects; the last one must be the customer's (unless not
    `customer_last`: a resolved conversation often ends with the agent)."""
    if not raw:
        raise BadConversationError("the conversation is empty; send at least one customer turn")
    turns: list[Turn] = []
    for n, t in enumerate(raw, 1):
        role, text = (t.role, t.text) if isinstance(t, Turn) else (t.get("role"), t.get("text"))
        if role not in ("customer", "agent"):
            raise BadConversationError(f"turn {n}: role {role!r} is not 'customer' or 'agent'")
        if not isinstance(text, str) or not text.strip():
            raise BadConversationError(f"turn {n}: 'text' must be a non-empty string")
        turns.append(Turn(role, text[:MAX_TURN_CHARS]))
    if customer_last and turns[-1].role != "customer":
        raise BadConversationError("the last turn must be the customer's: suggestions answer the customer")
    return turns


@dataclass(frozen=True)
class _Reading:
    """What `Assistant._read` understood of a conversation."""

    query: str
    latest: str
    intent: IntentPrediction
    spec: Intent | None
    emotion: str
    hits: Hits
    evidence: Evidence
    answerable: bool
    greeting: bool
    signals: Signals


class Assistant:
    """Turns a conversation into two or three grounded, guarded reply suggestions.

    >>> Assistant(index, kb).run(conversation=[Turn("customer", "衣服偏小能退吗")])
    """

    def __init__(
        self,
        index: Index,
        kb: KnowledgeBase | KBSummary,
        *,
        k: int = 5,
        mode: str = "hybrid",
        drafter: Drafter | None = None,
        answerable_threshold: float | None = None,
    ) -> None:
        self.index = index
        # Only the summary is kept: a large KB's document bodies are not needed to answer.
        self.kb = kb.summary() if isinstance(kb, KnowledgeBase) else kb
        self.retriever = HybridRetriever(index, k=k, mode=mode)
        self.classifier = IntentClassifier(kb.intents, index.embedder)
        self.guard = Guard(kb.rules)
        self.finder = EvidenceFinder(index, self.guard, AnswerRules.from_rules(kb.rules))
        self.template = TemplateDrafter(self.guard, kb.rules, self.finder)
        self.handoff = HandoffPolicy(kb.rules.handoff, kb.rules.handoff_model)
        self.tickets = TicketPolicy(kb.rules.tickets) if kb.rules.tickets is not None else None
        self.followups = (
            FollowupDrafter(index, kb.rules.followup, self.guard, self.classifier) if kb.rules.followup else None
        )
        self.drafter: Drafter = drafter or self.template
        if answerable_threshold is None:
            fake = index.manifest.model_name.startswith("hashing")
            answerable_threshold = 0.2 if fake else DEFAULT_ANSWERABLE_THRESHOLD
        self.answerable_threshold = answerable_threshold
        self._intents = {i.name: i for i in kb.intents}
        # The taxonomy's words (descriptions, examples, keywords) are customer-service topics in any shop: a KB
        # that never uses one (正品, 折扣) may still cover the topic in its own words, so it is no sign of a gap.
        self._service_words = "\n".join(
            t for i in kb.intents for t in (i.description, *i.examples, *i.keywords)
        ).lower()

    def _known(self, word: str) -> bool:
        """A word of the KB's text or of the intent taxonomy."""
        return self.index.knows(word) or word in self._service_words

    def _order_state(self, context: dict[str, Any] | None) -> str:
        """The order's status in the customer's words (paid → 「已付款、待发货」), or "" without order data."""
        order = (context or {}).get("order")
        return self.kb.rules.phrasing.status_name(order.get("status")) if isinstance(order, dict) else ""

    def _asked_nouns(self, latest: str) -> list[str]:
        """The nouns of the latest message's asking clauses (jieba: read once, for both signals below)."""
        return [w for c in clauses(latest) if self._asks(c) for w in content_words(c)]

    @staticmethod
    def _asked_found(asked: Sequence[str], hits: Sequence[Hit]) -> float:
        """The share of the nouns asked about that the retrieved passages use: 1.0 when it asks about none."""
        if not asked:
            return 1.0
        text = "\n".join(c.text for h in hits for c in (h.chunk, *h.extra_chunks)).lower()
        return sum(w in text for w in asked) / len(asked)

    def _asked_in_answer(self, asked: Sequence[str], evidence: Evidence) -> float:
        """The share of the specific nouns asked about (not everyday words, not the KB's product names or
        tags, not negated wishes) that the document of the best evidence sentence uses: 1.0 when it asks
        about none."""
        best = evidence.best
        names = self.index.names
        specific = [w for w in asked if not is_everyday(w) and w not in names and not w.startswith(("不", "没", "无"))]
        if not specific or best is None:
            return 1.0
        text = "\n".join(c.text for c in self.finder.document(best.hit.chunk)).lower()
        return sum(w in text for w in specific) / len(specific)

    def _asks_in(self, message: str) -> bool:
        """Whether any clause of a message asks something."""
        return any(self._asks(c) for c in clauses(message))

    def _asks(self, clause: str) -> bool:
        """Whether a clause asks for some kind of answer (the KB's `answer_slots`)."""
        return asks_something(clause) or bool(self.finder.question(clause).slots)

    def warm_up(self) -> None:
        self.retriever.warm_up()
        self.classifier.warm_up()

    def signals(self, *, conversation: Sequence[Any], context: dict[str, Any] | None = None) -> Signals:
        """What the handoff decision looks at for this conversation (`kefu handoff fit` learns from these)."""
        return self._read(parse_conversation(conversation), context, {}, every_signal=True).signals

    def _read(
        self, turns: list[Turn], context: dict[str, Any] | None, lat: dict[str, float], *, every_signal: bool = False
    ) -> _Reading:
        """Query, intent, emotion, retrieval, evidence and the handoff signals of a conversation (the costlier
        signals only when the handoff table or model reads them, or `every_signal`)."""
        opened = open_question(turns, self._asks_in, self.finder.rules.agent_offer)
        query = formulate_query(turns, names=self.index.names, open_question=opened)
        latest = " ".join(latest_customer_turns(turns))

        t = time.perf_counter()
        # A follow-up that leans on earlier turns ("那运费呢"), or that answers the agent's question about an
        # earlier one, is classified (and its evidence found) with them.
        intent_text = query if opened or leans_on_history(turns) or len(clean(latest)) < 6 else latest
        qvec = self.index.embedder.embed_query(query)
        ivec = qvec if intent_text == query else self.index.embedder.embed_query(intent_text)
        lat["embed"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        intent = self.classifier.run(text=intent_text, vector=ivec)
        spec = self._intents.get(intent.name)
        emotion, _ = detect_emotion([x.text for x in turns if x.role == "customer"], self.kb.rules.emotion)
        lat["classify"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        confident = intent.confidence >= 0.5 and spec is not None and intent.name not in ("other", "human_handoff")
        # The regions holding a place the customer names are words of their question (到苏州几天 → 江浙沪).
        regions = [r for r in self.finder.rules.places_named(latest) if r not in latest]
        hits = self.retriever.run(
            query=query,
            vector=qvec,
            hint=" ".join([spec.description.replace("、", " ") if confident and spec else "", *regions]).strip(),
            prefer_category=spec.stage if confident and spec else None,
        )
        greeting = is_greeting(latest) or (intent.name == "other" and len(clean(latest)) <= 6)
        # Computed only when the KB's handoff table or model looks at them.
        unknown = (
            unknown_terms(latest, self._known, self._asks)
            if not greeting and (every_signal or self.handoff.uses("unknown_terms"))
            else ()
        )
        uses_found = every_signal or self.handoff.uses("asked_found")
        uses_in_answer = every_signal or self.handoff.uses("asked_in_answer")
        asked = self._asked_nouns(latest) if not greeting and (uses_found or uses_in_answer) else []
        asked_found = self._asked_found(asked, hits.hits[:3]) if uses_found else 1.0
        # The question as asked: the latest messages, or the resolved query when they lean on earlier turns.
        evidence = self.finder.run(
            intent_text,
            query,
            hits.hits,
            keywords=spec.keywords if spec else (),
            dense=hits.dense,
            asked=" ".join(opened) or latest,
            state=self._order_state(context),
        )
        answerable = (
            hits.top_dense >= self.answerable_threshold
            and bool(hits.hits)
            and evidence.answers_slot
            and not evidence.unoffered
        )
        n_latest = len(latest_customer_turns(turns))
        history = [x.text for x in turns[: len(turns) - n_latest] if x.role == "customer"]
        order = (context or {}).get("order")
        signals = Signals(
            latest=latest,
            earlier=tuple(history),
            intent=intent.name,
            intent_confidence=intent.confidence,
            emotion=emotion,
            angry_turns=angry_turns([*history, latest], self.kb.rules.emotion),
            customer_turns=len(history) + 1,
            order_context=isinstance(order, dict) and bool(order),
            answerable=answerable,
            greeting=greeting,
            unknown_terms=unknown,
            stage=spec.stage if spec else "general",
            agent_turns=sum(1 for x in turns if x.role == "agent"),
            asks=self._asks_in(latest),
            top_dense=hits.top_dense,
            best_coverage=evidence.best.coverage if evidence.best else 0.0,
            answers_slot=evidence.answers_slot,
            asked_found=asked_found,
            asked_in_answer=self._asked_in_answer(asked, evidence) if uses_in_answer else 1.0,
            agent_said=tuple(x.text for x in turns if x.role == "agent"),
        )
        lat["retrieval"] = (time.perf_counter() - t) * 1000
        return _Reading(query, latest, intent, spec, emotion, hits, evidence, answerable, greeting, signals)

    def run(
        self, *, conversation: Sequence[Any], context: dict[str, Any] | None = None, now: datetime | None = None
    ) -> Result:
        """`now` (default: the clock) is when the request came: a handoff's ticket is due counted from it."""
        t0 = time.perf_counter()
        turns = parse_conversation(conversation)
        lat: dict[str, float] = {}
        r = self._read(turns, context, lat)
        handoff = self.handoff.run(r.signals)
        ticket = (
            self.tickets.run(reason=handoff.reason.code, intent=r.intent.name, now=now or datetime.now(UTC))
            if handoff.reason is not None and self.tickets is not None
            else None
        )

        t = time.perf_counter()
        quote_kb = handoff.reason is None or handoff.reason.quote_kb
        usable = r.answerable and quote_kb
        seed = hashlib.md5(r.latest.encode()).hexdigest()
        plan = self.template.plan(
            intent=r.intent.name,
            intent_description=r.spec.description if r.spec else "",
            confidence=r.intent.confidence,
            emotion=r.emotion,
            evidence=r.evidence if usable else None,
            context=context,
            seed=seed,
            holding_reason=handoff.reason_code if handoff.recommended else None,
            greeting=r.greeting,
            stage=r.spec.stage if r.spec else None,
        )
        notes: list[str] = []
        try:
            drafts = self.drafter.run(plan, conversation=turns, context=context)
        except LLMUnavailableError as e:  # the composed drafts are served instead (see _guarded)
            log.warning("%s drafter unavailable: %s", self.drafter.name, e)
            notes.append(f"{self.drafter.name} drafter unavailable ({e}); composed drafts used")
            drafts = []
        lat["draft"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        suggestions = self._guarded(drafts, turns, context, notes, plan)
        lat["guard"] = (time.perf_counter() - t) * 1000
        lat["total"] = (time.perf_counter() - t0) * 1000
        return Result(
            query=r.query,
            intent=r.intent.name,
            intent_confidence=r.intent.confidence,
            emotion=r.emotion,
            handoff=handoff.recommended,
            handoff_reason=handoff.label,
            handoff_reason_code=handoff.reason_code,
            handoff_code=handoff.reason_code,
            handoff_signals=self._with_unoffered(handoff.signals, r.evidence)
            if handoff.recommended
            else handoff.signals,
            ticket=ticket,
            suggestions=tuple(suggestions),
            retrieved=tuple(h.to_dict() for h in r.hits),
            latency_ms=lat,
            kb_version=self.kb.fingerprint,
            notes=tuple(notes),
            retrieval_confidence=r.hits.top_dense,
        )

    @staticmethod
    def _with_unoffered(signals: tuple[str, ...], evidence: Evidence) -> tuple[str, ...]:
        """The deciding signals, with the options asked for that the answering document does not list."""
        if not evidence.unoffered or evidence.best is None:
            return signals
        return (*signals, f"unoffered={'、'.join(evidence.unoffered)} (not in {evidence.best.doc_id})")

    def followup(
        self, *, conversation: Sequence[Any], resolved_at: datetime | None = None, outcome: str | None = None
    ) -> FollowupDraft:
        """The 回访 draft of a resolved conversation (`resolved_at` default: now; `outcome`: what was done)."""
        if self.followups is None:
            raise FollowupNotConfiguredError(
                "this KB's rules.yaml has no 'followup' section: add one (copy it from the shipped rules.yaml)"
            )
        turns = parse_conversation(conversation, customer_last=False)
        return self.followups.run(conversation=turns, resolved_at=resolved_at or datetime.now(UTC), outcome=outcome)

    def check_reply(
        self,
        text: str,
        *,
        conversation: Sequence[Any] = (),
        context: dict[str, Any] | None = None,
        sources: Sequence[str] | None = None,
    ) -> CheckResult:
        """The reply rules on a text an agent typed. A typed reply cites nothing, so the KB passages relevant to
        the reply (and to the conversation, when given) are its sources: a number one of them states is
        supported; one that none states is flagged with the passage that would have to state it."""
        turns = [t if isinstance(t, Turn) else Turn(str(t.get("role")), str(t.get("text"))) for t in conversation]
        titles: list[str] = []
        if sources is None:
            queries = [text]
            if any(t.role == "customer" for t in turns):
                queries.append(formulate_query(turns, names=self.index.names))
            passages: dict[str, str] = {}
            for q in queries:
                for h in self.retriever.run(query=q, k=3):
                    titles.append(h.chunk.title)
                    for c in (h.chunk, *h.extra_chunks):
                        passages[c.chunk_id] = c.text
            sources = list(passages.values())
        check = self.guard.check(text, sources=sources, conversation=turns, context=context)
        if not titles:
            return check
        where = f"检索到的相关文档《{titles[0]}》里没有写这个数字；如果数字无误，请先把它补进知识库"
        return replace(
            check,
            violations=tuple(
                replace(v, message=f"{v.message}（{where}）") if v.rule == "unsupported_facts" else v
                for v in check.violations
            ),
        )

    def _guarded(
        self, drafts: list[Draft], turns: list[Turn], context: dict[str, Any] | None, notes: list[str], plan: Plan
    ) -> list[Suggestion]:
        out: list[Suggestion] = []
        for d in drafts:
            sources = [c.quote for c in d.citations]
            sources += [
                h.chunk.text
                for h in (p.doc for p in [*plan.answer, *plan.options, *plan.steps, *plan.verdict])
                if h is not None and h.doc_id in {c.doc_id for c in d.citations}
            ]
            check = self.guard.check(
                d.text, sources=sources, conversation=turns, context=context, fix=True, customer_quantities=False
            )
            text = check.fixed_text or d.text
            if not check.passed and self.drafter is not self.template:
                notes.append(
                    f"{self.drafter.name} draft '{d.style}' blocked by "
                    f"{', '.join(sorted({v.rule for v in check.violations}))}; composed draft used"
                )
                continue
            out.append(
                Suggestion(
                    id=uuid.uuid4().hex[:12],
                    style=d.style,
                    text=text,
                    citations=d.citations,
                    check=check,
                    drafter=self.drafter.name,
                )
            )
        if not out and self.drafter is not self.template:
            for d in self.template.run(plan, conversation=turns, context=context):
                check = self.guard.check(
                    d.text, sources=[c.quote for c in d.citations], conversation=turns, context=context, fix=True
                )
                out.append(
                    Suggestion(
                        id=uuid.uuid4().hex[:12],
                        style=d.style,
                        text=check.fixed_text or d.text,
                        citations=d.citations,
                        check=check,
                        drafter="template",
                    )
                )
        return out
