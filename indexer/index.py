"""A built index opened for search: its segments (chunks, dense vectors, BM25), names and manifest."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from indexer.chunking import Chunk
from indexer.documents import BASE
from indexer.embedding import Embedder
from indexer.errors import IndexFormatError, ModelMismatchError
from indexer.manifest import FORMAT, MANIFEST, Manifest
from indexer.names import read_names
from indexer.segment import SEGMENTS, Segment, has_segment_files, read_tombstones
from indexer.sparse import SparseIndex, add_words, tokenize
from indexer.store import current_generation
from indexer.summary import SUMMARY, read_summary
from kb import KBSummary

# Candidates fetched beyond k from each segment, so that equal scores at the cut are ordered by chunk id
# whatever the segment layout (an index after updates ranks as a rebuild of the same KB).
_TIE_MARGIN = 8


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float


class LiveChunks(Sequence[Chunk]):
    """The live chunks of every segment, segment by segment, in row order (tests, tools; serving reads hits)."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self._segments = segments
        self._live: list[np.ndarray] | None = None

    def _rows(self) -> list[np.ndarray]:
        if self._live is None:
            self._live = [np.flatnonzero(~s.dead) for s in self._segments]
        return self._live

    def __len__(self) -> int:
        return sum(s.n_live for s in self._segments)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...
    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        for seg, rows in zip(self._segments, self._rows(), strict=True):
            if 0 <= i < len(rows):
                return seg.store[int(rows[i])]
            i -= len(rows)
        raise IndexError("chunk index out of range")

    def __iter__(self) -> Iterator[Chunk]:
        for seg, rows in zip(self._segments, self._rows(), strict=True):
            for r in rows:
                yield seg.store[int(r)]


class Index:
    """Read-only view of one index generation: a base segment and the deltas updates added.

    >>> index = Index.open(Path("~/.local/share/kefu/index"), embedder)
    >>> index.search_dense("尺码偏小能退吗", k=5)
    """

    def __init__(
        self,
        path: Path,
        manifest: Manifest,
        segments: Sequence[Segment],
        embedder: Embedder,
        *,
        names: Mapping[str, tuple[str, ...]],
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.segments = list(segments)
        self.chunks = LiveChunks(self.segments)
        self.sparse = SparseIndex([s.postings for s in self.segments], [s.dead for s in self.segments])
        self.embedder = embedder
        self.names = names
        add_words(self.names)

    @classmethod
    def open(cls, index_dir: Path, embedder: Embedder) -> Index:
        gen = current_generation(index_dir)
        manifest = Manifest.read(gen / MANIFEST)
        check_format(manifest, gen, index_dir)
        check_model(manifest, embedder, index_dir)
        dead = read_tombstones(gen)
        segments = [
            Segment.open(gen / SEGMENTS / name, dead.get(name, np.zeros(0, dtype=np.int64)))
            for name in manifest.segments
        ]
        return cls(gen, manifest, segments, embedder, names=read_names(gen))

    @property
    def generation(self) -> str:
        return self.path.name

    def kb_summary(self, kb_dir: Path) -> KBSummary:
        """The KB version this generation indexed, with the rules and intents of `kb_dir` (indexer/summary.py)."""
        return read_summary(self.path, kb_dir)

    def search_dense(self, query: str, k: int, *, vector: np.ndarray | None = None) -> list[ScoredChunk]:
        vec = vector if vector is not None else self.embedder.embed_query(query)
        found: list[tuple[float, int, int]] = []
        for i, seg in enumerate(self.segments):
            found.extend((s, int_id, i) for int_id, s in seg.dense.search(vec, k + _TIE_MARGIN))
        found.sort(key=lambda t: (-t[0], t[1]))
        out = []
        for s, int_id, i in found[:k]:
            row = self.segments[i].live_row(int_id)
            if row is not None:
                out.append(ScoredChunk(self.segments[i].store[row], s))
        return out

    def knows(self, word: str) -> bool:
        """Whether the KB's text uses this word anywhere (it is in the BM25 vocabulary)."""
        return self.sparse.knows(word.strip().lower())

    def search_sparse(self, query: str, k: int) -> list[ScoredChunk]:
        hits = self.sparse.search(tokenize(query), k + _TIE_MARGIN)
        scored = [ScoredChunk(self.segments[seg].store[row], s) for seg, row, s in hits]
        scored.sort(key=lambda sc: (-sc.score, sc.chunk.int_id))
        return scored[:k]

    def _locate(self, int_id: int) -> tuple[Segment, int] | None:
        for seg in reversed(self.segments):  # a passage moved by an edit lives in the newer segment
            row = seg.live_row(int_id)
            if row is not None:
                return seg, row
        return None

    def document_chunks(self, chunk: Chunk, *, limit: int = 24) -> list[Chunk]:
        """Every passage of `chunk`'s document, in document order (at most `limit` each side of it).

        A segment stores each document's chunks in consecutive rows, so they are read around the chunk's
        own row; a chunk that is not in this generation is returned alone.
        """
        found = self._locate(chunk.int_id)
        if found is None:
            return [chunk]
        seg, row = found
        store = seg.store
        before: list[Chunk] = []
        for r in range(row - 1, max(-1, row - 1 - limit), -1):
            c = store[r]
            if c.doc_id != chunk.doc_id:
                break
            before.append(c)
        after: list[Chunk] = []
        for r in range(row + 1, min(len(store), row + 1 + limit)):
            c = store[r]
            if c.doc_id != chunk.doc_id:
                break
            after.append(c)
        return [*reversed(before), chunk, *after]

    def lead_chunks(self, doc_ids: Iterable[str]) -> list[Chunk]:
        """The first passages of these documents (named ones: see `Index.names`), by document id and position;
        the document table says where they are."""
        out: list[Chunk] = []
        for d in sorted(set(doc_ids)):
            e = self.manifest.documents.get(d)
            if e is not None and e.leads:
                out.extend(self.segments[e.segment].store[r] for r in range(e.row, e.row + e.leads))
        return out


def check_format(manifest: Manifest, gen: Path, index_dir: Path) -> None:
    rebuild = f"`kefu index update --index {index_dir}` rebuilds it (or `kefu index build --index {index_dir}`)"
    if manifest.format != FORMAT:
        raise IndexFormatError(
            f"{gen}: the index has on-disk format {manifest.format}, this kefu reads format {FORMAT}; {rebuild}"
        )
    missing = [name for name in manifest.segments if not has_segment_files(gen / SEGMENTS / name)]
    lacking = [f for f in (SUMMARY, BASE) if not (gen / f).is_file()]
    if missing or lacking:
        what = f"segment files of {', '.join(missing)}" if missing else " and ".join(lacking)
        raise IndexFormatError(f"{gen}: the index lacks its {what}; {rebuild}")


def check_model(manifest: Manifest, embedder: Embedder, index_dir: Path) -> None:
    if manifest.model_id != embedder.model_id:
        raise ModelMismatchError(
            f"{index_dir}: the index was built with model '{manifest.model_name}' ({manifest.model_id}) but the "
            f"configured model is '{embedder.name}' ({embedder.model_id}); rebuild it with "
            f"`kefu index build --index {index_dir}` or set KEFU_EMBEDDING_MODEL back"
        )
