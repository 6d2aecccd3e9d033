"""The state a customer says their order is in, against the state a rule is written for (assistant.states)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.states import Standing, agreement, told, written_for


@pytest.mark.parametrize(
    ("sentence", "states"),
    [
        ("已发货的订单不能改规格，收到后可以按七天无理由退货。", {"发": True, "收": True}),
        ("未发货的订单，我们可以帮您改成同价位的其他颜色。", {"发": False}),
        ("订单发货前，收货地址和商品规格都可以修改。", {"发": False}),
        ("签收后30天内发现质量问题的，可以退货或换货。", {"签": True}),
        ("已经使用但没有质量问题的，可以为您提供使用指导。", {"使": True, "质": False}),
        ("支付宝：1-3个工作日到账。", {}),
    ],
)
def test_a_rule_is_written_for_the_state_its_condition_names(sentence: str, states: dict[str, bool]) -> None:
    assert written_for(sentence) == states


@pytest.mark.parametrize(
    ("message", "verb", "state"),
    [
        ("还没发货的话能帮我换一下吗", "发", False),
        ("我想把M码改成L码 还没发吧", "发", False),
        ("显示改不了 好像已经发出来了", "发", True),
        ("快递显示你们仓库签收了", "签", True),
        ("已付款、待发货", "发", False),  # the order's status in the shop's words
        ("已签收", "签", True),
        ("物流要是几天都不更新 多久算异常啊", "更", None),  # 都 before a negation is no "already"
        ("能改地址吗", "发", None),
    ],
)
def test_what_a_customer_says_of_the_state(message: str, verb: str, state: bool | None) -> None:
    assert told(message, verb) is state


def test_a_rule_stands_ahead_of_or_behind_the_customers_stage() -> None:
    shipped = "已发货的订单不能改规格，收到后可以按七天无理由退货。"
    not_yet = "未发货的订单，我们可以帮您改成同价位的其他颜色。"
    assert agreement("还没发货的话能帮我换一下吗", shipped) == Standing(ahead=frozenset({"发"}))
    assert agreement("还没发货的话能帮我换一下吗", not_yet) == Standing(agree=frozenset({"发"}))
    assert agreement("已经发出来了 能换颜色吗", not_yet) == Standing(behind=frozenset({"发"}))
    assert agreement("衣服洗过了还能退吗", "未洗涤未穿着的可以退货。") == Standing(behind=frozenset({"洗"}))
    assert agreement("能换颜色吗", shipped) == Standing()  # the customer said nothing of it


@given(st.text(max_size=200), st.text(max_size=200))
def test_any_text_reads_without_error(message: str, sentence: str) -> None:
    st = agreement(message, sentence)
    assert st.agree | st.ahead | st.behind <= set(written_for(sentence))
    assert not (st.agree & st.ahead or st.agree & st.behind or st.ahead & st.behind)
