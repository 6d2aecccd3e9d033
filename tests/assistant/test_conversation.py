import re

import pytest

from assistant.answerability import asks_something, clauses
from assistant.conversation import (
    clean,
    formulate_query,
    is_greeting,
    latest_customer_turns,
    leans_on_history,
    open_question,
)
from assistant.result import Turn
from kb.loader import default_rules_data


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


OFFER = re.compile(str(default_rules_data()["agent_guidance"]["offer"]))  # the shipped agent_guidance.offer


def asks(message: str) -> bool:
    return any(asks_something(c) for c in clauses(message))


def test_an_answer_to_the_agents_question_completes_the_customers_open_one() -> None:
    conv = turns(
        ("customer", "车厘子果径大不大"),
        ("agent", "您好，请问是自己吃还是送礼呢？"),
        ("customer", "送我丈母娘的 怕太小拿不出手"),
    )
    assert open_question(conv, asks) == ["车厘子果径大不大"]
    assert formulate_query(conv, open_question=open_question(conv, asks)).startswith("车厘子果径大不大 送我丈母娘的")


@pytest.mark.parametrize(
    ("agent", "latest"),
    [
        ("您好，请问是自己吃还是送礼呢？", "送人的 有礼盒吗"),  # the customer asks something new
        ("您好，车厘子果径28-30mm。", "送我丈母娘的"),  # the agent asked nothing: nothing is left open
        ("抱歉久等了，请问有什么可以帮您？", "你们全家都是废物"),  # an offer of help asks about nothing
    ],
)
def test_no_open_question_when_the_customer_asks_anew_or_the_agent_asked_nothing(agent: str, latest: str) -> None:
    conv = turns(("customer", "车厘子果径大不大"), ("agent", agent), ("customer", latest))
    assert open_question(conv, asks, OFFER) == []


def test_product_names_are_carried_forward() -> None:
    conv = turns(("customer", "空气炸锅多大"), ("agent", "5.5L"), ("customer", "另外它清洗的时候可以用钢丝球刷吗"))
    assert "空气炸锅" in formulate_query(conv, names=["空气炸锅"])


@pytest.mark.parametrize(
    ("text", "greeting"), [("在吗", True), ("你好呀~", True), ("谢谢！", True), ("你好，衣服能退吗", False)]
)
def test_greetings(text: str, greeting: bool) -> None:
    assert is_greeting(text) is greeting
