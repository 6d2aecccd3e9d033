"""Time the customer says has passed, against the time limits of the KB's sentences."""

from __future__ import annotations

import pytest

from assistant.elapsed import Limit, elapsed_hours, limits


@pytest.mark.parametrize(
    ("message", "hours"),
    [
        ("物流一直显示在中转站 都两天了", 48.0),
        ("20天前吧 [订单7]", 480.0),
        ("说两天到 现在都一周了还没到", 168.0),  # 两天到 is what was promised, 一周了 what has passed
        ("退款显示已发起一个多星期了", 168.0),
        ("快递显示前天仓库就签收了", 48.0),
        ("电饭煲用了3个月 现在不加热了", 2160.0),
        ("等了半天了", 12.0),
        ("空调用了一年半了 制冷越来越差", 13140.0),
        ("排队一个半小时了", 1.5),
        ("买了两件 只收到一条裤子", None),  # a count, not a time
        ("说是2-4天送达", None),  # a promise, not time that has passed
        ("能退吗", None),
    ],
)
def test_the_time_a_customer_says_has_passed(message: str, hours: float | None) -> None:
    assert elapsed_hours(message) == hours


@pytest.mark.parametrize(
    ("sentence", "found"),
    [
        ("包裹的物流信息超过48小时没有更新时，客服会联系快递公司。", (Limit(48.0, beyond=True),)),
        ("物流信息7天没有更新的，可以选择补发。", (Limit(168.0, beyond=True),)),
        ("签收后7天内可以退货，签收后15天内可以换货。", (Limit(168.0, beyond=False), Limit(360.0, beyond=False))),
        ("偏远地区3-7天内送达。", (Limit(168.0, beyond=False),)),  # a range: its upper bound
        ("普通订单承诺发货后2-4天送达。", ()),  # a promise of time, not a limit
        ("整机1年免费保修。", ()),
    ],
)
def test_the_time_limits_a_sentence_states(sentence: str, found: tuple[Limit, ...]) -> None:
    assert limits(sentence) == found


def test_a_limit_applies_once_reached_or_while_within() -> None:
    beyond, within = Limit(48.0, beyond=True), Limit(360.0, beyond=False)
    assert beyond.applies(48.0) and beyond.applies(72.0) and not beyond.applies(24.0)
    assert within.applies(48.0) and within.applies(360.0) and not within.applies(480.0)
