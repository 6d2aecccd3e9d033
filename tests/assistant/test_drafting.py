from assistant.drafting import to_customer_voice


def test_kb_voice_becomes_customer_voice() -> None:
    assert to_customer_voice("**答：** 运费由买家承担；") == "运费由您承担。"
    assert to_customer_voice("客服会在24小时内回复") == "我们会在24小时内回复"
    assert (
        to_customer_voice("第二十条 销售者应当自收到退回商品之日起七日内返还价款。")
        == "销售者应当自收到退回商品之日起七日内返还价款。"
    )
