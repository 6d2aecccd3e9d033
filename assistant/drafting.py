"""The default drafter: composes replies from retrieved KB sentences, no LLM.

Follows the service method: empathy matched to the emotion, confirm when unsure, the grounded answer with
the exact figures of the cited sentences, options when the request can't be met as asked, a concrete next
step with the time commitment the policy gives, a polite close. Every fact is a quoted KB sentence, the
conversation or the order context.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.evidence import Asked, Evidence, EvidenceFinder, Sentence, bigrams
from assistant.guard import Guard
from assistant.result import Citation, Turn
from assistant.retrieval import Hit
from kb.rules import Conditions, IntentBehaviour, Rules

_OPTION = re.compile(r"或者|或|可以选择|也可以|任选|可选|二选一|两种")
_STEP = re.compile(r"申请|提交|审核|到账|回复|联系|处理|发出|补发|寄回|上传|回访|跟进|核实")
_TIME = re.compile(r"\d+\s*(?:个)?(?:小时|工作日|天)|[一二两三四五六七八九十]+(?:个)?(?:小时|工作日|天)")
_WINDOW = re.compile(r"(\d+|[一二两三四五六七八九十]+)\s*(天|小时)内")
_NOTHING_SPECIAL = IntentBehaviour()
UNSURE_INTENT = 0.2  # below this confidence the intent read is right 40-50 % of the time on every eval set (NOTES)
# Conditions a policy sets on its window ("未拆封", "未洗涤未穿着") and how a customer's own account undoes them
# ("拆开了", "洗过了", "穿出去过"); "没穿过" keeps the condition. The intact-words (吊牌完整) and the verbs that undo
# them (吊牌剪了) are the KB's (`rules.yaml` → conditions).
_NOT_YET = re.compile(r"[未没]([\u4e00-\u9fff]{1,2})")
_PARTICLES = frozenset("着过了的")


def undone_condition(sentence: str, account: str, conditions: Conditions) -> tuple[str, str] | None:
    """(the condition, the customer's words that undo it) when the customer says what a condition of the
    policy sentence rules out, e.g. ("未洗涤", "洗过了") for 「…未洗涤未穿着…」 and 「T恤洗过了 能退不」."""
    for m in _NOT_YET.finditer(sentence):
        for ch in m.group(1):
            if ch in _PARTICLES:
                continue
            done = re.search(rf"(?<![没未不无别]){ch}[开出去]{{0,2}}[了过]了?", account)
            if done:
                return m.group(0), done.group(0)
    if not conditions.intact or not conditions.undone_by:
        return None
    intact = "|".join(map(re.escape, conditions.intact))
    verbs = "|".join(map(re.escape, conditions.undone_by))
    for m in re.finditer(rf"([\u4e00-\u9fff]{{2}})(?:{intact})", sentence):
        done = re.search(rf"{m.group(1)}[^\s，。,]{{0,2}}(?:{verbs})[了掉]", account)
        if done:
            return m.group(0), done.group(0)
    return None


def _undone_state(
    condition: str, evidence: Sequence[Sentence], window: Sentence, account: str, offers: Sequence[str]
) -> Sentence | None:
    """The best sentence that says what the shop offers once the condition is undone (未使用 → 「已经使用但没有质量问题
    的，…可以为您提供使用指导」), the way forward the policy gives; None for an intact-condition (吊牌完整), or when
    the policy only says no (「已穿着的贴身衣物…不参与换货」)."""
    if not condition.startswith(("未", "没")) or not offers:
        return None
    offering = re.compile("|".join(map(re.escape, offers)))  # a sentence that offers something, not only a no
    verb = re.escape(condition[1:])
    undone = re.compile(rf"已经?{verb}|{verb}过")
    # 「已拆封的美妆个护商品…」 is about its own kind of goods: taken only when that kind is the policy sentence's or
    # the customer's own.
    scoped = re.compile(rf"已经?{verb}[^，。]*?的([\u4e00-\u9fff]{{2}})")

    def ours(text: str) -> bool:
        m = scoped.search(text)
        return m is None or m.group(1) in window.text or m.group(1) in account

    return next(
        (s for s in evidence if s is not window and undone.search(s.text) and offering.search(s.text) and ours(s.text)),
        None,
    )


def _answers_a_figure(evidence: Evidence | None) -> bool:
    """A question for a figure (几年, 多少钱) that a sentence sharing its words answers: not small talk, whatever
    the intent read (「空调保修几年」→「压缩机呢」 read as `other`)."""
    if evidence is None or evidence.best is None or not evidence.question.figure_slots:
        return False
    asked, top = set(evidence.question.figure_slots), evidence.best.score
    return any(s.slots & asked and s.coverage >= 0.1 and s.score >= 0.6 * top for s in evidence.sentences[:8])


@dataclass
class Part:
    text: str
    doc: Hit | None = None
    rank: int = 0  # rank of the document it comes from


@dataclass
class Plan:
    """What the drafts will say, built once and rendered in two or three variants."""

    opener: str
    emotion: str = "calm"
    confirm: str | None = None
    lead: str = ""  # the plain yes that opens an affirmative answer to a yes/no question
    verdict: list[Part] = field(default_factory=list)
    answer: list[Part] = field(default_factory=list)
    options: list[Part] = field(default_factory=list)
    steps: list[Part] = field(default_factory=list)
    ask: str | None = None
    state: str | None = None  # the order's status, from the request's order context
    close: str = ""
    holding: str | None = None


@dataclass(frozen=True)
class Draft:
    style: str
    text: str
    citations: tuple[Citation, ...]


def _restates(sentence: Sentence, answer: Sequence[Sentence], question: str, *, limit: float = 0.4) -> bool:
    """Whether `sentence` only says again what the answer already says: none of the question's words that it
    holds are new to the answer, and much of its own wording is already there (「4L IH电饭煲适合2-8人家庭…」 after
    「…容量4L…适合2-8人家庭」). Parallel rows of a table or list (「尺码S：…」「尺码M：…」) are separate facts."""
    if any(sentence.text[:2] == a.text[:2] for a in answer):
        return False
    own = bigrams(sentence.text)
    said = frozenset().union(*(bigrams(a.text) for a in answer))
    return not (own & bigrams(question)) - said and len(own & said) >= limit * len(own)


def _near_copy(a: str, b: str, *, limit: float = 0.85) -> bool:
    """Two drafts that say nearly the same thing (character-bigram Jaccard): one of them is enough."""
    ga = {a[i : i + 2] for i in range(len(a) - 1)}
    gb = {b[i : i + 2] for i in range(len(b) - 1)}
    return bool(ga | gb) and len(ga & gb) / len(ga | gb) >= limit


def _pick(options: Sequence[str], seed: str) -> str:
    return options[int(hashlib.md5(seed.encode()).hexdigest(), 16) % len(options)]


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
    """Composes 2-3 grounded reply variants that differ in purpose; never states a figure no source gives.

    The answer leads (a yes/no question is answered yes or no first), followed only by sentences that bear on
    the question, all from the documents that answer it: a direct answer, the answer with the options the
    policy gives, and the answer with the next step and its time. The fixed sentences (openers, closes,
    holding replies, what to ask for) and what each intent does are the KB's (`rules.yaml` → phrasing,
    intent_behaviour, handoff).

    >>> TemplateDrafter(guard, kb.rules, finder).run(plan, conversation=turns, context=None)
    """

    name = "template"

    def __init__(self, guard: Guard, rules: Rules, finder: EvidenceFinder, *, max_sentences: int = 2) -> None:
        self.guard = guard
        self.finder = finder
        self.phrasing = rules.phrasing
        self.intent_behaviour = rules.intent_behaviour
        self.handoff = rules.handoff
        self.conditions = rules.conditions
        self.max_sentences = max_sentences
        self.max_chars = 140

    # -- planning --------------------------------------------------------------------------------------
    def _verdict(
        self, intent: str, order: dict[str, Any], evidence: Sequence[Sentence], account: str = ""
    ) -> list[Part]:
        """The order's time since delivery against the policy's window; within it, or with no order at hand, a
        condition of the policy the customer's own `account` undoes (洗过了, 吊牌剪了) is said instead of a
        promise."""
        key = self._behaviour(intent).window_key
        days = _number(order.get("days_since_delivery"))
        hours = _number(order.get("hours_since_delivery"))
        if not key:
            return []
        # The window asked about, whatever time has passed (the verdict compares the time itself).
        windows = sorted(
            ((s, m) for s in evidence if key in s.text and (m := _WINDOW.search(s.text))),
            key=lambda pair: -pair[0].asked_score,
        )
        if days is None and hours is None:  # no order: only what the customer's own words settle
            return self._undone(windows[0][0], evidence, account) if windows else []
        for sentence, m in windows:
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
            if elapsed > limit:
                return [Part(self.phrasing.past_window.format(elapsed=shown, window=window), sentence.hit)]
            undone = self._undone(sentence, evidence, account)
            if undone:
                return undone
            return [Part(self.phrasing.within_window.format(elapsed=shown, window=window), sentence.hit)]
        return []

    def _undone(self, window: Sentence, evidence: Sequence[Sentence], account: str) -> list[Part]:
        """The condition of the window sentence that the customer's `account` undoes, said with the way forward
        the policy offers in that state; [] when the account undoes none."""
        undone = undone_condition(window.text, account, self.conditions)
        if undone is None:
            return []
        said = self.phrasing.condition_undone.format(condition=undone[0], done=undone[1])
        way = _undone_state(undone[0], evidence, window, account, self.conditions.offers)
        return [Part(said, window.hit), *([Part(way.text, way.hit, rank=way.rank)] if way else [])]

    def _answer(self, evidence: Evidence) -> list[Sentence]:
        """The lead sentence, at most one more that bears on the question nearly as well, and the sentences next to
        the lead in its own passage (its condition or outcome) while the answer stays short.

        When the question asks for a figure (多久, 多少钱, 多大), the lead is the best relevant sentence that
        holds one; a second asked kind (运费多少 + 几天到) gets its own best sentence."""
        top = evidence.best
        if top is None:
            return []
        if evidence.parts:  # several questions in one message
            answer = self._answer_each(top, evidence.parts)
            if answer is not None:
                return answer
        asked = evidence.question.slots
        figure = set(evidence.question.figure_slots)

        def holding(kinds: set[str], exclude: Sequence[Sentence] = ()) -> Sentence | None:
            return next(
                (s for s in evidence.sentences if s.slots & kinds and s.score >= 0.6 * top.score and s not in exclude),
                None,
            )

        best = (holding(figure) if figure else None) or top
        answer = [best]
        rest = set(asked) - set(best.slots) - {"yes_no"}
        other = holding(rest, answer) if rest else None
        if other is not None:
            answer.append(other)
        for s in evidence.sentences:
            if len(answer) >= self.max_sentences:
                break
            if s in answer:
                continue
            # More of the answering document only: another document comes in for an asked kind it holds.
            if (
                s.doc_id == best.doc_id
                and s.score >= 0.6 * best.score
                and s.coverage >= 0.05
                and not _restates(s, answer, evidence.question.text)
            ):
                answer.append(s)
        # The lead's own passage often carries its condition or outcome in the next sentence.
        rows = Counter(s.text[:4] for s in evidence.sentences if s.chunk_id == best.chunk_id)
        for s in evidence.sentences:
            if len(answer) >= self.max_sentences + 1 or sum(len(a.text) for a in answer) >= self.max_chars:
                break
            if s in answer or s.chunk_id != best.chunk_id or abs(s.order - best.order) > 2:
                continue
            # Not a parallel row of a table or list (another category, another payment method), and not a
            # second figure for a figure question whose lead already gives one: those answer other questions.
            parallel = s.text[:2] == best.text[:2] or rows[s.text[:4]] > 1
            rival = bool(figure & best.slots) and bool(figure & s.slots)
            if not parallel and not rival:
                answer.append(s)
        return answer

    def _answer_each(self, top: Sentence, parts: Sequence[Asked]) -> list[Sentence] | None:
        """The answer to a message that asks several things: the best sentence for the whole message, then the
        best one for each question asking for a figure (几个, 多久, 多少钱) that it leaves without one, in the
        order asked. None when there is no such question. (Whether another kind of question is answered can be
        told only from shared words, too weak a sign to add sentences on: measured, NOTES.)"""
        open_parts = [p for p in parts if not p.answered_by(top)]
        if not open_parts:
            return None
        answer: list[Sentence] = [top]
        for p in open_parts:
            if all(p.best.text != a.text for a in answer):
                answer.append(p.best)
        return answer[: self.max_sentences + 1]

    def plan(
        self,
        *,
        intent: str,
        intent_description: str,
        confidence: float,
        emotion: str,
        evidence: Evidence | None,
        context: dict[str, Any] | None,
        seed: str,
        holding_reason: str | None = None,
        greeting: bool = False,
        stage: str | None = None,
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
        if intent == "other" and not _answers_a_figure(evidence):  # small talk or off-topic: steer back politely
            p.opener = phrasing.off_topic
            return p
        sentences = evidence.sentences if evidence else ()
        best = evidence.best if evidence else None
        if 0 < confidence < 0.15 and intent_description and not (best and best.coverage >= 0.1):
            p.confirm = phrasing.confirm_open
        p.verdict = self._verdict(intent, order, sentences, evidence.question.text if evidence else "")
        answer = self._answer(evidence) if evidence else []
        p.answer = [Part(s.text, s.hit, rank=s.rank) for s in answer]
        lead = answer[0] if answer else None
        if (
            evidence
            and lead
            and evidence.question.yes_no
            and lead.coverage >= 0.2
            and not p.verdict
            and not self.finder.says_no(lead.text)
        ):
            p.lead = self.finder.yes_lead(evidence.question.text, lead.text)
        used = {s.text for s in answer}
        docs = {s.doc_id for s in answer} | {x.doc.doc_id for x in p.verdict if x.doc is not None}
        for s in sentences:
            if s.text in used or s.doc_id not in docs:
                continue
            near = best is not None and s.doc_id == best.doc_id and abs(s.order - best.order) <= 2
            if s.coverage <= 0 and not near:
                continue
            if _OPTION.search(s.text) and len(p.options) < 2:
                p.options.append(Part(s.text, s.hit, rank=s.rank))
                used.add(s.text)
            elif _STEP.search(s.text) and _TIME.search(s.text) and len(p.steps) < 2:
                p.steps.append(Part(s.text, s.hit, rank=s.rank))
                used.add(s.text)
        does = self._behaviour(intent)
        named = phrasing.status_name(order.get("status"))
        if does.tell_order_state and named:
            p.state = phrasing.order_state.format(status=named)
        # An intent read this unsure is wrong about half the time (NOTES): asking for the order number or photos
        # on its word alone asked for photos of a problem on a question about a product's size. It asks when the
        # document answering comes from the intent's own stage (售前/售中/售后) as well.
        agrees = lead is not None and stage is not None and lead.hit.chunk.category == stage
        if 0 < confidence < UNSURE_INTENT and not agrees:
            return p
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
            if out and not out.endswith(("。", "！", "？", "~", "；", "，")):
                out += "。"
            out += s
        return out if out.endswith(("。", "！", "？", "~")) else out + "。"

    def render(self, plan: Plan) -> list[Draft]:
        def make(style: str, parts: list[Part], pre: list[str], post: list[str]) -> Draft:
            said = [p.text for p in parts]
            if said and plan.lead and not plan.verdict:
                said[0] = plan.lead + said[0]
            texts = [*pre, *said, *post]
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
                state = [plan.state] if plan.state else []
                asks = [] if plan.opener.endswith("？") else [self.phrasing.ask_what]
                drafts.append(make("concise", [], [plan.opener, *state, *asks], []))
            return drafts
        confirm = [plan.confirm] if plan.confirm else []
        state = [plan.state] if plan.state else []
        concise = make("concise", [*plan.verdict, *plan.answer], [plan.opener, *state], confirm or [plan.close])
        drafts.append(concise)
        if plan.options:
            drafts.append(
                make(
                    "options",
                    [*plan.verdict, *plan.answer[:1], *plan.options],
                    [plan.opener],
                    [self.phrasing.choose_option],
                )
            )
        if plan.steps or plan.ask:
            follow = [self.phrasing.progress_update] if plan.steps else []
            drafts.append(
                make(
                    "next_steps",
                    [*plan.verdict, *plan.answer[:1], *plan.steps],
                    [plan.opener, *state],
                    [*([plan.ask] if plan.ask else []), *follow],
                )
            )
        if len(drafts) < 2 and len(plan.answer) > 1:
            drafts.append(make("detailed", [*plan.verdict, *plan.answer], [plan.opener], [plan.close]))
        if len(drafts) < 2:  # one fact to give: a shorter, warmer second wording
            drafts.append(make("brief", [*plan.verdict, *plan.answer[:1]], [], [self.phrasing.brief_close]))
        unique: list[Draft] = []
        for d in drafts:
            d = self._with_alternative(d)
            if not any(_near_copy(d.text, u.text) for u in unique):
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
