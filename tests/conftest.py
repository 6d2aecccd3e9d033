"""Shared fixtures: a tiny real KB on disk and the fake embedder."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from indexer.embedding import HashingEmbedder

if TYPE_CHECKING:
    from assistant.pipeline import Assistant

TINY_DOCS = {
    "policy/return.md": """\
        ---
        id: policy-return
        title: 无理由退货
        type: policy
        category: after_sale
        tags: [退货]
        ---
        ## 退货条件
        签收后7天内，商品完好可以申请无理由退货。退货运费由买家承担。
        ## 退款到账
        仓库收到退货后48小时内审核，支付宝1-3个工作日到账。
        """,
    "policy/shipping.md": """\
        ---
        id: policy-shipping
        title: 发货说明
        type: policy
        category: pre_sale
        ---
        ## 发货时间
        16:00前付款当天发货，之后次日发货。默认中通快递。
        ## 运费
        满99元包邮，不满99元运费8元。
        """,
    "product/kettle.md": """\
        ---
        id: product-kettle
        title: 不锈钢电热水壶
        type: product
        category: pre_sale
        tags: [电热水壶, 水壶]
        sku: QM-HA-0042
        price: 129
        specs:
          容量: 1.7L
          功率: 1800W
        ---
        ## 简介
        这款电热水壶容量1.7L，304不锈钢内胆。
        ## 保修
        电热水壶整机保修1年，加热元件保修3年。
        """,
    "faq/draft.md": """\
        ---
        id: faq-draft
        title: 草稿问答
        type: faq
        category: general
        status: draft
        ---
        ## 问：草稿
        这是一篇还没发布的草稿，不应被检索到。
        """,
}


def write_kb(root: Path, docs: dict[str, str] | None = None) -> Path:
    for rel, text in (docs or TINY_DOCS).items():
        path = root / "docs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def hashing_assistant(root: Path, docs: dict[str, str]) -> Assistant:
    """An assistant over a KB of `docs` written under `root`, indexed with the fake embedder."""
    from assistant.pipeline import Assistant
    from indexer.builder import build_index
    from indexer.index import Index
    from kb import load_kb

    kb = load_kb(write_kb(root / "kb", docs))
    build_index(kb, HashingEmbedder(), root / "index")
    return Assistant(Index.open(root / "index", HashingEmbedder()), kb, answerable_threshold=0.0)


@pytest.fixture
def tiny_kb(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "kb")


@pytest.fixture
def fake_embedder() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture(scope="session")
def real_model_dir() -> Path:
    """The prepared multilingual-e5-small; `make test` prepares it, so a missing model is a failure."""
    from indexer.settings import IndexerSettings

    path = IndexerSettings().resolved_model_dir()
    if not (path / "modules.json").is_file():
        pytest.fail(f"the embedding model is not prepared at {path}: run `kefu model prepare` (make setup)")
    return path


@pytest.fixture(scope="session")
def real_demo_index(real_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The demo KB indexed with the real model (built once per test session)."""
    from indexer.builder import build_index
    from indexer.embedding import SentenceTransformerEmbedder
    from indexer.index import Index
    from kb import demo_kb_dir, load_kb

    emb = SentenceTransformerEmbedder(real_model_dir)
    path = tmp_path_factory.mktemp("real-index")
    build_index(load_kb(demo_kb_dir()), emb, path)
    return Index.open(path, emb)


# A follow-up script in the KB format (CONTRACTS.md §1), for KBs that draft 回访 (rules.yaml: followup.script).
FOLLOWUP_SCRIPT = {
    "script/follow-up.md": """\
        ---
        id: script-follow-up
        title: 回访话术
        type: script
        category: general
        tags: [回访]
        ---
        ## 售后处理完成后回访
        问题处理完成后主动回访，说明之前处理了什么，再确认结果：「您好，您之前反馈的商品破损问题已经为您补发，想确认一下新的商品收到了吗？」
        ## 服务结束语
        「问题已经为您处理好了，后续有任何疑问随时联系我们，祝您生活愉快。」
        """,
}
