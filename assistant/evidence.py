"""Sentence-level evidence: which sentences of the retrieved documents answer what the customer asked.

Every sentence of the top documents (all their passages, not only the retrieved ones) is scored against the
question by three transparent signals:

- coverage: the share of the question's content words the sentence contains, each word weighted by how rare
  it is among the candidate sentences (a word every candidate shares tells nothing apart);
- slot: whether the sentence holds the *kind* of answer asked for (多久 → a duration, 多少钱 → an amount,
  多大 → a dimension, 怎么 → steps …), from the KB's `answer_slots` table (rules.yaml);
- document: the retrieval rank of its document, and whether the sentence lies in a passage retrieval chose.

Sentences written for agents (「客服注意：…」「不要只回复…」, sections named 话术/注意事项) are never candidates:
they are guidance, not text for a customer (`agent_guidance` in rules.yaml).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from assistant.answerability import asks_something, clauses, words
from assistant.elapsed import elapsed_hours, limits
from assistant.guard import Guard
from assistant.measures import describe, fit, stated
from assistant.retrieval import Hit
from assistant.states import agreement
from indexer.chunking import Chunk, split_sentences
from indexer.index import Index
from kb.rules import Rules

# Rules judged on a single sentence before it may be quoted (politeness, figures and promises are judged on
# the whole reply).
SENTENCE_RULES = ("banned_phrases", "vague_words", "absolute_claims", "insult_echo")

_MD = re.compile(r"\*\*|__|`|^#+\s*|^[-*+]\s+|^\d+[.、]\s*|^>\s*")
_QA_PREFIX = re.compile(r"^(?:答|A)[：:]\s*|^第[一二三四五六七八九十百零〇\d]+条\s*")  # FAQ answers, articles
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


def to_customer_voice(sentence: str) -> str:
    """A KB sentence as said to the customer: no Markdown, FAQ or article prefix, 买家/顾客 → 您."""
    s = _QA_PREFIX.sub("", _MD.sub("", sentence.strip())).strip()
    for a, b in _VOICE:
        s = s.replace(a, b)
    return s[:-1] + "。" if s.endswith(("；", ";")) else s


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
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")
_MODAL = re.compile(r"能不能|可不可以|能|可以|可|会|要|支持")
_PARTICLES = re.compile(r"[吗么嘛呢啊呀不没否？?!！。~～]+$")
_INDEFINITE = re.compile(r"好几\w|几\w?[都也没不了]")
_FIGURE = re.compile(r"\d|[一二两三四五六七八九十]+(?:个)?(?:小时|工作日|天)")

# A labelled row of a list or spec table: 「支付宝：1-3个工作日到账」「容量：500ml」. Named by the customer, its label
# says which row answers (「我是用支付宝付的」, 「容量多大」).
_ROW = re.compile(r"^([^：:，。！？]{2,12})[：:]")
_ASIDE = re.compile(r"[（(][^）)]*[）)]")


# A size-table row whose ranges hold the customer's figures (per figure), or miss them: weighs like a figure.
_FIT_W = 0.35
_MISS_W = 0.2
# A rule written for the state the customer's order is in (未发货的订单… for 「还没发货」), or for a later one.
_AGREE_W = 0.15
_AHEAD_W = 0.4


@functools.lru_cache(maxsize=32768)
def bigrams(text: str) -> frozenset[str]:
    """Character bigrams (and whole Latin words / numbers) of a text, minus function-word pairs."""
    units = _CJK_OR_WORD.findall(text.lower())
    grams = {a + b for a, b in itertools.pairwise(units)} | {u for u in units if len(u) > 1}
    return frozenset(grams - _GRAM_STOP)


def _whole_sentences(text: str, *, limit: int = 160) -> list[str]:
    """The sentences of a passage, a sentence's clauses joined across 「；」 (a list of checks, a rule and its
    exception) while it stays under `limit` characters: a clause alone (「银行卡单笔或单日支付限额是否已满；」) is
    a fragment, read out of its list. Labelled rows (「价格：129元；净含量：50ml；」) stay rows: each is a fact."""
    out: list[str] = []
    for piece in split_sentences(text):
        joins = out and out[-1].rstrip().endswith(("；", ";")) and not _ROW.match(piece.strip())
        if joins and len(out[-1]) + len(piece) <= limit:
            out[-1] += piece
        else:
            out.append(piece)
    return out


@dataclass(frozen=True)
class Slot:
    """One kind of answer: how a question asks for it and what a sentence that gives it looks like."""

    name: str
    asked_by: tuple[re.Pattern[str], ...]
    answered_by: re.Pattern[str]
    figure: bool  # a figure (duration, amount, size): a sentence without one does not answer


@dataclass(frozen=True)
class AnswerRules:
    """The `answer_slots`, `polarity` and `agent_guidance` sections of a KB's rules.yaml."""

    slots: tuple[Slot, ...] = ()
    negative: re.Pattern[str] | None = None
    yes_lead: Mapping[str, str] = field(default_factory=dict)
    guidance_sentence: re.Pattern[str] | None = None
    guidance_section: re.Pattern[str] | None = None
    agent_offer: re.Pattern[str] | None = None
    regions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # place → every region holding it
    place_names: re.Pattern[str] | None = None
    offer_asked: tuple[re.Pattern[str], ...] = ()  # how a message asks whether something is offered
    offer_kinds: tuple[re.Pattern[str], ...] = ()  # the values of each kind of option (colours, volumes, sizes)

    @classmethod
    def from_rules(cls, rules: Rules) -> AnswerRules:
        """The compiled form of a KB's validated `answer_slots`, `polarity` and `agent_guidance`."""

        def compiled(pattern: str | None) -> re.Pattern[str] | None:
            return re.compile(pattern) if pattern else None

        regions = regions_of(rules.places)
        names = sorted(map(re.escape, {*rules.places, *regions}), key=len, reverse=True)
        return cls(
            slots=tuple(
                Slot(name, tuple(re.compile(p) for p in spec.asked_by), re.compile(spec.answered_by), spec.figure)
                for name, spec in rules.answer_slots.items()
            ),
            negative=compiled(rules.polarity.negative),
            yes_lead=dict(rules.polarity.yes_lead),
            guidance_sentence=compiled(rules.agent_guidance.sentence),
            guidance_section=compiled(rules.agent_guidance.section),
            agent_offer=compiled(rules.agent_guidance.offer),
            offer_asked=tuple(re.compile(p) for p in rules.offered_values.asked_by),
            offer_kinds=tuple(re.compile(p) for p in rules.offered_values.kinds.values()),
            regions=regions,
            place_names=compiled("|".join(names)),
        )

    def places_named(self, text: str) -> tuple[str, ...]:
        """The places `text` names and every region holding them (「到苏州几天」 → 苏州, 江苏, 江浙沪, 华东, …)."""
        if self.place_names is None:
            return ()
        named = dict.fromkeys(m.group(0) for m in self.place_names.finditer(text))
        return tuple(dict.fromkeys([*named, *(r for p in named for r in self.regions.get(p, ()))]))


_VOLUME = re.compile(r"(\d+(?:\.\d+)?)\s*(ml|毫升|l|升)", re.IGNORECASE)
_ML = {"ml": 1.0, "毫升": 1.0, "l": 1000.0, "升": 1000.0}


def _value_key(value: str) -> str:
    """A value as compared: volumes in ml (1L = 1000ml), sizes without 码, upper case."""
    m = _VOLUME.fullmatch(value.strip())
    if m:
        return f"{float(m.group(1)) * _ML[m.group(2).lower()]:g}ml"
    return re.sub(r"\s+|码$", "", value).upper()


def _listed(value: str, keys: set[str], document: str) -> bool:
    """Whether a document whose values of the kind are `keys` offers `value`: the same value, or its own words
    in the document (白色 in 奶白色, 粉色 in 樱花粉, L in 尺码L)."""
    key = _value_key(value)
    if key in keys:
        return True
    own = [key, key.removesuffix("色")] if len(key) > 2 else [key]
    return any(w and re.search(rf"(?<![A-Za-z0-9]){re.escape(w)}(?![A-Za-z0-9])", document, re.I) for w in own)


def regions_of(places: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """place → every region holding it, directly or through a region that holds a region."""
    parents: dict[str, list[str]] = {}
    for region, names in places.items():
        for name in names:
            parents.setdefault(name, []).append(region)
    out: dict[str, tuple[str, ...]] = {}
    for place in parents:
        seen: dict[str, None] = {}
        todo = list(parents[place])
        while todo:
            region = todo.pop(0)
            if region in seen or region == place:
                continue
            seen[region] = None
            todo.extend(parents.get(region, ()))
        out[place] = tuple(seen)
    return out


@dataclass(frozen=True)
class Question:
    """What the customer asked: the kinds of answer asked for, and whether it is a yes/no question."""

    text: str
    slots: tuple[str, ...]
    figure_slots: tuple[str, ...]
    yes_no: bool
    predicate: frozenset[str] = frozenset()  # what a yes/no question asks about (bigrams): 包邮吗 → 包邮


@dataclass(frozen=True)
class Sentence:
    """One candidate sentence with its scores."""

    text: str  # in the customer's voice
    hit: Hit
    rank: int  # retrieval rank of its document
    chunk_id: str
    order: int  # position in its document
    retrieved: bool  # lies in a passage retrieval chose
    coverage: float = 0.0  # weighted share of the question's words it holds
    slots: frozenset[str] = frozenset()  # asked kinds of answer it holds
    score: float = 0.0
    timing: float = 0.0  # the part of `score` for a time limit the customer's stated time has reached

    @property
    def asked_score(self) -> float:
        """The score for what was asked, without the time limit's part: which window the customer asks about
        (换码 → 15天换货, not 30天质量问题) is told by this; whether their time is within it, by the verdict."""
        return self.score - self.timing

    @property
    def doc_id(self) -> str:
        return self.hit.doc_id


@dataclass(frozen=True)
class Asked:
    """One of several questions in a message, asking for a figure, and the sentence that best answers it."""

    text: str
    question: Question
    best: Sentence
    figure_patterns: tuple[Slot, ...] = ()  # the kinds of figure it asks for

    def answered_by(self, sentence: Sentence) -> bool:
        """Whether `sentence` speaks to this question: shares its wording and, when it asks for a figure,
        holds one of that kind."""
        if self.question.figure_slots and not any(
            slot.answered_by.search(sentence.text) for slot in self.figure_patterns
        ):
            return False
        return bool(bigrams(self.text) & bigrams(sentence.text))


@dataclass(frozen=True)
class Evidence:
    """The scored sentences, best first, and whether they answer the question.

    `parts`: when the customer asked several things in one message (「一箱几个 收到能直接吃吗」), each question
    among them that asks for a figure (几个, 多久, 多少钱) with the sentence that best answers it, in the order
    asked (empty for a single question)."""

    question: Question
    sentences: tuple[Sentence, ...]
    parts: tuple[Asked, ...] = ()
    unoffered: tuple[str, ...] = ()  # options asked for by value that the answering document does not list

    @property
    def best(self) -> Sentence | None:
        return self.sentences[0] if self.sentences else None

    @property
    def answers_slot(self) -> bool:
        """False when the question asks for a figure and no relevant sentence among the best holds one."""
        if not self.question.figure_slots:
            return True
        asked = set(self.question.figure_slots)
        top = self.sentences[0].score if self.sentences else 0.0
        return any(s.slots & asked for s in self.sentences[:8] if s.score >= 0.6 * top)


@dataclass(frozen=True)
class _Read:
    text: str
    usable: bool


class EvidenceFinder:
    """Scores the sentences of the top documents against the question.

    >>> ev = EvidenceFinder(index, guard, AnswerRules.from_rules(kb.rules)).run(latest, query, hits)
    >>> ev.best.text
    """

    def __init__(self, index: Index, guard: Guard, rules: AnswerRules, *, docs: int = 4) -> None:
        self.index = index
        self.guard = guard
        self.rules = rules
        self.docs = docs
        # Popular policies are retrieved all day: segmenting and checking their sentences once, not per request.
        self._read: Callable[[str], tuple[_Read, ...]] = functools.lru_cache(maxsize=8192)(self._read_chunk)
        self._question: Callable[[str], Question] = functools.lru_cache(maxsize=8192)(self._read_question)
        self._doc_chunks: Callable[[Chunk], tuple[Chunk, ...]] = functools.lru_cache(maxsize=4096)(
            lambda c: tuple(index.document_chunks(c))
        )

    # -- the question ------------------------------------------------------------------------------------
    def question(self, latest: str) -> Question:
        """The kinds of answer `latest` asks for (cached: a message's clauses are read by several signals)."""
        return self._question(latest)

    def _read_question(self, latest: str) -> Question:
        asked = tuple(s.name for s in self.rules.slots if any(p.search(latest) for p in s.asked_by))
        figure = tuple(s.name for s in self.rules.slots if s.name in asked and s.figure)
        return Question(latest, asked, figure, "yes_no" in asked, self._predicate(latest))

    def _predicate(self, text: str) -> frozenset[str]:
        """What the yes/no questions of a message ask about: the last words before the question particle,
        after any modal verb (「就买这一件 包邮吗」 → 包邮, 「能预约不」 → 预约, 「退不退运费」 → 运费); nothing for a
        single verb (「能退吗」: any sentence about returns may answer it)."""
        yes_no = next((s for s in self.rules.slots if s.name == "yes_no"), None)
        if yes_no is None:
            return frozenset()
        out: set[str] = set()
        for c in clauses(text):
            if any(p.search(c) for p in yes_no.asked_by):
                core = _PARTICLES.sub("", _A_NOT_A.sub(r"\1", c))
                # what follows the last modal verb: 能退吗 asks 退, not 能退
                core = core[max((m.end() for m in _MODAL.finditer(core)), default=0) :]
                out |= bigrams(core[-3:])
        return frozenset(out)

    def document(self, chunk: Chunk) -> tuple[Chunk, ...]:
        """Every passage of the document a chunk belongs to (cached)."""
        return self._doc_chunks(chunk)

    # -- candidates ------------------------------------------------------------------------------------
    def _usable(self, s: str) -> bool:
        if len(s) < 6 or "|" in s or s.endswith(("？", "?", "：", ":")) or s.startswith("问"):
            return False
        if self.rules.guidance_sentence is not None and self.rules.guidance_sentence.search(s):
            return False
        return not self.guard.check(s, only=SENTENCE_RULES).violations

    def _read_chunk(self, text: str) -> tuple[_Read, ...]:
        out = []
        for raw in _whole_sentences(text):
            raw = raw.strip()
            # Agent guidance is recognised on the KB's own wording, before 客户/买家 become 您.
            agent = self.rules.guidance_sentence is not None and bool(
                self.rules.guidance_sentence.search(_MD.sub("", raw))
            )
            s = to_customer_voice(raw)
            out.append(_Read(s, not agent and self._usable(s)))
        return tuple(out)

    def _candidates(self, hits: Sequence[Hit]) -> list[Sentence]:
        out: list[Sentence] = []
        seen: set[str] = set()
        guide = self.rules.guidance_section
        for rank, hit in enumerate(hits[: self.docs]):
            if hit.chunk.doc_type == "script":  # approved phrasing for agents, not facts
                continue
            chosen = {hit.chunk.chunk_id, *(c.chunk_id for c in hit.extra_chunks)}
            order = 0
            for chunk in self._doc_chunks(hit.chunk):
                if guide is not None and chunk.section and guide.search(chunk.section):
                    continue
                for read in self._read(chunk.text):
                    order += 1
                    if not read.usable or read.text in seen:
                        continue
                    seen.add(read.text)
                    out.append(Sentence(read.text, hit, rank, chunk.chunk_id, order, chunk.chunk_id in chosen))
        return out

    # -- scoring ---------------------------------------------------------------------------------------
    def asked_parts(self, latest: str) -> list[str]:
        """The asking clauses of a message, each with the telling clauses just before it (「收到了 放冰箱能放几天」);
        one part when it asks one thing."""
        parts: list[str] = []
        pending: list[str] = []
        for clause in clauses(latest):
            pending.append(clause)
            asking = _INDEFINITE.sub("", clause)  # 几天都不更新, 好几个: "several", not a question
            if asks_something(asking) or self.question(asking).slots:
                parts.append(" ".join(pending))
                pending = []
        if parts and pending:  # what it says after its last question belongs to that question
            parts[-1] = " ".join([parts[-1], *pending])
        return parts

    def run(
        self,
        latest: str,
        query: str,
        hits: Sequence[Hit],
        *,
        keywords: Sequence[str] = (),
        dense: Mapping[str, float] | None = None,
        asked: str | None = None,
        state: str = "",
    ) -> Evidence:
        """Score the candidates: the customer's own wording (character bigrams, robust to typos and
        segmentation), the earlier turns it leans on, the intent's keywords, the kind of answer asked for,
        how close retrieval found the sentence's passage (`dense`: chunk id → cosine) and its document's rank.

        `asked` (default `latest`): the message whose asking clauses are answered one by one when it asks
        several things (the customer's latest messages, not the earlier turns a follow-up leans on). `state`: where
        the order stands in the shop's words (「已付款、待发货」), beside what the customer says of it."""
        q = self.question(latest)
        cands = self._candidates(hits)
        kws = [k for k in keywords if len(k) >= 2]
        dense = dense or {}
        scored = self._score(cands, latest or query, query, q, kws, dense, state=state)
        parts: list[Asked] = []
        texts = self.asked_parts(latest if asked is None else asked)
        if len(texts) > 1:
            for text in texts:
                part_q = self.question(text)
                figure = set(part_q.figure_slots)
                if not figure:  # only a figure's absence can be told (Asked.answered_by)
                    continue
                ranked = self._score(cands, text, query, part_q, kws, dense, context=0.3, state=state)
                if not ranked:
                    continue
                top = ranked[0]
                pick = next((x for x in ranked if x.slots & figure and x.score >= 0.6 * top.score), top)
                patterns = tuple(x for x in self.rules.slots if x.name in figure)
                parts.append(Asked(text, part_q, pick, patterns))
        message = latest if asked is None else asked
        unoffered = (*self.unoffered(message, scored[0]), *self.unfitted(message, query, scored[0])) if scored else ()
        return Evidence(q, tuple(scored), tuple(parts), unoffered)

    def unfitted(self, message: str, query: str, best: Sentence) -> tuple[str, ...]:
        """The customer's figures for a size (「192cm 100kg」) when the size table of the document of `best` has
        rows for them and none holds them: the shop offers no size for them, which no sentence can answer."""
        measures = stated(message) or stated(query)
        if not measures:
            return ()
        fits = misses = 0
        for chunk in self.document(best.hit.chunk):
            for read in self._read(chunk.text):  # the document's sentences as candidates read them (cached)
                f, m = fit(measures, read.text)
                fits, misses = fits + f, misses + m
        if fits or not misses:
            return ()
        return (describe(measures),)

    def unoffered(self, message: str, best: Sentence) -> tuple[str, ...]:
        """The options `message` asks for by value (有粉色的吗, 有750ml的吗) that the document of `best` does not
        list although it lists others of their kind; () when it asks for none or the document lists no values."""
        if not any(p.search(message) for p in self.rules.offer_asked):
            return ()
        document = "\n".join(c.text for c in self.document(best.hit.chunk))
        out: list[str] = []
        for kind in self.rules.offer_kinds:
            asked = dict.fromkeys(m.group(0) for m in kind.finditer(message))
            keys = {_value_key(m.group(0)) for m in kind.finditer(document)}
            if asked and keys:
                out.extend(v for v in asked if not _listed(v, keys, document))
        return tuple(out)

    def _score(
        self,
        cands: Sequence[Sentence],
        own_text: str,
        query: str,
        q: Question,
        kws: Sequence[str],
        dense: Mapping[str, float],
        *,
        context: float = 1.0,
        state: str = "",
    ) -> list[Sentence]:
        """The candidates scored against `own_text`, best first. `context` weighs what every question of the
        message shares (the conversation's words, intent keywords, retrieval's closeness and rank): one clause
        of a several-question message is told apart by its own words and kind of answer."""
        own_grams = bigrams(own_text)
        ctx_grams = bigrams(query)
        # A sentence about the customer's place or a region holding it (江浙沪 for 「到苏州几天」).
        places = self.rules.places_named(own_text)
        # How long the customer says it has been (「都两天了」「前天签收的」): a limit that time has reached, or is
        # still within, is the rule that applies now (「超过48小时没有更新的…」).
        passed = elapsed_hours(own_text)
        if passed is None:
            passed = elapsed_hours(query)
        # The customer's figures for a size (「170 63公斤」): the table row whose ranges hold them is the size.
        measures = stated(own_text) or stated(query)
        # Where the order stands, as the customer tells it (还没发货) or the order's data says (待发货): a rule for a
        # later stage (已发货的订单…), or for an earlier one where the document has a rule for theirs, is another
        # customer's (assistant.states).
        told_text = f"{own_text} {query} {state}"
        standings = {c.text: agreement(told_text, c.text) for c in cands}
        own_stage: dict[str, set[str]] = {}  # per document, the states it has a rule for that the customer is in
        for c in cands:
            own_stage.setdefault(c.doc_id, set()).update(standings[c.text].agree)
        slots = [s for s in self.rules.slots if s.name in q.slots]
        lo = min(dense.values(), default=0.0)
        hi = max(dense.values(), default=0.0)
        scored = []
        for c in cands:
            grams = bigrams(c.text)
            own = len(own_grams & grams) / (len(own_grams) ** 0.5 + 1)
            ctx = len(ctx_grams & grams) / (len(ctx_grams) ** 0.5 + 1)
            coverage = len(own_grams & grams) / (len(own_grams) or 1)
            kw = min(sum(1 for k in kws if k in c.text), 2)
            held = frozenset(s.name for s in slots if s.answered_by.search(c.text))
            # A yes/no question is answered by a sentence about what it asks (包邮吗 → 包邮), which weighs like a
            # figure for a figure question; any other 可以/支持 sentence does not hold its answer.
            about = bool(q.predicate & grams)
            if q.predicate and not about:
                held = held - {"yes_no"}
            slot = max((0.35 if s.figure else 0.15 for s in slots if s.name in held), default=0.0)
            slot += 0.35 if about else 0.0
            facts = 0.15 if _FIGURE.search(c.text) else 0.0
            row = _ROW.match(c.text)
            label = _ASIDE.sub("", row.group(1)).strip().lower() if row else ""
            named = 0.3 if len(label) >= 2 and label in own_text.lower() and label in words(own_text) else 0.0
            place = 0.0
            if places and self.rules.place_names is not None and self.rules.place_names.search(c.text):
                # about the customer's place, or only about others (偏远地区 for 「到上海几天」)
                place = 0.3 if any(p in c.text for p in places) else -0.15
            timing = 0.3 if passed is not None and any(x.applies(passed) for x in limits(c.text)) else 0.0
            fits, misses = fit(measures, c.text)
            if fits:  # the size row for the customer's figures is the figure asked for (几码, 多大)
                held = held | frozenset(q.figure_slots)
            st = standings[c.text]
            standing = _AGREE_W * len(st.agree) - _AHEAD_W * len(st.ahead | (st.behind & own_stage[c.doc_id]))
            size = _FIT_W * fits - _MISS_W * misses
            near = (dense.get(c.chunk_id, lo) - lo) / (hi - lo) if hi > lo else 0.0
            shared = 0.4 * ctx + 0.25 * kw + facts + 1.0 * near + 0.3 / (c.rank + 1) + (0.1 if c.retrieved else 0.0)
            score = own + slot + place + named + timing + size + standing + context * shared
            scored.append(
                Sentence(
                    c.text,
                    c.hit,
                    c.rank,
                    c.chunk_id,
                    c.order,
                    c.retrieved,
                    round(coverage, 4),
                    held,
                    round(score, 4),
                    timing,
                )
            )
        scored.sort(key=lambda s: (-s.score, s.rank, s.order))
        return scored

    # -- yes / no --------------------------------------------------------------------------------------
    def says_no(self, sentence: str) -> bool:
        return self.rules.negative is not None and bool(self.rules.negative.search(sentence))

    def yes_lead(self, question: str, sentence: str) -> str:
        """The plain "yes" that opens an affirmative answer, in the verb the question asks with (支持吗 → 支持的);
        "" unless `sentence` affirms what was asked: it uses that verb (or one answered by the same "yes": 能 /
        可以), or most of what follows the verb in the question (能退到购物金吗 → 「…退到购物金即时到账」).

        Only the clauses that ask count (「我是黑金会员 发顺丰还要加钱吗」 asks with none of the verbs), and a
        question asked with another verb (要…吗, 扣不扣) gets no "yes": 「免费」 answers 要加钱吗 with no."""
        verbs = [v for v in self.rules.yes_lead if v != "default"]
        asking = [
            c
            for c in clauses(question)
            if (asks_something(c) or self.question(c).yes_no) and (_A_NOT_A.search(c) or any(v in c for v in verbs))
        ]
        if not asking:
            return ""
        clause = asking[-1]  # the last question asked with a verb
        found = max(((clause.rfind(v), v) for v in verbs if v in clause), default=None)
        a_not_a = _A_NOT_A.search(clause)  # 退不退, 开没开: the verb is the one doubled
        if a_not_a is not None and (found is None or a_not_a.start() > found[0]):
            return self.rules.yes_lead.get("default", "") if a_not_a.group(1) in sentence else ""
        assert found is not None
        pos, verb = found
        lead = self.rules.yes_lead[verb]
        if any(v in sentence for v, text in self.rules.yes_lead.items() if v != "default" and text == lead):
            return lead
        rest = re.sub(r"[吗么嘛呢啊不否]+$", "", clause[pos + len(verb) :])
        if len(rest) == 1:  # 能开吗: the single verb itself
            return lead if rest in sentence else ""
        asked = bigrams(rest)
        return lead if asked and len(asked & bigrams(sentence)) >= 0.6 * len(asked) else ""
