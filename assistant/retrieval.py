"""Hybrid retrieval: dense + BM25 fused by reciprocal rank, one hit per document, exact-name boosts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from indexer.chunking import Chunk
from indexer.index import Index

MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("rrf", "score")


@dataclass(frozen=True)
class Hit:
    """One retrieved document, represented by its best chunk (and a few supporting chunks)."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    exact: bool = False
    extra_chunks: tuple[Chunk, ...] = ()

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id

    def to_dict(self) -> dict[str, object]:
        return {
            "doc_id": self.chunk.doc_id,
            "chunk_id": self.chunk.chunk_id,
            "title": self.chunk.title,
            "text": self.chunk.text,
            "score": round(self.score, 6),
        }


@dataclass(frozen=True)
class Hits:
    query: str
    hits: tuple[Hit, ...]
    top_dense: float  # best cosine of the query against any chunk: the retrieval confidence signal
    dense: Mapping[str, float] = field(default_factory=dict)  # chunk id → cosine, for the chunks searched

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def doc_ids(self) -> list[str]:
        return [h.doc_id for h in self.hits]


_SPACE = re.compile(r"\s+")


class HybridRetriever:
    """Dense + BM25 over one index, fused by reciprocal rank, deduplicated per document.

    >>> hits = HybridRetriever(index, k=5).run(query="尺码不对能退吗")
    """

    def __init__(
        self,
        index: Index,
        *,
        k: int = 5,
        mode: str = "hybrid",
        depth: int = 40,
        rrf_k: int = 60,
        dense_weight: float = 1.0,
        bm25_weight: float = 1.0,
        exact_boost: float = 0.02,
        doc_types: tuple[str, ...] | None = None,
        category_boost: float = 0.004,
        script_weight: float = 0.7,
        fusion: str = "rrf",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        self.index = index
        self.k = k
        self.mode = mode
        self.depth = depth
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.bm25_weight = bm25_weight
        self.exact_boost = exact_boost
        self.doc_types = doc_types
        self.category_boost = category_boost
        self.script_weight = script_weight
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; use one of {', '.join(FUSIONS)}")
        self.fusion = fusion
        self._longest_name = max((len(n) for n in index.names), default=0)

    def warm_up(self) -> None:
        self.index.embedder.embed_query("warm up")

    def _score_fusion(self, dense_s: dict[str, float], bm25_s: dict[str, float]) -> dict[str, float]:
        """Min-max normalised scores, weighted and summed, scaled to RRF's range so the boosts mean the same."""

        def norm(scores: dict[str, float]) -> dict[str, float]:
            if not scores:
                return {}
            lo, hi = min(scores.values()), max(scores.values())
            return {k: (v - lo) / (hi - lo) if hi > lo else 1.0 for k, v in scores.items()}

        d, b = norm(dense_s), norm(bm25_s)
        scale = 1.0 / (self.rrf_k + 1)
        return {
            cid: scale * (self.dense_weight * d.get(cid, 0.0) + self.bm25_weight * b.get(cid, 0.0))
            for cid in set(d) | set(b)
        }

    def _exact_docs(self, query: str) -> set[str]:
        # Look up the query's substrings rather than test every name: the cost no longer grows with the KB
        # (a 1M-chunk KB has ~50k SKUs as names).
        q = _SPACE.sub("", query.lower())
        names = self.index.names
        found = {
            q[i:j]
            for i in range(len(q))
            for j in range(i + 1, min(len(q), i + self._longest_name) + 1)
            if q[i:j] in names
        }
        return {d for name in found for d in names[name]}

    def run(
        self,
        *,
        query: str,
        k: int | None = None,
        hint: str = "",
        prefer_category: str | None = None,
        vector: np.ndarray | None = None,
    ) -> Hits:
        """Retrieve; `hint` adds words to the BM25 query (e.g. the intent's description), `prefer_category`
        gives a small bonus to chunks of that stage, `vector` reuses an already computed query embedding."""
        k = k or self.k
        depth = max(self.depth, k * 4)
        fused: dict[str, float] = {}
        dense_s: dict[str, float] = {}
        bm25_s: dict[str, float] = {}
        chunks: dict[str, Chunk] = {}
        top_dense = 0.0
        if self.mode in ("hybrid", "dense"):
            dense = self.index.search_dense(query, depth, vector=vector)
            top_dense = dense[0].score if dense else 0.0
            for rank, sc in enumerate(dense):
                cid = sc.chunk.chunk_id
                chunks[cid] = sc.chunk
                dense_s[cid] = sc.score
                fused[cid] = fused.get(cid, 0.0) + self.dense_weight / (self.rrf_k + rank + 1)
        if self.mode in ("hybrid", "bm25"):
            for rank, sc in enumerate(self.index.search_sparse(f"{query} {hint}".strip(), depth)):
                cid = sc.chunk.chunk_id
                chunks[cid] = sc.chunk
                bm25_s[cid] = sc.score
                fused[cid] = fused.get(cid, 0.0) + self.bm25_weight / (self.rrf_k + rank + 1)
        if self.fusion == "score" and self.mode == "hybrid":
            fused = self._score_fusion(dense_s, bm25_s)
        exact = self._exact_docs(query)
        for cid, c in chunks.items():
            if c.doc_id in exact:
                fused[cid] += self.exact_boost
            if prefer_category and c.category == prefer_category:
                fused[cid] += self.category_boost
            if c.doc_type == "script":  # approved phrasing, not facts: ranks below documents that answer
                fused[cid] *= self.script_weight
        if self.mode == "hybrid" and exact:
            # An exact product name or SKU: make sure that document is among the candidates.
            for c in self.index.lead_chunks(exact):
                if c.chunk_id not in fused:
                    chunks[c.chunk_id] = c
                    fused[c.chunk_id] = self.exact_boost
        by_doc: dict[str, list[str]] = {}
        for cid in sorted(fused, key=lambda x: -fused[x]):
            c = chunks[cid]
            if self.doc_types and c.doc_type not in self.doc_types:
                continue
            by_doc.setdefault(c.doc_id, []).append(cid)
        hits = []
        for doc_id, cids in list(by_doc.items())[:k]:
            best = cids[0]
            hits.append(
                Hit(
                    chunk=chunks[best],
                    score=fused[best],
                    dense_score=dense_s.get(best),
                    bm25_score=bm25_s.get(best),
                    exact=doc_id in exact,
                    extra_chunks=tuple(chunks[c] for c in cids[1:3]),
                )
            )
        return Hits(query=query, hits=tuple(hits), top_dense=top_dense, dense=dense_s)
