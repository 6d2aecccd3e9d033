"""Answers on the demo KB with the real model (marked `model`)."""

import pytest

from assistant.pipeline import Assistant
from kb import demo_kb_dir, load_kb

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def real_assistant(real_demo_index) -> Assistant:  # type: ignore[no-untyped-def]
    return Assistant(real_demo_index, load_kb(demo_kb_dir()), k=10)


def test_the_thermos_question_is_answered_from_the_quality_policy(real_assistant: Assistant) -> None:
    result = real_assistant.run(
        conversation=[{"role": "customer", "text": "买的保温杯用了两天就不保温了，你们这什么质量？能退吗"}]
    )
    assert result.suggestions
    for s in result.suggestions:
        cited = {c.doc_id for c in s.citations}
        assert "policy-quality-issue" in cited, s.text
        assert not cited & {"policy-fresh-food", "faq-beauty-skincare"}, s.text


def test_a_typed_reply_is_checked_against_the_kb(real_assistant: Assistant) -> None:
    ok = real_assistant.check_reply("您的订单签收未满7天，可以申请无理由退货")
    assert ok.passed, ok.violations
    wrong = real_assistant.check_reply("您的订单签收未满9天，可以申请无理由退货")
    assert not wrong.passed
    assert any(v.rule == "unsupported_facts" and "《" in v.message for v in wrong.violations)
