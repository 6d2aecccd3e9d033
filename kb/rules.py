"""Typed `rules.yaml` (CONTRACTS.md §4): the guard's reply rules and the behaviour a shop may change.

Words live in the YAML; the code that applies them lives in `assistant`. Every model forbids unknown keys, so a
typo is an error on load, not a rule that silently does nothing.

>>> rules = kb.loader.parse_rules(yaml.safe_load(text))   # absent behaviour sections: the shipped ones
>>> rules.handoff.get("safety").quote_kb
False
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

EMOTIONS = ("calm", "anxious", "angry")
PII_KINDS = ("phone", "id_number", "address", "card", "email")
# Sections a KB may leave out to get the shipped defaults. The guard's rule kinds are different: a KB that
# omits one switches it off (that was always their meaning).
BEHAVIOUR_SECTIONS = (
    "emotion",
    "handoff",
    "phrasing",
    "intent_behaviour",
    "answer_slots",
    "polarity",
    "agent_guidance",
    "places",
    "offered_values",
    "conditions",
    "tickets",
    "followup",
    "qa",
)
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")

Emotion = Literal["calm", "anxious", "angry"]
Priority = Literal["urgent", "high", "normal"]
PRIORITIES: tuple[Priority, ...] = ("urgent", "high", "normal")  # most urgent first
PiiKind = Literal["phone", "id_number", "address", "card", "email"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def unique(what: str, names: list[str]) -> None:
    """Raise the validation error for names given more than once."""
    dupes = sorted({x for x in names if names.count(x) > 1})
    if dupes:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(dupes)}")


def words_as_text(value: Any) -> Any:
    """YAML reads 12315 or 100% as numbers; as list items of words they are words."""
    if isinstance(value, list | tuple):
        return [str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in value]
    return value


# -- the guard's rule kinds ---------------------------------------------------------------------------------


class BannedPhrase(_Strict):
    phrase: str = Field(min_length=1)
    suggestion: str | None = None  # replaces the phrase when the guard fixes a draft
    message: str = "禁用语"


class GuardRule(_Strict):
    enabled: StrictBool = True
    message: str | None = None  # shown to the agent


class WordRule(GuardRule):
    words: tuple[str, ...] = ()

    @field_validator("words", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return words_as_text(value)


class NegativeFraming(WordRule):
    alternatives: tuple[str, ...] = ()  # a negative is fine when the reply also offers one of these


class Politeness(GuardRule):
    required_any: tuple[str, ...] = Field(default=("您",), min_length=1)


class OverPromising(GuardRule):
    compensation_words: tuple[str, ...] = ()
    exception_words: tuple[str, ...] = ()

    @field_validator("compensation_words", "exception_words", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return words_as_text(value)


class PiiEcho(GuardRule):
    kinds: tuple[PiiKind, ...] = PII_KINDS  # type: ignore[assignment]


# -- emotion ------------------------------------------------------------------------------------------------


class EmotionCues(_Strict):
    """Cues of one emotion. `words`: a word or phrase → its weight, counted once when the message contains it.
    `patterns`: a regular expression → its weight, counted per match (e.g. a run of exclamation marks)."""

    words: dict[str, float] = Field(default_factory=dict)
    patterns: dict[str, float] = Field(default_factory=dict)

    @field_validator("words", "patterns")
    @classmethod
    def _positive(cls, cues: dict[str, float]) -> dict[str, float]:
        bad = [k for k, w in cues.items() if w <= 0]
        if bad:
            raise ValueError(f"weights must be above 0 (remove a cue instead of weighting it 0): {', '.join(bad)}")
        return cues

    @field_validator("patterns")
    @classmethod
    def _regexes(cls, cues: dict[str, float]) -> dict[str, float]:
        for p in cues:
            _compile(p)
        return cues


class EmotionLexicon(_Strict):
    angry: EmotionCues
    anxious: EmotionCues


# -- handoff ------------------------------------------------------------------------------------------------


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as e:
        raise ValueError(
            f"'{pattern}' is not a valid regular expression ({e}); escape ( ) [ ] ? * + . with a backslash "
            "to match them literally"
        ) from e


Regexes = tuple[str, ...]


def _patterns(patterns: Regexes) -> Regexes:
    """A validator: every entry compiles as a regular expression."""
    for p in patterns:
        _compile(p)
    return patterns


class Trigger(_Strict):
    """One way a reason applies: every condition given must hold (an AND); leave out what does not matter."""

    latest: Regexes = ()  # a regex that matches the latest customer message (consecutive turns joined)
    latest_all: Regexes = ()  # every one of these regexes matches the latest message (「我买的」 and 「到哪了」)
    earlier: Regexes = ()  # a regex that matches one of the customer's earlier turns
    any_turn: Regexes = ()  # a regex that matches the latest message or an earlier turn
    not_latest: Regexes = ()  # no regex of these matches the latest message (e.g. a hypothetical 会不会)
    intents: tuple[str, ...] = ()  # the classified intent is one of these
    not_intents: tuple[str, ...] = ()  # the classified intent is none of these
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)  # ... classified with at least this confidence
    emotions: tuple[Emotion, ...] = ()  # the conversation's emotion is one of these
    angry_turns: int | None = Field(default=None, ge=1)  # at least N customer turns read as angry, the latest too
    customer_turns: int | None = Field(default=None, ge=1)  # at least N customer turns in the conversation
    order_context: StrictBool | None = None  # the request carries `context.order` (true) or does not (false)
    answerable: StrictBool | None = None  # retrieval found evidence above the answerable threshold
    greeting: StrictBool | None = None  # the message is a greeting or small talk
    unknown_terms: int | None = Field(default=None, ge=1)  # at least N nouns of the latest message the KB never uses

    _regexes = field_validator("latest", "latest_all", "earlier", "any_turn", "not_latest")(_patterns)

    def conditions(self) -> tuple[str, ...]:
        """The conditions this trigger sets, in declaration order (`min_confidence` refines `intents`)."""
        return tuple(
            name
            for name in type(self).model_fields
            if name != "min_confidence" and getattr(self, name) not in (None, ())
        )

    @model_validator(mode="after")
    def _says_something(self) -> Trigger:
        if not self.conditions():
            raise ValueError("a trigger needs at least one condition (latest, intents, order_context, ...)")
        if self.min_confidence and not self.intents:
            raise ValueError("'min_confidence' applies to 'intents'; add the intents it is about")
        return self


class Reason(_Strict):
    """One handoff reason: when it applies, what the agent sees, and what the customer is told meanwhile."""

    code: str  # stable identifier, e.g. needs_order_data; reported in results and metrics
    label: str = Field(min_length=1)  # shown to the agent in the sidebar
    holding: str = Field(min_length=1)  # the holding reply suggested while a person takes over
    quote_kb: StrictBool = True  # whether KB sentences may be quoted beside the holding reply
    when: tuple[Trigger, ...] = Field(min_length=1)  # any one trigger is enough

    @field_validator("code")
    @classmethod
    def _code(cls, code: str) -> str:
        if not _CODE.match(code):
            raise ValueError(f"'{code}' is not a code: use lowercase letters, digits and _, e.g. needs_order_data")
        return code

    @field_validator("holding")
    @classmethod
    def _polite(cls, holding: str) -> str:
        if "您" not in holding and "请" not in holding:
            raise ValueError("a holding reply speaks to the customer politely: use 您 or 请")
        return holding


class HandoffTable(_Strict):
    """Reasons in order: the first whose trigger holds is the one reported. `cues`: named classes of
    wording (a list of regexes each, e.g. third_party, refusal) that the fitted handoff model reads as
    signals — whether one matches the latest message, whether one matches an earlier turn."""

    reasons: tuple[Reason, ...] = Field(min_length=1)
    cues: dict[str, Regexes] = Field(default_factory=dict)

    @field_validator("cues")
    @classmethod
    def _cue_classes(cls, cues: dict[str, Regexes]) -> dict[str, Regexes]:
        for name, patterns in cues.items():
            if not _CODE.match(name):
                raise ValueError(f"cue class '{name}' is not a name: use lowercase letters, digits and _")
            for p in patterns:
                _compile(p)
        return cues

    @field_validator("reasons")
    @classmethod
    def _unique(cls, reasons: tuple[Reason, ...]) -> tuple[Reason, ...]:
        unique("reason codes", [r.code for r in reasons])
        return reasons

    def get(self, code: str) -> Reason | None:
        return next((r for r in self.reasons if r.code == code), None)


class LogisticWeights(_Strict):
    """A logistic regression: p = 1 / (1 + exp(-(bias + Σ weight·feature)))."""

    bias: float
    weights: dict[str, float]  # feature name → weight; a feature not named weighs 0


class HandoffModelWeights(_Strict):
    """A KB's `handoff_model.json`, fitted by `kefu handoff fit` on labelled eval sets and consulted when no
    trigger of the handoff table holds: `detector` gives the probability that a person is needed (a handoff
    when it reaches `threshold`); `reasons` (one model per reason, fitted on the conversations that needed a
    person) pick which reason."""

    version: Literal[1] = 1
    detector: LogisticWeights
    threshold: float = Field(gt=0.0, lt=1.0)
    reasons: dict[str, LogisticWeights]
    fitted_on: tuple[str, ...] = ()  # the eval sets it was fitted on
    l2: float = Field(default=1.0, ge=0.0)
    fit_report: dict[str, Any] = Field(default_factory=dict)  # figures of the fit (cross-validated), for people

    def only(self, codes: Iterable[str]) -> HandoffModelWeights:
        """These weights restricted to the reasons of a handoff table (a KB may define fewer)."""
        keep = set(codes)
        return self.model_copy(update={"reasons": {c: w for c, w in self.reasons.items() if c in keep}})


# -- phrasing and per-intent behaviour ----------------------------------------------------------------------


def _placeholders(text: str, needed: tuple[str, ...]) -> str:
    missing = [p for p in needed if p not in text]
    if missing:
        raise ValueError(f"needs the placeholder(s) {', '.join(missing)}; write them where the values go")
    try:
        text.format(**{p.strip("{}"): "" for p in needed})
    except (KeyError, IndexError, ValueError) as e:
        raise ValueError(
            f"has a placeholder other than {', '.join(needed)} ({e}); double a brace to write it"
        ) from None
    return text


class Phrasing(_Strict):
    """Fixed sentences of the composed replies (the facts always come from the KB)."""

    openers: dict[str, dict[str, tuple[str, ...]]]  # emotion → intent (or "*" for any) → openers
    greeting: str  # the reply to a bare greeting
    off_topic: str  # small talk or a question the shop does not handle
    closes: tuple[str, ...] = Field(min_length=1)
    alternative: str  # added when a quoted rule only says no
    ask_order_number: str
    ask_order_number_and_photos: str
    ask_photos: str
    # The keys below were added after the first release (LATER_KEYS); a KB's own `phrasing` that lacks them gets
    # the shipped ones (`kb.loader.parse_rules`), so a rules.yaml written before them keeps loading.
    ask_what: str  # after an opener, when nothing in the KB answers yet
    # The top reply's check when neither the intent nor the evidence is sure. It names no topic: guesses that
    # unsure named the wrong one more often than not (NOTES, "Asking back").
    confirm_open: str
    confirm_topic: str | None = None  # accepted for rules.yaml files of earlier releases; no longer used
    choose_option: str  # closes the "options" variant
    progress_update: str  # closes the "next steps" variant
    brief_close: str  # closes the short second wording
    within_window: str  # "{elapsed}" since delivery, "{window}" as the policy states it (7天, 48小时)
    past_window: str
    condition_undone: str  # within the window, but "{done}" (the customer's words) undoes "{condition}" (未洗涤)
    order_state: str  # "{status}": the order's status, named by `status_names` (else as the order gives it)
    status_names: dict[str, str] = Field(default_factory=dict)  # status code (lower case) → what the customer reads

    LATER_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            "ask_what",
            "confirm_topic",
            "confirm_open",
            "choose_option",
            "progress_update",
            "brief_close",
            "within_window",
            "past_window",
            "condition_undone",
            "order_state",
            "status_names",
        }
    )

    def status_name(self, status: object) -> str:
        """An order's status in the customer's words (`status_names`; else as the order gives it, at most 20
        characters); "" when the order gives none."""
        if not isinstance(status, str) or not status.strip():
            return ""
        return self.status_names.get(status.strip().lower(), status.strip())[:20]

    @field_validator("confirm_topic")
    @classmethod
    def _has_topic(cls, text: str | None) -> str | None:
        return None if text is None else _placeholders(text, ("{topic}",))

    @field_validator("order_state")
    @classmethod
    def _has_status(cls, text: str) -> str:
        return _placeholders(text, ("{status}",))

    @field_validator("within_window", "past_window")
    @classmethod
    def _has_window(cls, text: str) -> str:
        return _placeholders(text, ("{elapsed}", "{window}"))

    @field_validator("condition_undone")
    @classmethod
    def _has_condition(cls, text: str) -> str:
        return _placeholders(text, ("{done}", "{condition}"))

    @field_validator("openers")
    @classmethod
    def _every_emotion(cls, openers: dict[str, dict[str, tuple[str, ...]]]) -> dict[str, dict[str, tuple[str, ...]]]:
        unknown = sorted(set(openers) - set(EMOTIONS))
        if unknown:
            raise ValueError(f"unknown emotion(s) {', '.join(unknown)}; use {', '.join(EMOTIONS)}")
        for emotion in EMOTIONS:
            if not (openers.get(emotion) or {}).get("*"):
                raise ValueError(f"'{emotion}' needs a '*' list: the openers used for any intent")
        return openers


class IntentBehaviour(_Strict):
    """What the reply does for one intent."""

    ask_order_number: StrictBool = False  # ask for the order number when the request carries none
    ask_photos: StrictBool = False  # ask for photos of the problem
    window_key: str | None = None  # check the order against a "N天内" window in a policy sentence with this word
    tell_order_state: StrictBool = False  # say the order's status (context.order.status) before the answer


# -- answers ----------------------------------------------------------------------------------------------


def _pattern(value: str | None) -> str | None:
    if value is not None:
        _compile(value)
    return value


class AnswerSlot(_Strict):
    """One kind of answer (`answer_slots`): how a question asks for it, and what a sentence that gives it
    looks like."""

    asked_by: Regexes = Field(min_length=1)  # regexes over the customer's latest message
    answered_by: str = Field(min_length=1)  # a regex a sentence must match to hold this kind of answer
    figure: StrictBool = False  # a figure (duration, amount, size): a sentence without one does not answer

    _asked = field_validator("asked_by")(_patterns)

    _answered = field_validator("answered_by")(_pattern)


class Polarity(_Strict):
    """How a sentence says no, and the plain yes that opens an affirmative answer, per the question's verb."""

    negative: str | None = None
    yes_lead: dict[str, str] = Field(default_factory=dict)  # verb → lead; "default" for any other verb

    _negative = field_validator("negative")(_pattern)


class AgentGuidance(_Strict):
    """Sentences and sections written for agents: guidance for the drafter, never quoted to a customer."""

    sentence: str | None = None
    section: str | None = None
    # An agent's offer of help (有什么可以帮您): a question that asks nothing about the customer's question.
    offer: str | None = None

    _patterns = field_validator("sentence", "section", "offer")(_pattern)


def _place_lists(value: Any) -> Any:
    """`places`: region → the places it holds; YAML lists of names, each a non-empty word without spaces."""
    if not isinstance(value, dict):
        return value
    for region, names in value.items():
        if not isinstance(names, list | tuple) or not names:
            raise ValueError(f"places.{region} must be a non-empty list of place names, e.g. [江苏, 浙江, 上海]")
        bad = [n for n in names if not isinstance(n, str) or not n.strip() or any(c.isspace() for c in n)]
        if bad or not str(region).strip():
            raise ValueError(f"places.{region}: every place must be a name without spaces; not {bad!r}")
    return value


class Conditions(_Strict):
    """How a policy says something must still be intact (吊牌完整, 配件齐全) and the verbs with which a customer
    says it no longer is (吊牌剪了, 包装撕了). A policy's 未X (未洗涤, 未拆封) is read from its grammar."""

    intact: tuple[str, ...] = ()  # words after the thing: 完整, 完好, 齐全
    undone_by: tuple[str, ...] = ()  # verbs before 了/掉: 剪, 撕, 拆, 扔
    # words of a sentence that offers a way forward once a condition is undone (可以, 提供, 为您); none: no way forward
    offers: tuple[str, ...] = ()

    @field_validator("intact", "undone_by", "offers")
    @classmethod
    def _words(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        bad = [w for w in words if not w.strip() or any(c.isspace() for c in w)]
        if bad:
            raise ValueError(f"every entry must be a word without spaces; not {bad!r}")
        return words


class OfferedValues(_Strict):
    """Options a customer asks for by value (`offered_values`): how a message asks whether something is offered,
    and each kind of option with a regex of its values. A value asked for that the answering document does not
    list, when it lists others of that kind, is not offered (handoff no_answer)."""

    asked_by: Regexes = ()
    kinds: dict[str, str] = Field(default_factory=dict)

    _asked = field_validator("asked_by")(_patterns)

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, kinds: dict[str, str]) -> dict[str, str]:
        for kind, pattern in kinds.items():
            try:
                _compile(pattern)
            except ValueError as e:
                raise ValueError(f"kinds.{kind}: {e}") from None
        return kinds


# -- tickets and follow-ups ------------------------------------------------------------------------------


class Tickets(_Strict):
    """How a handoff becomes a ticket (`tickets`): its priority, when it is due, which team takes it.

    A handoff's priority is the more urgent of its reason's (`reasons`) and its intent's (`intents`); neither
    listed: normal. It is due `due_hours[priority]` hours after the request."""

    due_hours: dict[Priority, float]
    reasons: dict[str, Priority] = Field(default_factory=dict)  # handoff reason code → priority
    intents: dict[str, Priority] = Field(default_factory=dict)  # intent → priority of any handoff with it
    teams: dict[str, str] = Field(default_factory=dict)  # handoff reason code → the helpdesk team that takes it

    @field_validator("due_hours")
    @classmethod
    def _every_priority(cls, hours: dict[Priority, float]) -> dict[Priority, float]:
        missing = [p for p in PRIORITIES if p not in hours]
        if missing:
            raise ValueError(f"give the hours for every priority; missing: {', '.join(missing)}")
        bad = [p for p, h in hours.items() if h <= 0]
        if bad:
            raise ValueError(f"hours must be above 0: {', '.join(bad)}")
        return hours

    @field_validator("reasons", "teams")
    @classmethod
    def _codes(cls, table: dict[str, Any]) -> dict[str, Any]:
        for code in table:
            if not _CODE.match(code):
                raise ValueError(f"'{code}' is not a handoff reason code (see handoff.reasons[].code)")
        return table

    def priority(self, reason: str | None, intent: str | None) -> Priority:
        found = [p for p in (self.reasons.get(reason or ""), self.intents.get(intent or "")) if p is not None]
        return min(found, key=PRIORITIES.index) if found else "normal"


class FollowupProblem(_Strict):
    """A kind of problem a customer reports: regexes over the customer's turns, and its name in a draft."""

    when: Regexes = Field(min_length=1)
    name: str = Field(min_length=1)

    @field_validator("when")
    @classmethod
    def _regexes(cls, patterns: Regexes) -> Regexes:
        for p in patterns:
            _compile(p)
        return patterns


class FollowupOutcome(FollowupProblem):
    """How a problem was solved: regexes over the stated outcome or the agent's turns (latest first), what the
    draft says was done and what it asks to confirm it."""

    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")  # a code, e.g. reship
    says: str = Field(min_length=1)
    asks: str = Field(min_length=1)


_FOLLOWUP_FIELDS = ("problem", "outcome", "check")


class Followup(_Strict):
    """回访 drafts (`followup`): the script they follow and cite, when they are due, and the words they use."""

    script: str = Field(min_length=1)  # id of the KB document with the follow-up script (cited by every draft)
    section: str = Field(min_length=1)  # regex over the script's section titles: the section the drafts follow
    window_hours: tuple[float, float]  # (from, to): the follow-up is made this many hours after resolution
    text: str  # the draft, with {problem}, {outcome} and {check}
    close: str = ""
    problem_default: str = Field(min_length=1)  # when neither a problem nor the intent names it
    problems: tuple[FollowupProblem, ...] = ()  # tried in order over the customer's turns
    intent_problems: dict[str, str] = Field(default_factory=dict)  # intent → problem name, when none matched
    outcomes: tuple[FollowupOutcome, ...] = ()  # tried in order
    outcome_default: FollowupOutcome
    # In the agent's turns, an outcome counts only in a clause that says it is done (`done`) and does not
    # offer or ask (`not_done`): 「可以为您退货或换货」 is an offer, 「退款已经发起」 an outcome. None: any clause.
    done: str | None = None
    not_done: str | None = None
    # The keys below were added after the first release (LATER_KEYS); a KB's own `followup` that lacks them gets
    # the shipped ones (`kb.loader.parse_rules`), so a rules.yaml written before them keeps loading.
    # Words a search for the script uses when the words of `section` find none of its passages.
    script_search: str = Field(min_length=1)
    # The word that stands for the product in a problem's name: replaced by the product the customer named
    # (商品破损 → 吹风机破损). A matched problem without it gets the product in front (吹风机 + 使用故障); an
    # intent's problem without it is used as it is.
    product_word: str = Field(min_length=1)

    LATER_KEYS: ClassVar[frozenset[str]] = frozenset({"script_search", "product_word"})

    _section = field_validator("section", "done", "not_done")(_pattern)

    @field_validator("window_hours")
    @classmethod
    def _window(cls, window: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= window[0] <= window[1]:
            raise ValueError("give [from, to] hours with 0 <= from <= to, e.g. [24, 48]")
        return window

    @field_validator("text")
    @classmethod
    def _fields(cls, text: str) -> str:
        used = set(re.findall(r"{(\w*)}", text))
        unknown = used - set(_FOLLOWUP_FIELDS)
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}; use {{problem}}, {{outcome}}, {{check}}")
        if not {"problem", "outcome"} <= used:
            raise ValueError("a follow-up names the customer's problem and its outcome: use {problem} and {outcome}")
        return text

    @field_validator("outcomes")
    @classmethod
    def _unique(cls, outcomes: tuple[FollowupOutcome, ...]) -> tuple[FollowupOutcome, ...]:
        unique("outcome names", [o.name for o in outcomes])
        return outcomes


# -- 质检 (quality checks of agents' own replies) -------------------------------------------------------------


class ResponseTime(_Strict):
    """How fast an agent answers: the first reply of a conversation, and every later reply to a customer."""

    enabled: StrictBool = True
    first_s: float = Field(default=15, gt=0)  # first response, seconds after the customer's first message
    next_s: float = Field(default=30, gt=0)  # later responses, seconds after the customer's message
    message: str = "响应超时"


class Empathy(_Strict):
    """An agent's reply to a customer message that reads as angry (the `emotion` cues) acknowledges the feeling."""

    enabled: StrictBool = True
    words: tuple[str, ...] = Field(min_length=1)  # one of these shows the feeling was acknowledged
    message: str = "客户生气时先接纳情绪"


class NextStep(_Strict):
    """In a complaint, the agent tells the customer what happens next and by when."""

    enabled: StrictBool = True
    intents: tuple[str, ...] = ("complaint",)  # a customer message classified as one of these is a complaint
    handoff_reasons: tuple[str, ...] = ()  # ... and so is one for which one of these handoff reasons applies
    time: str = Field(min_length=1)  # a regex: a reply matching it names a time (24小时内, 今天, 3个工作日)
    message: str = "投诉处理要告诉客户下一步和时间"

    _time = field_validator("time")(_pattern)


class QualityChecks(_Strict):
    """What `kefu qa run` holds agents' replies to besides the guard's rule kinds, and the pass-rate line."""

    target_pass_rate: float = Field(default=0.95, ge=0, le=1)  # 质检合格率 line in the report
    response_time: ResponseTime = ResponseTime()
    empathy: Empathy | None = None
    next_step: NextStep | None = None


# -- the file ---------------------------------------------------------------------------------------------


class Rules(_Strict):
    """A whole rules.yaml. Guard rule kinds that are absent are switched off; behaviour sections that are
    absent are filled from the shipped defaults by the loader."""

    banned_phrases: tuple[BannedPhrase, ...] | None = None
    vague_words: WordRule | None = None
    negative_framing: NegativeFraming | None = None
    politeness: Politeness | None = None
    absolute_claims: WordRule | None = None
    unsupported_facts: GuardRule | None = None
    over_promising: OverPromising | None = None
    insult_echo: WordRule | None = None
    pii_echo: PiiEcho | None = None
    emotion: EmotionLexicon
    handoff: HandoffTable
    phrasing: Phrasing
    intent_behaviour: dict[str, IntentBehaviour]
    answer_slots: dict[str, AnswerSlot] = Field(default_factory=dict)
    polarity: Polarity = Polarity()
    agent_guidance: AgentGuidance = AgentGuidance()
    # region → places in it (江浙沪: [江苏, 浙江, 上海], 江苏: [南京, 苏州, …]): a customer naming a place is read
    # as naming the regions that hold it, so 「到苏州几天」 finds 「江浙沪地区1-2天送达」.
    places: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    offered_values: OfferedValues = Field(default_factory=lambda: OfferedValues())
    conditions: Conditions = Field(default_factory=lambda: Conditions())
    tickets: Tickets | None = None
    followup: Followup | None = None
    # Not a section of rules.yaml: the loader reads it from handoff_model.json beside it (or the shipped one).
    handoff_model: HandoffModelWeights | None = None

    qa: QualityChecks = QualityChecks()

    _places = field_validator("places", mode="before")(_place_lists)

    @field_validator("vague_words", "absolute_claims", "insult_echo", "negative_framing", mode="before")
    @classmethod
    def _word_list(cls, value: Any) -> Any:
        """A bare list of words is the short form of {words: [...]}."""
        return {"words": value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _qa_reasons(self) -> Rules:
        step = self.qa.next_step
        unknown = sorted(set(step.handoff_reasons) - {r.code for r in self.handoff.reasons}) if step else []
        if unknown:
            raise ValueError(
                f"qa.next_step.handoff_reasons names {', '.join(unknown)}, which handoff.reasons does not define; "
                f"use codes of handoff.reasons ({', '.join(r.code for r in self.handoff.reasons)})"
            )
        return self

    def intents_named(self) -> dict[str, set[str]]:
        """Intent names these rules refer to, by the key that names them (for a check against intents.yaml)."""
        named: dict[str, set[str]] = {"intent_behaviour": set(self.intent_behaviour)}
        for r in self.handoff.reasons:
            named.setdefault(f"handoff.{r.code}", set()).update(i for t in r.when for i in (*t.intents, *t.not_intents))
        named.update({f"phrasing.openers.{e}": set(t) - {"*"} for e, t in self.phrasing.openers.items()})
        if self.tickets is not None:
            named["tickets"] = set(self.tickets.intents)
        if self.followup is not None:
            named["followup"] = set(self.followup.intent_problems)

        if self.qa.next_step is not None:
            named["qa.next_step"] = set(self.qa.next_step.intents)
        return named


# Fields of Rules that are not sections of rules.yaml (the loader fills them from files beside it).
NOT_SECTIONS = ("handoff_model",)
GUARD_SECTIONS = tuple(k for k in Rules.model_fields if k not in (*BEHAVIOUR_SECTIONS, *NOT_SECTIONS))
