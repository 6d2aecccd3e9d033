"""质检 finds each planted fault in the fixture conversations, and a clean agent passes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from evals.qa.checks import QualityChecker
from evals.qa.conversations import QAConversation, QATurn, read_conversations
from evals.qa.runner import summarize
from tests.evals.qa.conftest import CONVERSATIONS

# conversation id → (index of the agent turn at fault, the rule it breaks, the span reported)
PLANTED = {
    "fault-banned": (1, "banned_phrases", "亲，这不符合"),
    "fault-vague": (1, "vague_words", "大概"),
    "fault-negative": (1, "negative_framing", "不能"),
    "fault-politeness": (1, "politeness", ""),
    "fault-absolute": (1, "absolute_claims", "绝对"),
    "fault-number": (1, "unsupported_facts", None),
    "fault-overpromise": (1, "over_promising", None),
    "fault-first-response": (1, "response_time", "48 秒"),
    "fault-next-response": (3, "response_time", "95 秒"),
    "fault-empathy": (1, "empathy", None),
    "fault-next-step": (1, "next_step", None),
    "fault-pii": (1, "pii_echo", "13812345678"),
}


@pytest.fixture(scope="module")
def reviews(checker: QualityChecker) -> dict[str, object]:
    return {c.id: checker.run(c) for c in read_conversations(CONVERSATIONS)}


@pytest.mark.parametrize("conversation_id", sorted(PLANTED))
def test_each_planted_fault_is_found_on_its_turn(reviews, conversation_id: str) -> None:  # type: ignore[no-untyped-def]
    index, rule, span = PLANTED[conversation_id]
    review = reviews[conversation_id]
    turn = next(t for t in review.turns if t.index == index)
    assert not turn.passed
    found = [v for v in turn.violations if v.rule == rule]
    assert found, f"{conversation_id}: {rule} not found; found {[v.rule for v in turn.violations]}"
    if span is not None:
        assert span in [v.span for v in found]
    # Only the planted turn fails: the others of the conversation are clean.
    assert all(t.passed for t in review.turns if t.index != index)


def test_every_rule_of_the_checks_is_planted_once() -> None:
    """The fixture covers each kind of finding the issue names."""
    assert {r for _, r, _ in PLANTED.values()} >= {
        "banned_phrases", "vague_words", "negative_framing", "politeness", "absolute_claims", "unsupported_facts",
        "over_promising", "response_time", "empathy", "next_step",
    }  # fmt: skip


def test_the_clean_agent_scores_at_least_the_target(reviews) -> None:  # type: ignore[no-untyped-def]
    clean = [r for r in reviews.values() if r.conversation.agent_id == "clean"]
    figures = summarize(clean)
    assert figures["turns_checked"] >= 9
    assert figures["pass_rate"] >= 0.95, [v for r in clean for t in r.turns for v in t.violations]


def _conversation(*turns: tuple[str, str, int]) -> QAConversation:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    return QAConversation("c", "a", tuple(QATurn(r, t, start + timedelta(seconds=s)) for r, t, s in turns))


def test_response_time_counts_from_the_first_unanswered_message(checker: QualityChecker) -> None:
    review = checker.run(
        _conversation(
            ("customer", "你好", 0),
            ("customer", "请问羽绒服可以机洗吗", 10),
            ("agent", "您好，请您按洗标说明清洗。", 16),  # 16 s after the first message: over 15 s
            ("agent", "如有疑问请随时告诉我。", 200),  # the agent writes again: no one was waiting
        )
    )
    first, again = review.turns
    assert first.first_response and first.response_s == 16 and first.rules_failed == ("response_time",)
    assert again.response_s is None and again.passed
    assert review.first_response_s == 16


def test_empathy_is_asked_only_of_the_reply_after_anger(checker: QualityChecker) -> None:
    review = checker.run(
        _conversation(
            ("customer", "什么破质量，气死我了！！", 0),
            ("agent", "非常抱歉让您失望了，请您发一下订单号。", 8),
            ("customer", "订单号是这个", 20),
            # The customer is no longer angry: no apology needed (the complaint's next step is here).
            ("agent", "收到，我们会在24小时内给您处理方案，请您留意。", 30),
        )
    )
    assert [t.passed for t in review.turns] == [True, True]


def test_a_next_step_with_a_time_later_in_the_complaint_satisfies_it(checker: QualityChecker) -> None:
    review = checker.run(
        _conversation(
            ("customer", "再不处理我就发微博曝光你们", 0),
            ("agent", "非常抱歉给您带来不好的体验，请您提供订单号。", 8),
            ("customer", "订单号发你了", 20),
            ("agent", "收到，投诉专员会在2小时内联系您，请您留意电话。", 30),
        )
    )
    assert all(t.passed for t in review.turns), [t.violations for t in review.turns]


def test_the_model_answer_is_kefus_reading_of_that_moment(reviews) -> None:  # type: ignore[no-untyped-def]
    turn = reviews["fault-banned"].turns[0]
    assert turn.reading is not None and turn.reading.suggestion
    assert "亲，这不符合" not in turn.reading.suggestion  # Kefu's own answer passes its own guard


def test_figures_of_the_order_the_agent_saw_are_supported(checker: QualityChecker) -> None:
    conv = _conversation(("customer", "我那单实付多少？", 0), ("agent", "您好，您这笔订单实付258元。", 8))
    assert checker.run(conv).turns[0].rules_failed == ("unsupported_facts",)
    with_order = replace(conv, context={"order": {"order_id": "A1", "paid": 258}})
    assert checker.run(with_order).turns[0].passed
