"""质检 of one conversation: every agent reply against the KB's reply rules and the service standards.

Each agent turn gets
- the guard's rule kinds, as `kefu check` runs them on a typed reply (`Assistant.check_reply`: banned phrases,
  vague words, negative framing, politeness, absolute claims, numbers against the KB passages retrieved for the
  reply and the conversation, over-promising, echoed insults and personal data);
- `response_time`: seconds from the customer's message to the reply, against `rules.yaml` → qa.response_time
  (the first reply of the conversation, then each reply to a customer message);
- `empathy`: the reply to a customer message that reads as angry (the KB's emotion cues, `detect_emotion`)
  acknowledges the feeling;
- `next_step`: once a customer message reads as a complaint (Kefu's own reading of that moment: its intent or
  its handoff reason), some later reply names what happens next with a time; otherwise the agent's last reply
  carries the finding.

Kefu's own reading of each moment (`Assistant.run` on the conversation up to the customer message answered) also
gives the model answer the report shows beside a failed reply.

>>> review = QualityChecker(assistant, kb.rules.qa, kb.rules.emotion).run(conversation)
>>> [t.violations for t in review.turns if not t.passed]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from assistant.classify import detect_emotion
from assistant.result import CheckResult, Result, Violation
from evals.qa.conversations import QAConversation, QATurn
from kb.rules import EmotionLexicon, QualityChecks

log = logging.getLogger("kefu.qa")

QA_RULES = ("response_time", "empathy", "next_step")  # reported beside the guard's rule kinds
_CLAUSE = re.compile(r"[^。！？；!?;\n]+")


class ReadsConversations(Protocol):
    """What 质检 needs of the assistant (`assistant.pipeline.Assistant`)."""

    def run(self, *, conversation: Sequence[Any], context: dict[str, Any] | None = None) -> Result: ...

    def check_reply(
        self, text: str, *, conversation: Sequence[Any] = (), context: dict[str, Any] | None = None
    ) -> CheckResult: ...


@dataclass(frozen=True)
class Reading:
    """Kefu's reading of a moment: what it made of the customer's message, and what it would have replied."""

    intent: str
    emotion: str
    handoff_code: str | None
    suggestion: str | None

    @classmethod
    def of(cls, result: Result) -> Reading:
        top = result.suggestions[0].text if result.suggestions else None
        return cls(result.intent, result.emotion, result.handoff_code, top)


@dataclass(frozen=True)
class TurnReview:
    """One agent reply and what 质检 found in it."""

    conversation_id: str
    agent_id: str
    index: int  # position of the turn in the conversation
    at: datetime
    text: str
    answered: tuple[str, ...]  # the customer messages this reply answers (none: the agent wrote again)
    violations: tuple[Violation, ...] = ()
    response_s: float | None = None  # seconds since the first unanswered customer message
    first_response: bool = False
    reading: Reading | None = None
    error: str | None = None  # the assistant failed on this moment (the reply is still checked)

    @property
    def passed(self) -> bool:
        return not any(v.severity == "block" for v in self.violations)

    @property
    def rules_failed(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.rule for v in self.violations if v.severity == "block"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "agent_id": self.agent_id,
            "index": self.index,
            "at": self.at.isoformat(),
            "day": self.at.date().isoformat(),
            "text": self.text,
            "answered": list(self.answered),
            "passed": self.passed,
            "violations": [
                {"rule": v.rule, "span": v.span, "message": v.message, "suggestion": v.suggestion}
                for v in self.violations
            ],
            "response_s": None if self.response_s is None else round(self.response_s, 1),
            "first_response": self.first_response,
            "kefu": None
            if self.reading is None
            else {
                "intent": self.reading.intent,
                "emotion": self.reading.emotion,
                "handoff_code": self.reading.handoff_code,
                "suggestion": self.reading.suggestion,
            },
            "error": self.error,
        }


@dataclass(frozen=True)
class ConversationReview:
    conversation: QAConversation
    turns: tuple[TurnReview, ...] = field(default_factory=tuple)

    @property
    def first_response_s(self) -> float | None:
        return next((t.response_s for t in self.turns if t.first_response), None)


def _first_clause(text: str) -> str:
    m = _CLAUSE.search(text)
    return (m.group(0) if m else text)[:60]


class QualityChecker:
    """Reviews conversations with one KB's rules, through the assistant that KB serves."""

    def __init__(self, assistant: ReadsConversations, standards: QualityChecks, emotion: EmotionLexicon) -> None:
        self.assistant = assistant
        self.standards = standards
        self.emotion = emotion
        step = standards.next_step
        self._time = re.compile(step.time) if step is not None and step.enabled else None

    def _read(self, turns: Sequence[QATurn], context: dict[str, Any] | None) -> tuple[Reading | None, str | None]:
        try:
            return Reading.of(self.assistant.run(conversation=[t.as_turn() for t in turns], context=context)), None
        except Exception as e:  # one moment the assistant cannot read must not lose a day's review
            log.warning("qa: the assistant failed on a moment: %s", e)
            return None, f"{type(e).__name__}: {e}"

    def _angry(self, text: str) -> bool:
        return detect_emotion([text], self.emotion)[0] == "angry"

    def _complaint(self, reading: Reading | None) -> bool:
        step = self.standards.next_step
        if step is None or not step.enabled or reading is None:
            return False
        return reading.intent in step.intents or reading.handoff_code in step.handoff_reasons

    def _response_time(self, seconds: float, first: bool) -> Violation | None:
        rt = self.standards.response_time
        limit = rt.first_s if first else rt.next_s
        if not rt.enabled or seconds <= limit:
            return None
        kind = "首次响应" if first else "响应"
        return Violation("response_time", f"{seconds:.0f} 秒", f"{rt.message}：{kind} {seconds:.0f} 秒 > {limit:g} 秒")

    def _empathy(self, text: str, angry: Sequence[str]) -> Violation | None:
        section = self.standards.empathy
        if section is None or not section.enabled or not angry or any(w in text for w in section.words):
            return None
        return Violation(
            "empathy",
            _first_clause(text),
            f"{section.message}（客户：「{angry[-1][:40]}」）",
            f"先说：{section.words[0]}…",
        )

    def _answer_standards(self, text: str, waiting: Sequence[QATurn], seconds: float, first: bool) -> list[Violation]:
        """The standards of a reply to customer messages: in time, and acknowledging anger."""
        angry = [t.text for t in waiting if self._angry(t.text)]
        found = (self._response_time(seconds, first), self._empathy(text, angry))
        return [v for v in found if v is not None]

    def run(self, conversation: QAConversation) -> ConversationReview:
        turns = conversation.turns
        reviews: list[TurnReview] = []
        waiting: list[QATurn] = []  # customer messages not yet answered
        readings: dict[int, tuple[Reading | None, str | None]] = {}  # by the index of the last customer turn
        last_customer: int | None = None
        answered_once = False
        complaint_from: int | None = None  # index of the review from which a next step is due
        next_step_given = False
        for i, turn in enumerate(turns):
            if turn.role == "customer":
                waiting.append(turn)
                last_customer = i
                continue
            history = [t.as_turn() for t in turns[:i]]
            check = self.assistant.check_reply(turn.text, conversation=history, context=conversation.context)
            found = list(check.violations)
            reading, error = None, None
            if last_customer is not None:
                if last_customer not in readings:
                    readings[last_customer] = self._read(turns[: last_customer + 1], conversation.context)
                reading, error = readings[last_customer]
            seconds, first = None, False
            if waiting:
                seconds = (turn.at - waiting[0].at).total_seconds()
                first = not answered_once
                answered_once = True
                found += self._answer_standards(turn.text, waiting, seconds, first)
                if complaint_from is None and self._complaint(reading):
                    complaint_from = len(reviews)
            if complaint_from is not None and self._time is not None and self._time.search(turn.text):
                next_step_given = True
            reviews.append(
                TurnReview(
                    conversation_id=conversation.id,
                    agent_id=conversation.agent_id,
                    index=i,
                    at=turn.at,
                    text=turn.text,
                    answered=tuple(t.text for t in waiting),
                    violations=tuple(found),
                    response_s=seconds,
                    first_response=first,
                    reading=reading,
                    error=error,
                )
            )
            waiting = []
        if complaint_from is not None and not next_step_given and self.standards.next_step is not None:
            last = reviews[-1]
            missing = Violation(
                "next_step",
                _first_clause(last.text),
                self.standards.next_step.message,
                "例如：我们会在24小时内给您回复",
            )
            reviews[-1] = replace(last, violations=(*last.violations, missing))
        return ConversationReview(conversation, tuple(reviews))
