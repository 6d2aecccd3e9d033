"""A built index opened for search: chunks, dense vectors, BM25 and the manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.chunking import Chunk
from indexer.dense import DenseIndex
from indexer.embedding import Embedder
from indexer.errors import ModelMismatchError
from indexer.manifest import Manifest
from indexer.sparse import SparseIndex, add_words, tokenize
from indexer.store import current_generation


def exact_names(chunks: list[Chunk]) -> dict[str, set[str]]:
    """Names a user may type to mean one document: SKUs, and tags or titles specific to one or two docs."""
    by_tag: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for c in chunks:
        for t in c.tags:
            if len(t) >= 2:
                by_tag.setdefault(t.lower(), set()).add(c.doc_id)
        if c.sku:
            names.setdefault(c.sku.lower(), set()).add(c.doc_id)
    for tag, docs in by_tag.items():
        if len(docs) <= 2:
            names.setdefault(tag, set()).update(docs)
    return names


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float


class Index:
    """Read-only view of one index generation.

    >>> index = Index.open(Path("~/.local/share/kefu/index"), embedder)
    >>> index.search_dense("尺码偏小能退吗", k=5)
    """

    def __init__(
        self,
        path: Path,
        manifest: Manifest,
        chunks: list[Chunk],
        dense: DenseIndex,
        sparse: SparseIndex,
        embedder: Embedder,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.chunks = chunks
        self.dense = dense
        self.sparse = sparse
        self.embedder = embedder
        self.by_int_id = {c.int_id: c for c in chunks}
        self.names = exact_names(chunks)
        add_words(self.names)

    @classmethod
    def open(cls, index_dir: Path, embedder: Embedder) -> Index:
        gen = current_generation(index_dir)
        manifest = Manifest.read(gen / "manifest.json")
        check_model(manifest, embedder, index_dir)
        chunks = [
            Chunk.from_dict(json.loads(line))
            for line in (gen / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        dense = DenseIndex.load(gen / "dense.faiss")
        sparse = SparseIndex.load(gen / "bm25", len(chunks))
        return cls(gen, manifest, chunks, dense, sparse, embedder)

    @property
    def generation(self) -> str:
        return self.path.name

    def search_dense(self, query: str, k: int, *, vector: np.ndarray | None = None) -> list[ScoredChunk]:
        vec = vector if vector is not None else self.embedder.embed_query(query)
        return [ScoredChunk(self.by_int_id[i], s) for i, s in self.dense.search(vec, k) if i in self.by_int_id]

    def search_sparse(self, query: str, k: int) -> list[ScoredChunk]:
        return [ScoredChunk(self.chunks[row], s) for row, s in self.sparse.search(tokenize(query), k)]


def check_model(manifest: Manifest, embedder: Embedder, index_dir: Path) -> None:
    if manifest.model_id != embedder.model_id:
        raise ModelMismatchError(
            f"{index_dir}: the index was built with model '{manifest.model_name}' ({manifest.model_id}) but the "
            f"configured model is '{embedder.name}' ({embedder.model_id}); rebuild it with "
            f"`kefu index build --index {index_dir}` or set KEFU_EMBEDDING_MODEL back"
        )
