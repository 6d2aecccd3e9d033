import copy
from typing import Any

import pytest

from assistant.drafting import Plan, TemplateDrafter, to_customer_voice
from assistant.guard import Guard
from assistant.pipeline import Assistant
from indexer.sparse import tokenize
from kb.loader import default_rules_data, parse_rules
from kb.rules import Rules


def test_kb_voice_becomes_customer_voice() -> None:
    assert to_customer_voice("**答：** 运费由买家承担；") == "运费由您承担。"
    assert to_customer_voice("客服会在24小时内回复") == "我们会在24小时内回复"
    assert (
        to_customer_voice("第二十条 销售者应当自收到退回商品之日起七日内返还价款。")
        == "销售者应当自收到退回商品之日起七日内返还价款。"
    )


@pytest.mark.parametrize("query", ["衣服尺码偏小能退吗", "退货运费谁出", "空气炸锅温度能调多高", "发票怎么开"])
def test_evidence_relevance_matches_segmenting_every_sentence(demo_assistant: Assistant, query: str) -> None:
    """The substring pre-filter and the per-sentence cache give what segmenting each sentence would."""
    hits = list(demo_assistant.retriever.run(query=query))
    first = demo_assistant.template.evidence(hits, query, ())
    q_tokens = set(tokenize(query))
    assert first, "the demo KB answers these questions"
    for _, part in first:
        assert part.relevant == bool(q_tokens & set(tokenize(part.text))), part.text
    again = demo_assistant.template.evidence(hits, query, ())  # from the cache this time
    assert [(s, p.text, p.relevant) for s, p in again] == [(s, p.text, p.relevant) for s, p in first]


def _plan(rules: Rules, intent: str, **kw: Any) -> Plan:
    args: dict[str, Any] = {
        "intent": intent,
        "intent_description": "",
        "confidence": 0.9,
        "emotion": "calm",
        "query": "杯子有裂缝",
        "hits": [],
        "intent_keywords": (),
        "context": None,
        "seed": "s",
    }
    return TemplateDrafter(Guard(rules), rules).plan(**{**args, **kw})


def test_what_an_intent_asks_for_comes_from_the_kb() -> None:
    shipped = parse_rules(default_rules_data())
    assert _plan(shipped, "quality_issue").ask == shipped.phrasing.ask_order_number_and_photos
    assert _plan(shipped, "product_info").ask is None
    data = copy.deepcopy(default_rules_data())
    data["intent_behaviour"]["quality_issue"] = {"ask_order_number": True}  # this shop needs no photos
    data["intent_behaviour"]["product_info"] = {"ask_photos": True}
    changed = parse_rules(data)
    assert _plan(changed, "quality_issue").ask == changed.phrasing.ask_order_number
    assert _plan(changed, "product_info").ask == changed.phrasing.ask_photos
    with_order = {"order": {"order_id": "[订单1]"}}
    assert _plan(changed, "quality_issue", context=with_order).ask is None


def test_openers_closes_and_holding_replies_come_from_the_kb() -> None:
    data = copy.deepcopy(default_rules_data())
    data["phrasing"]["openers"]["calm"] = {"*": ["您好呀～"]}
    data["phrasing"]["closes"] = ["祝您生活愉快！"]
    safety = next(r for r in data["handoff"]["reasons"] if r["code"] == "safety")
    safety["holding"] = "请您先停用，我们的安全专员马上联系您。"
    plan = _plan(parse_rules(data), "quality_issue", holding_reason="safety")
    assert (plan.opener, plan.close, plan.holding) == ("您好呀～", "祝您生活愉快！", safety["holding"])
