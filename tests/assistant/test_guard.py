from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.guard import Guard
from assistant.numbers import cn_to_int, find_numbers
from assistant.result import Turn
from kb import KBError, demo_kb_dir, load_kb
from kb.rules import Rules

RULES: Rules = load_kb(demo_kb_dir()).rules
POLICY = "签收次日起7天内可申请七天无理由退货，寄回运费由买家承担。一线客服可直接发放不超过10元的无门槛券。"


def rules_of(result: Any) -> set[str]:
    return {v.rule for v in result.violations}


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("亲，这不符合七天无理由退货条件哦", "banned_phrases"),
        ("您好，大概明天能到。", "vague_words"),
        ("您好，这个不能退。", "negative_framing"),
        ("这个商品签收7天内可以退。", "politeness"),
        ("您好，我们保证明天送到。", "absolute_claims"),
        ("您好，签收15天内可以无理由退货。", "unsupported_facts"),
        ("您好，我们额外赔偿您现金。", "over_promising"),
        ("您好，我们给您补偿50元无门槛券。", "over_promising"),
        ("您好，请不要说我们是骗子。", "insult_echo"),
        ("您好，已为您记录手机号13812345678。", "pii_echo"),
    ],
)
def test_each_rule_catches_its_case(text: str, rule: str) -> None:
    conv = [Turn("customer", "我手机13812345678，你们这些骗子")]
    result = Guard(RULES).check(text, sources=[POLICY], conversation=conv)
    assert rule in rules_of(result)
    assert not result.passed


def test_a_good_reply_passes() -> None:
    text = "您好，签收次日起7天内可以申请七天无理由退货，寄回运费由您承担，请您在订单页提交申请。"
    result = Guard(RULES).check(text, sources=[POLICY])
    assert result.passed, result.violations


def test_negative_with_an_alternative_is_fine() -> None:
    text = "您好，已拆封的口红无法无理由退货，不过如有质量问题我们可以为您办理退换。"
    assert "negative_framing" not in rules_of(Guard(RULES).check(text, sources=[text]))


def test_compensation_within_the_cited_limit_passes() -> None:
    text = "您好，为表歉意，我们为您补偿10元无门槛券。"
    result = Guard(RULES).check(text, sources=[POLICY + "可补偿无门槛券。"])
    assert "over_promising" not in rules_of(result)


def test_fix_replaces_banned_phrases_and_masks_pii() -> None:
    conv = [Turn("customer", "电话13812345678")]
    result = Guard(RULES).check("亲，您的电话13812345678已登记。", conversation=conv, fix=True)
    assert result.fixed_text is not None
    assert "亲，" not in result.fixed_text and "13812345678" not in result.fixed_text


def test_numbers_from_conversation_and_order_context_are_supported() -> None:
    conv = [Turn("customer", "我3天前签收的")]
    text = "您好，您的订单签收3天，付款金额259元，可以申请退货。"
    result = Guard(RULES).check(text, conversation=conv, context={"order": {"paid_amount": 259}})
    assert "unsupported_facts" not in rules_of(result)


@pytest.mark.parametrize(
    ("cn", "n"),
    [("七", 7), ("十", 10), ("十五", 15), ("二十四", 24), ("一百", 100), ("两", 2), ("三十", 30), ("一万", 10000)],
)
def test_chinese_numerals(cn: str, n: int) -> None:
    assert cn_to_int(cn) == n


def test_masked_tokens_are_not_numbers() -> None:
    assert find_numbers("订单[订单1]，金额[数字2]元") == []


@settings(max_examples=200, deadline=None)
@given(
    source=st.lists(st.integers(0, 10_000), max_size=6),
    draft=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
    unit=st.sampled_from(["天", "元", "小时", "个工作日", "%"]),
)
def test_guard_finds_every_number_missing_from_the_sources(source: list[int], draft: list[int], unit: str) -> None:
    src = "。".join(f"规则{n}{unit}" for n in source)
    text = "您好，" + "，".join(f"{n}{unit}" for n in draft) + "。"
    flagged = {
        v.message.rsplit("：", 1)[-1]
        for v in Guard(RULES).check(text, sources=[src]).violations
        if v.rule == "unsupported_facts"
    }
    assert flagged == {str(n) for n in draft if n not in source}


def test_an_amount_the_customer_demanded_is_not_a_policy() -> None:
    conv = [Turn("customer", "给我200元补偿")]
    result = Guard(RULES).check("您好，我们为您补偿200元红包。", sources=[POLICY], conversation=conv)
    assert "over_promising" in rules_of(result)


def test_only_checks_the_named_rules() -> None:
    text = "大概明天能到，这个不能退。"  # vague, negative, impolite
    result = Guard(RULES).check(text, only=["vague_words"])
    assert rules_of(result) == {"vague_words"}
    assert result.rules_checked == ("vague_words",)
    assert rules_of(Guard(RULES).check(text)) >= {"vague_words", "negative_framing", "politeness"}


def test_the_guard_takes_the_content_of_a_rules_file_and_its_switches() -> None:
    guard = Guard({"vague_words": ["可能"]})
    assert guard.active == ("vague_words",)
    assert rules_of(guard.check("可能明天到")) == {"vague_words"}
    off = Guard({"vague_words": {"words": ["可能"], "enabled": False}, "politeness": {}})
    assert off.active == ("politeness",) and rules_of(off.check("可能明天到")) == {"politeness"}


def test_the_guard_refuses_rules_it_cannot_read() -> None:
    with pytest.raises(KBError, match="did you mean 'vague_words'"):
        Guard({"vague_word": ["可能"]})
