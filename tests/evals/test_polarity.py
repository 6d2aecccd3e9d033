import pytest

from evals.polarity import reply_polarity


@pytest.mark.parametrize(
    ("text", "stance"),
    [
        ("您好，这款支持7天无理由退货。", "yes"),
        ("您好，这款不支持7天无理由退货，因为是定制商品。", "no"),  # not the 支持 inside 不支持
        ("亲，可以的，签收后7天内都能申请。", "yes"),
        ("非常理解您的心情。生鲜商品无法享受7天无理由退货。", "no"),  # the empathy opener is skipped
        ("抱歉让您久等了，这个优惠券不能和满减叠加使用。", "no"),
        ("您好，我们默认包邮，偏远地区除外。", "yes"),
        ("您好，这款不包邮哦。", "no"),
        ("您好，这款精华不含酒精，敏感肌可以使用。", "no"),  # the stance on 有没有酒精
        ("您好，特价商品不参与价保。", "no"),
        ("好的，可以帮您改地址。", "yes"),
        ("您好，有的，M码和L码都有现货。", "yes"),
        ("您好，有什么可以帮您？", None),  # a phrase with a cue word that takes no stance
        ("好的，我帮您查一下物流。", None),
        ("您好，预计3天内发货。", None),  # a stance given only by a date is not read
        ("没问题，给您备注了。", "yes"),
        ("您好，这个可能要看具体情况。", None),
        ("您好，不要装牛奶和果汁，可以装热水和茶。", "no"),  # a caution answers 能装牛奶吗
        ("您好，要不要帮您备注一下？", None),
    ],
)
def test_reply_polarity(text: str, stance: str | None) -> None:
    assert reply_polarity(text) == stance
