from pathlib import Path

import pytest

from assistant.retrieval import HybridRetriever
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import load_kb


@pytest.fixture
def tiny_index(tiny_kb: Path, tmp_path: Path) -> Index:
    emb = HashingEmbedder()
    build_index(load_kb(tiny_kb), emb, tmp_path / "idx")
    return Index.open(tmp_path / "idx", emb)


def test_one_hit_per_document_and_only_published(tiny_index: Index) -> None:
    hits = HybridRetriever(tiny_index, k=10).run(query="退货 运费 发货 草稿")
    assert len(hits.doc_ids) == len(set(hits.doc_ids))
    assert "faq-draft" not in hits.doc_ids


@pytest.mark.parametrize("query", ["QM-HA-0042", "qm-ha-0042 多少钱", "电热水壶"])
def test_exact_names_and_skus_come_first(tiny_index: Index, query: str) -> None:
    assert HybridRetriever(tiny_index, k=3).run(query=query).doc_ids[0] == "product-kettle"


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_every_mode_finds_the_answer(tiny_index: Index, mode: str) -> None:
    assert "policy-shipping" in HybridRetriever(tiny_index, k=2, mode=mode).run(query="满99元包邮吗").doc_ids


def test_bad_arguments_are_refused(tiny_index: Index) -> None:
    with pytest.raises(ValueError, match="mode"):
        HybridRetriever(tiny_index, mode="magic")
    with pytest.raises(ValueError, match="k must"):
        HybridRetriever(tiny_index, k=0)


@pytest.mark.model
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("退回去的钱多久能到支付宝", "policy-refund-timeline"),
        ("快递好几天没更新了是不是丢了", "policy-logistics-exception"),
        ("发票抬头写错了能换开吗", "policy-invoice"),
        ("车厘子收到好多烂的", "policy-fresh-food|product-cherry"),
        ("空气炸锅能做蛋糕吗", "product-air-fryer"),
        ("金卡会员生日有什么福利", "policy-membership"),
        ("店铺券和平台券能一起用吗", "policy-coupon"),
        ("口红拆开试了一下能退吗", "policy-return-exclusions"),
        ("地址填错了还没发货能改吗", "policy-order-modify"),
        ("买完第二天就降价了能补差价吗", "policy-price-protection"),
    ],
)
def test_real_model_hybrid_retrieval(real_demo_index: Index, query: str, expected: str) -> None:
    found = HybridRetriever(real_demo_index, k=5).run(query=query).doc_ids
    assert set(expected.split("|")) & set(found), found
