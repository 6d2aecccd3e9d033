import pytest

from assistant.conversation import clean, formulate_query, is_greeting, latest_customer_turns, leans_on_history
from assistant.result import Turn


def turns(*pairs: tuple[str, str]) -> list[Turn]:
    return [Turn(r, t) for r, t in pairs]


def test_masks_and_emoji_are_dropped() -> None:
    assert clean("订单[订单1]到哪了😂 ") == "订单 到哪了"


def test_consecutive_customer_messages_are_one_question() -> None:
    conv = turns(("customer", "在吗"), ("agent", "您好"), ("customer", "我买的裤子"), ("customer", "能退吗"))
    assert latest_customer_turns(conv) == ["我买的裤子", "能退吗"]
    assert formulate_query(conv) == "我买的裤子 能退吗"


@pytest.mark.parametrize("follow_up", ["那个能退吗", "那运费呢", "这款有黑色吗"])
def test_follow_ups_are_resolved_against_earlier_turns(follow_up: str) -> None:
    conv = turns(("customer", "你们的羊毛衫起球吗"), ("agent", "您好，不容易起球。"), ("customer", follow_up))
    assert leans_on_history(conv)
    assert formulate_query(conv).startswith("你们的羊毛衫起球吗")


def test_a_self_contained_question_stands_alone() -> None:
    conv = turns(
        ("customer", "你们的羊毛衫起球吗"),
        ("agent", "不容易起球。"),
        ("customer", "另外我想问一下电饭煲的保修期是多久"),
    )
    assert not leans_on_history(conv)
    assert formulate_query(conv) == "另外我想问一下电饭煲的保修期是多久"


def test_product_names_are_carried_forward() -> None:
    conv = turns(("customer", "空气炸锅多大"), ("agent", "5.5L"), ("customer", "另外它清洗的时候可以用钢丝球刷吗"))
    assert "空气炸锅" in formulate_query(conv, names=["空气炸锅"])


@pytest.mark.parametrize(
    ("text", "greeting"), [("在吗", True), ("你好呀~", True), ("谢谢！", True), ("你好，衣服能退吗", False)]
)
def test_greetings(text: str, greeting: bool) -> None:
    assert is_greeting(text) is greeting
