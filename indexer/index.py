"""A built index opened for search: chunks, dense vectors, BM25 and the manifest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.chunking import Chunk
from indexer.chunkstore import STORE_FILES, ChunkStore, has_chunk_store, read_names
from indexer.dense import DenseIndex
from indexer.embedding import Embedder
from indexer.errors import IndexFormatError, ModelMismatchError
from indexer.manifest import FORMAT, Manifest
from indexer.sparse import SparseIndex, add_words, tokenize
from indexer.store import current_generation


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
        chunks: ChunkStore,
        dense: DenseIndex,
        sparse: SparseIndex,
        embedder: Embedder,
        *,
        names: Mapping[str, tuple[str, ...]],
        leads: Mapping[str, tuple[int, ...]],
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.chunks = chunks
        self.dense = dense
        self.sparse = sparse
        self.embedder = embedder
        self.names = names
        self._leads = leads
        add_words(self.names)

    @classmethod
    def open(cls, index_dir: Path, embedder: Embedder) -> Index:
        gen = current_generation(index_dir)
        manifest = Manifest.read(gen / "manifest.json", chunk_ids=False)
        check_format(manifest, gen, index_dir)
        check_model(manifest, embedder, index_dir)
        chunks = ChunkStore.open(gen)
        names, leads = read_names(gen)
        dense = DenseIndex.load(gen / "dense.faiss", mmap=True)
        sparse = SparseIndex.load(gen / "bm25", len(chunks))
        return cls(gen, manifest, chunks, dense, sparse, embedder, names=names, leads=leads)

    @property
    def generation(self) -> str:
        return self.path.name

    def search_dense(self, query: str, k: int, *, vector: np.ndarray | None = None) -> list[ScoredChunk]:
        vec = vector if vector is not None else self.embedder.embed_query(query)
        rows = [(self.chunks.row_of(i), s) for i, s in self.dense.search(vec, k)]
        return [ScoredChunk(self.chunks[row], s) for row, s in rows if row is not None]

    def knows(self, word: str) -> bool:
        """Whether the KB's text uses this word anywhere (it is in the BM25 vocabulary)."""
        return self.sparse.knows(word.strip().lower())

    def search_sparse(self, query: str, k: int) -> list[ScoredChunk]:
        return [ScoredChunk(self.chunks[row], s) for row, s in self.sparse.search(tokenize(query), k)]

    def document_chunks(self, chunk: Chunk, *, limit: int = 24) -> list[Chunk]:
        """Every passage of `chunk`'s document, in document order (at most `limit` each side of it).

        A generation stores each document's chunks in consecutive rows, so they are read around the chunk's
        own row; a chunk that is not in this generation is returned alone.
        """
        row = self.chunks.row_of(chunk.int_id)
        if row is None:
            return [chunk]
        before: list[Chunk] = []
        for r in range(row - 1, max(-1, row - 1 - limit), -1):
            c = self.chunks[r]
            if c.doc_id != chunk.doc_id:
                break
            before.append(c)
        after: list[Chunk] = []
        for r in range(row + 1, min(len(self.chunks), row + 1 + limit)):
            c = self.chunks[r]
            if c.doc_id != chunk.doc_id:
                break
            after.append(c)
        return [*reversed(before), chunk, *after]

    def lead_chunks(self, doc_ids: Iterable[str]) -> list[Chunk]:
        """The first passages of these named documents (see `Index.names`), in index order."""
        return [self.chunks[row] for row in sorted(row for d in doc_ids for row in self._leads.get(d, ()))]


def check_format(manifest: Manifest, gen: Path, index_dir: Path) -> None:
    rebuild = f"rebuild it with `kefu index build --index {index_dir}`"
    if manifest.format != FORMAT:
        raise IndexFormatError(
            f"{gen}: the index has on-disk format {manifest.format}, this kefu reads format {FORMAT}; {rebuild}"
        )
    if not has_chunk_store(gen):
        raise IndexFormatError(f"{gen}: the index lacks its chunk store files ({', '.join(STORE_FILES)}); {rebuild}")


def check_model(manifest: Manifest, embedder: Embedder, index_dir: Path) -> None:
    if manifest.model_id != embedder.model_id:
        raise ModelMismatchError(
            f"{index_dir}: the index was built with model '{manifest.model_name}' ({manifest.model_id}) but the "
            f"configured model is '{embedder.name}' ({embedder.model_id}); rebuild it with "
            f"`kefu index build --index {index_dir}` or set KEFU_EMBEDDING_MODEL back"
        )
