"""An index segment: an immutable set of passages with their vectors and BM25 postings.

    SEG/chunks.jsonl, chunks.offsets.npy, chunks.ids.npy   the passages (indexer/chunkstore.py)
    SEG/dense.faiss                                         their vectors (indexer/dense.py)
    SEG/bm25/                                               their postings and tokens (indexer/sparse.py)
    SEG/segment.json                                        {"rows": n, "dense": "flat" or "hnsw"}

A generation lists its segments, oldest (the base) first, and which of their rows are dead (tombstones: a
changed or removed document). An update writes one small segment for the documents it added or changed and
hard-links the others into the new generation, so it costs what the edit costs, not what the KB costs.
Segments are never modified after they are written.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from indexer.chunking import Chunk
from indexer.chunkstore import STORE_FILES, ChunkStore, write_chunks
from indexer.dense import DenseIndex
from indexer.sparse import Postings

SEGMENTS = "segments"
DENSE = "dense.faiss"
BM25 = "bm25"
TOMBSTONES = "tombstones.npz"
META = "segment.json"


def new_segment_name() -> str:
    return f"seg-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"


def write_segment(
    path: Path, chunks: Sequence[Chunk], vectors: np.ndarray, tokens: Sequence[Sequence[str]], *, flat_threshold: int
) -> None:
    """Write a segment of `chunks` (their vectors and BM25 tokens aligned with them) into a new folder."""
    path.mkdir(parents=True)
    write_chunks(path, chunks)
    dense = DenseIndex.for_size(vectors.shape[1], len(chunks), flat_threshold=flat_threshold)
    dense.add(np.fromiter((c.int_id for c in chunks), dtype=np.int64, count=len(chunks)), vectors)
    dense.save(path / DENSE)
    Postings.from_tokens(tokens).save(path / BM25)
    (path / META).write_text(json.dumps({"rows": len(chunks), "dense": dense.kind}), encoding="utf-8")


def dense_kind(path: Path) -> str:
    """Whether segment `path` keeps exact vectors ("flat") or 8-bit codes ("hnsw"), without loading them."""
    return str(json.loads((path / META).read_text(encoding="utf-8"))["dense"])


def link_segment(src: Path, dst: Path) -> None:
    """Make segment `src` (of the live generation) part of a new one: hard links, a copy where they fail."""
    for f in src.rglob("*"):
        target = dst / f.relative_to(src)
        if f.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f, target)
        except OSError:
            shutil.copy2(f, target)


def has_segment_files(path: Path) -> bool:
    return all((path / f).is_file() for f in (*STORE_FILES, DENSE, META)) and (path / BM25 / "vocab.json").is_file()


class Segment:
    """One segment opened for reading, with the rows that are dead in the generation that opened it."""

    def __init__(self, name: str, store: ChunkStore, dense: DenseIndex, postings: Postings, dead: np.ndarray):
        self.name = name
        self.store = store
        self.dense = dense
        self.postings = postings
        self.dead = dead  # boolean, one per row
        self._ids_by_row: np.ndarray | None = None
        if dead.any():
            self.dense.tombstones = {int(i) for i in self.ids_by_row[dead]}

    @classmethod
    def open(cls, path: Path, dead_rows: np.ndarray, *, mmap: bool = True) -> Segment:
        store = ChunkStore.open(path)
        dead = np.zeros(len(store), dtype=bool)
        dead[dead_rows] = True
        return cls(path.name, store, DenseIndex.load(path / DENSE, mmap=mmap), Postings.load(path / BM25), dead)

    @property
    def ids_by_row(self) -> np.ndarray:
        if self._ids_by_row is None:
            self._ids_by_row = self.store.ids_by_row()
        return self._ids_by_row

    @property
    def n_live(self) -> int:
        return len(self.store) - int(self.dead.sum())

    def live_row(self, int_id: int) -> int | None:
        row = self.store.row_of(int_id)
        return None if row is None or self.dead[row] else row


def read_tombstones(gen: Path) -> dict[str, np.ndarray]:
    """Dead rows per segment name."""
    path = gen / TOMBSTONES
    if not path.is_file():
        return {}
    with np.load(path) as data:
        return {name: np.asarray(data[name], dtype=np.int64) for name in data.files}


def write_tombstones(gen: Path, dead: dict[str, np.ndarray]) -> None:
    arrays: dict[str, Any] = {name: np.asarray(rows, dtype=np.int64) for name, rows in dead.items() if len(rows)}
    np.savez(gen / TOMBSTONES, **arrays)
