"""The default drafter: composes replies from retrieved KB sentences, no LLM.

Follows the service method: empathy matched to the emotion, confirm when unsure, the grounded answer with
the exact figures of the cited sentences, options when the request can't be met as asked, a concrete next
step with the time commitment the policy gives, a polite close. Every fact is a quoted KB sentence, the
conversation or the order context.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.guard import Guard
from assistant.result import Citation, Turn
from assistant.retrieval import Hit
from indexer.chunking import split_sentences
from indexer.sparse import tokenize
from kb.rules import IntentBehaviour, Rules

_MD = re.compile(r"\*\*|__|`|^#+\s*|^[-*+]\s+|^\d+[.、]\s*|^>\s*")
_QA_PREFIX = re.compile(
    r"^(?:答|A)[：:]\s*|^第[一二三四五六七八九十百零〇\d]+条\s*"
)  # FAQ answers, regulation articles
_VOICE = (
    ("买家", "您"),
    ("顾客", "您"),
    ("消费者", "您"),
    ("客户", "您"),
    ("客服会", "我们会"),
    ("客服将", "我们将"),
    ("客服可以", "我们可以"),
    ("您您", "您"),
)
_OPTION = re.compile(r"或者|或|可以选择|也可以|任选|可选|二选一|两种")
_STEP = re.compile(r"申请|提交|审核|到账|回复|联系|处理|发出|补发|寄回|上传|回访|跟进|核实")
_TIME = re.compile(r"\d+\s*(?:个)?(?:小时|工作日|天)|[一二两三四五六七八九十]+(?:个)?(?:小时|工作日|天)")
_WINDOW = re.compile(r"(\d+|[一二两三四五六七八九十]+)\s*(天|小时)内")
_NOTHING_SPECIAL = IntentBehaviour()


@dataclass
class Part:
    text: str
    doc: Hit | None = None
    relevant: bool = True  # shares words with the question or the intent
    rank: int = 0  # rank of the document it comes from


_SENTENCE_RULES = ("banned_phrases", "vague_words", "absolute_claims", "insult_echo")


@dataclass(frozen=True)
class _Sentence:
    """What evidence scoring needs of one KB sentence; depends only on its text (and the guard's rules)."""

    text: str  # in the customer's voice
    usable: bool
    grams: frozenset[str]


@dataclass
class Plan:
    """What the drafts will say, built once and rendered in two or three variants."""

    opener: str
    emotion: str = "calm"
    confirm: str | None = None
    verdict: list[Part] = field(default_factory=list)
    answer: list[Part] = field(default_factory=list)
    options: list[Part] = field(default_factory=list)
    steps: list[Part] = field(default_factory=list)
    ask: str | None = None
    close: str = ""
    holding: str | None = None


@dataclass(frozen=True)
class Draft:
    style: str
    text: str
    citations: tuple[Citation, ...]


_GRAM_STOP = frozenset(
    [
        "可以",
        "请问",
        "什么",
        "怎么",
        "一下",
        "这个",
        "那个",
        "我们",
        "你们",
        "是否",
        "如果",
        "就是",
        "一个",
        "没有",
        "还是",
        "能不",
        "不能",
        "吗?",
        "的话",
    ]
)
_CJK_OR_WORD = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")


def _bigrams(text: str) -> set[str]:
    units = _CJK_OR_WORD.findall(text.lower())
    grams = {a + b for a, b in itertools.pairwise(units)} | {u for u in units if len(u) > 1}
    return grams - _GRAM_STOP


def _pick(options: Sequence[str], seed: str) -> str:
    return options[int(hashlib.md5(seed.encode()).hexdigest(), 16) % len(options)]


def to_customer_voice(sentence: str) -> str:
    s = _QA_PREFIX.sub("", _MD.sub("", sentence.strip())).strip()
    for a, b in _VOICE:
        s = s.replace(a, b)
    return s[:-1] + "。" if s.endswith(("；", ";")) else s


def _number(value: Any) -> float | None:
    """A number from free-form order context; None for anything else (context is never trusted to be clean)."""
    if isinstance(value, bool):
        return None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _cn_or_int(s: str) -> int:
    from assistant.numbers import cn_to_int

    return int(s) if s.isdigit() else cn_to_int(s) or 0


class TemplateDrafter:
    """Composes 2-3 grounded reply variants; never states a figure that no source gives.

    The fixed sentences (openers, closes, holding replies, what to ask for) and what each intent does are
    the KB's (`rules.yaml` → phrasing, intent_behaviour, handoff).

    >>> TemplateDrafter(guard, kb.rules).run(plan_inputs...)
    """

    name = "template"

    def __init__(self, guard: Guard, rules: Rules, *, max_sentences: int = 3) -> None:
        self.guard = guard
        self.phrasing = rules.phrasing
        self.intent_behaviour = rules.intent_behaviour
        self.handoff = rules.handoff
        self.max_sentences = max_sentences
        # Popular policies are retrieved all day: segmenting and guard-checking their sentences once, not per
        # request, took ~4 ms off each suggestion.
        self._sentences: Callable[[str], tuple[_Sentence, ...]] = functools.lru_cache(maxsize=8192)(
            self._read_sentences
        )
        self._tokens: Callable[[str], frozenset[str]] = functools.lru_cache(maxsize=32768)(
            lambda s: frozenset(tokenize(s))
        )

    # -- evidence --------------------------------------------------------------------------------------
    def _usable(self, sentence: str) -> bool:
        if (
            len(sentence) < 6
            or "|" in sentence
            or sentence.endswith(("？", "?", "：", ":"))
            or sentence.startswith("问")
        ):
            return False
        # Politeness, figures and promises are judged on the whole reply, not on a sentence of it.
        return not self.guard.check(sentence, only=_SENTENCE_RULES).violations

    def _read_sentences(self, chunk_text: str) -> tuple[_Sentence, ...]:
        out = []
        for raw in split_sentences(chunk_text):
            s = to_customer_voice(raw)
            usable = self._usable(s)
            out.append(_Sentence(s, usable, frozenset(_bigrams(s)) if usable else frozenset()))
        return tuple(out)

    def _shares_token(self, q_tokens: set[str], sentence: str) -> bool:
        """Whether the sentence's search tokens meet the query's. Every token of a sentence is a substring of
        it, so most sentences are ruled out without segmenting them."""
        low = sentence.lower()
        return any(t in low for t in q_tokens) and bool(q_tokens & self._tokens(sentence))

    def evidence(
        self, hits: Sequence[Hit], query: str, intent_keywords: Sequence[str], latest: str = ""
    ) -> list[tuple[float, Part]]:
        """Candidate sentences of the top documents, scored by how much of the customer's wording they
        share (character bigrams, robust to typos and segmentation), the intent's keywords, whether they
        carry a figure, and the rank of their document."""
        latest_grams = _bigrams(latest or query)
        query_grams = _bigrams(query)
        q_tokens = set(tokenize(query))
        kws = [k for k in intent_keywords if len(k) >= 2]
        scored: list[tuple[float, Part]] = []
        seen: set[str] = set()
        for rank, hit in enumerate(hits[:3]):
            for n, chunk in enumerate((hit.chunk, *hit.extra_chunks)):
                if chunk.doc_type == "script":
                    continue
                for sentence in self._sentences(chunk.text):
                    s, grams = sentence.text, sentence.grams
                    if s in seen or not sentence.usable:
                        continue
                    seen.add(s)
                    own = len(latest_grams & grams) / (len(latest_grams) ** 0.5 + 1)
                    ctx = len(query_grams & grams) / (len(query_grams) ** 0.5 + 1)
                    kw = sum(1 for k in kws if k in s)
                    facts = 0.15 if _TIME.search(s) or re.search(r"\d", s) else 0.0
                    score = own + 0.4 * ctx + 0.25 * min(kw, 2) + facts + 0.3 / (rank + 1) + (0.1 if n == 0 else 0)
                    relevant = kw > 0 or self._shares_token(q_tokens, s)
                    scored.append((score, Part(s, hit, relevant=relevant, rank=rank)))
        scored.sort(key=lambda x: -x[0])
        return scored

    # -- planning --------------------------------------------------------------------------------------
    def _verdict(self, intent: str, order: dict[str, Any], evidence: list[tuple[float, Part]]) -> list[Part]:
        key = self._behaviour(intent).window_key
        days = _number(order.get("days_since_delivery"))
        hours = _number(order.get("hours_since_delivery"))
        if not key or (days is None and hours is None):
            return []
        for _, part in evidence:
            if key not in part.text:
                continue
            m = _WINDOW.search(part.text)
            if not m:
                continue
            limit, unit = _cn_or_int(m.group(1)), m.group(2)
            if unit == "天" and days is not None:
                elapsed, shown = days, f"{order['days_since_delivery']}天"
            elif hours is not None:
                elapsed, shown = hours / (24 if unit == "天" else 1), f"{order['hours_since_delivery']}小时"
            elif days is not None:
                elapsed, shown = days * 24, f"{order['days_since_delivery']}天"
            else:
                continue
            window = f"{m.group(1)}{unit}"
            if elapsed <= limit:
                return [Part(f"您的订单签收{shown}，还在{window}的期限内，可以为您办理。", part.doc)]
            return [
                Part(
                    f"您的订单签收已经{shown}，超过了{window}的期限，这次暂时无法按这个方式办理，"
                    "不过我们可以帮您看看其他方案。",
                    part.doc,
                )
            ]
        return []

    def plan(
        self,
        *,
        intent: str,
        intent_description: str,
        confidence: float,
        emotion: str,
        query: str,
        hits: Sequence[Hit],
        intent_keywords: Sequence[str],
        context: dict[str, Any] | None,
        seed: str,
        holding_reason: str | None = None,
        greeting: bool = False,
        latest: str = "",
    ) -> Plan:
        phrasing = self.phrasing
        table = phrasing.openers.get(emotion) or phrasing.openers["calm"]
        specific = table.get(intent) if confidence >= 0.5 else None
        opener = _pick(specific or table["*"], seed)
        p = Plan(opener=opener, emotion=emotion, close=_pick(phrasing.closes, seed + "close"))
        reason = self.handoff.get(holding_reason) if holding_reason else None
        if reason is not None:
            p.holding = reason.holding
        if greeting:
            p.opener = phrasing.greeting
            return p
        order = (context or {}).get("order") or {}
        if not isinstance(order, dict):
            order = {}
        ev = self.evidence(hits, query, intent_keywords, latest)
        if intent == "other":  # small talk or off-topic: steer back politely, no KB facts
            p.opener = phrasing.off_topic
            return p
        if 0 < confidence < 0.15 and intent_description and not (ev and ev[0][1].relevant):
            p.confirm = f"想跟您确认一下，您是想咨询{intent_description.split('、')[0]}方面的问题，对吗？"
        p.verdict = self._verdict(intent, order, ev)
        used: set[str] = set()
        best = ev[0][0] if ev else 0.0
        for score, part in ev:
            if len(p.answer) >= self.max_sentences:
                break
            # The first sentence always; more only while they are nearly as relevant.
            if p.answer and (score < 0.4 * best or not part.relevant):
                continue
            p.answer.append(part)
            used.add(part.text)
        for _, part in ev:
            if part.text in used or not part.relevant or part.rank > 1:
                continue
            if _OPTION.search(part.text) and len(p.options) < 2:
                p.options.append(part)
                used.add(part.text)
            elif _STEP.search(part.text) and _TIME.search(part.text) and len(p.steps) < 2:
                p.steps.append(part)
                used.add(part.text)
        does = self._behaviour(intent)
        if does.ask_order_number and not order.get("order_id"):
            p.ask = phrasing.ask_order_number_and_photos if does.ask_photos else phrasing.ask_order_number
        elif does.ask_photos:
            p.ask = phrasing.ask_photos
        return p

    def _behaviour(self, intent: str) -> IntentBehaviour:
        return self.intent_behaviour.get(intent) or _NOTHING_SPECIAL

    # -- rendering -------------------------------------------------------------------------------------
    @staticmethod
    def _join(parts: list[str]) -> str:
        out = ""
        for s in parts:
            s = s.strip()
            if not s:
                continue
            if out and not out.endswith(("。", "！", "？", "~", "；")):
                out += "。"
            out += s
        return out if out.endswith(("。", "！", "？", "~")) else out + "。"

    def render(self, plan: Plan) -> list[Draft]:
        def make(style: str, parts: list[Part], pre: list[str], post: list[str]) -> Draft:
            texts = [*pre, *(p.text for p in parts), *post]
            cites: dict[str, list[str]] = {}
            titles: dict[str, str] = {}
            for p in parts:
                if p.doc is not None:
                    cites.setdefault(p.doc.doc_id, []).append(p.text)
                    titles[p.doc.doc_id] = p.doc.chunk.title
            citations = tuple(Citation(d, titles[d], " ".join(q)) for d, q in cites.items())
            return Draft(style, self._join(texts), citations)

        drafts: list[Draft] = []
        if plan.holding:
            commitment = [p for p in plan.answer if _TIME.search(p.text) and _STEP.search(p.text)][:1]
            drafts.append(make("holding", commitment, [plan.holding], []))
        if not plan.answer and not plan.verdict:
            if not plan.holding:
                lead = [plan.opener] if plan.opener.endswith("？") else [plan.opener, "请问有什么可以帮您的吗？"]
                drafts.append(make("concise", [], lead, []))
            return drafts
        confirm = [plan.confirm] if plan.confirm else []
        concise = make("concise", [*plan.verdict, *plan.answer[:2]], [plan.opener, *confirm], [plan.close])
        drafts.append(concise)
        if plan.options:
            drafts.append(
                make(
                    "options", [*plan.verdict, *plan.answer[:1], *plan.options], [plan.opener], ["您看哪种方式更合适？"]
                )
            )
        if plan.steps or plan.ask:
            follow = ["处理过程中有任何进展我们会及时告诉您。"] if plan.steps else []
            drafts.append(
                make(
                    "next_steps",
                    [*plan.verdict, *plan.answer[:1], *plan.steps],
                    [plan.opener],
                    [*([plan.ask] if plan.ask else []), *follow],
                )
            )
        if len(drafts) < 2 and len(plan.answer) > 1:
            drafts.append(make("detailed", [*plan.verdict, *plan.answer], [plan.opener], [plan.close]))
        if len(drafts) < 2:  # one fact to give: a shorter, warmer second wording
            drafts.append(
                make("brief", [*plan.verdict, *plan.answer[:1]], [], ["感谢您的耐心，还有问题请随时告诉我。"])
            )
        unique: list[Draft] = []
        for d in drafts:
            d = self._with_alternative(d)
            if d.text not in {u.text for u in unique}:
                unique.append(d)
        return unique[:3]

    def _with_alternative(self, draft: Draft) -> Draft:
        """A quoted rule that only says no ("不支持七天无理由退货") gets a way forward, never a bare refusal."""
        if not any(v.rule == "negative_framing" for v in self.guard.check(draft.text).violations):
            return draft
        alternative = self.phrasing.alternative
        for close in self.phrasing.closes:
            if draft.text.endswith(close):
                return Draft(draft.style, draft.text[: -len(close)] + alternative + close, draft.citations)
        return Draft(draft.style, draft.text + alternative, draft.citations)

    def run(self, plan: Plan, *, conversation: Sequence[Turn], context: dict[str, Any] | None) -> list[Draft]:
        return self.render(plan)
