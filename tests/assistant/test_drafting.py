import pytest

from assistant.drafting import to_customer_voice
from assistant.pipeline import Assistant
from indexer.sparse import tokenize


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
