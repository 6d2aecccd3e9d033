"""Personal data in chat lines is replaced by tokens; order numbers, prices and dates are kept."""

import pytest

from assistant.service.masking import mask_pii


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("我的手机号是13812345678，麻烦尽快联系我", "我的手机号是[手机号]，麻烦尽快联系我"),
        ("电话138-1234-5678，白天都在", "电话[手机号]，白天都在"),
        ("换个号码吧 +86 139 0000 1234", "换个号码吧 [手机号]"),
        ("联系人王女士 8615912345678", "联系人王女士 [手机号]"),
        ("手机１３８１２３４５６７８", "手机[手机号]"),
        ("座机0571-88886666，下午打", "座机[电话]，下午打"),
        ("公司电话(010)62345678", "公司电话[电话]"),
        ("身份证号110101199003071234，用于清关", "身份证号[身份证号]，用于清关"),
        ("身份证11010119900307123X", "身份证[身份证号]"),
        ("退款打到这张卡6222021234567890123", "退款打到这张卡[银行卡号]"),
        ("卡号 6222 0212 3456 7890", "卡号 [银行卡号]"),
        ("发票发到zhang.san+fp@163.com谢谢", "发票发到[邮箱]谢谢"),
        ("邮箱13812345678@qq.com", "邮箱[邮箱]"),
        (
            "寄到浙江省杭州市西湖区文三路123号4栋2单元501室，麻烦尽快发货",
            "寄到[地址]，麻烦尽快发货",
        ),
        ("收货地址：广东省深圳市南山区科技园南区深南大道10000号", "收货地址：[地址]"),
        ("我在上海市浦东新区张江路88号上班，白天能收", "我在[地址]上班，白天能收"),
        ("地址改成北京市朝阳区建国路88号SOHO现代城5号楼1203", "地址改成[地址]"),
        ("寄到成都市武侯区人民南路四段9号", "寄到[地址]"),
        ("我住阳光小区5栋2单元301", "我住[地址]"),
        ("上海市长宁区愚园路123弄5号", "[地址]"),
        ("河南省周口市太康县逊母口镇王庄村3组15号", "[地址]"),
        (
            "订单号20261101123456的收件人电话13812345678，地址杭州市滨江区江南大道588号",
            "订单号20261101123456的收件人电话[手机号]，地址[地址]",
        ),
    ],
)
def test_personal_data_is_masked(line: str, masked: str) -> None:
    assert mask_pii(line) == masked


@pytest.mark.parametrize(
    "line",
    [
        "订单号20261101123456还没发货",
        "我想退货，订单20261101123456789",
        "订单号：3456789012345678901 显示已签收",
        "快递单号SF1234567890123一直没更新",
        "运单号 731234567890123456 到哪了",
        "客服热线400-820-8820",
        "2026-11-01 12:30下单的，满99元包邮吗",
        "电热水壶1.7L 1800W，129元，保修1年",
        "我去超市买了3号电池",
        "我知道12号能到",
        "SKU QM-HA-0042 还有货吗",
    ],
)
def test_order_numbers_prices_and_dates_are_kept(line: str) -> None:
    assert mask_pii(line) == line


def test_unlabelled_long_digit_run_is_masked_as_a_card() -> None:
    # Without 订单/单号 in front, 16-19 digits may be a card: masking wins over keeping an order number.
    assert mask_pii("3456789012345678901") == "[银行卡号]"


@pytest.mark.parametrize(
    "line", ["电话13812345678，寄到浙江省杭州市西湖区文三路123号4栋501室", "身份证110101199003071234"]
)
def test_masking_twice_changes_nothing(line: str) -> None:
    once = mask_pii(line)
    assert mask_pii(once) == once
