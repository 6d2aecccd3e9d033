"""LangChain's standard retriever tests, on the demo KB with the fake embedder."""

from __future__ import annotations

import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

from langchain_tests.integration_tests import RetrieversIntegrationTests

from assistant.langchain_retriever import KefuRetriever
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import demo_kb_dir, load_kb


class TestKefuRetrieverStandard(RetrieversIntegrationTests):
    @cached_property
    def _index(self) -> Index:
        path = Path(tempfile.mkdtemp(prefix="kefu-lc-"))
        emb = HashingEmbedder()
        build_index(load_kb(demo_kb_dir()), emb, path)
        return Index.open(path, emb)

    @property
    def retriever_constructor(self) -> type[KefuRetriever]:
        return KefuRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"index": self._index}

    @property
    def retriever_query_example(self) -> str:
        return "衣服尺码偏小，签收三天了能退货吗"


def test_documents_carry_doc_ids_and_scores(tiny_kb: Path, tmp_path: Path) -> None:
    emb = HashingEmbedder()
    build_index(load_kb(tiny_kb), emb, tmp_path / "idx")
    docs = KefuRetriever(index=Index.open(tmp_path / "idx", emb), k=2).invoke("QM-HA-0042 功率多少")
    assert docs[0].metadata["doc_id"] == "product-kettle"  # the SKU is an exact-match boost
    assert all(d.metadata["score"] > 0 for d in docs)
