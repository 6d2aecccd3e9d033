"""LangChain adapter: Kefu's hybrid retrieval as a `BaseRetriever`, for users composing their own chains."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.retrieval import HybridRetriever
from indexer.index import Index


class KefuRetriever(BaseRetriever):
    """One `Document` per retrieved KB document (its best chunk), with doc id, title and score in metadata.

    >>> KefuRetriever(index=index, k=3).invoke("衣服尺码偏小能退吗")
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Index
    k: int = 4
    mode: str = "hybrid"

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = int(kwargs.get("k", self.k))
        hits = HybridRetriever(self.index, k=k, mode=self.mode).run(query=query, k=k)
        return [
            Document(
                page_content=h.chunk.text,
                id=h.chunk.chunk_id,
                metadata={
                    "doc_id": h.doc_id,
                    "chunk_id": h.chunk.chunk_id,
                    "title": h.chunk.title,
                    "section": h.chunk.section,
                    "doc_type": h.chunk.doc_type,
                    "score": h.score,
                },
            )
            for h in hits
        ]
