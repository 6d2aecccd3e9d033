"""The chunks of one index segment, read from disk on demand.

    chunks.jsonl         one JSON object per chunk, in row order (BM25 rows are positions in it)
    chunks.offsets.npy   byte offset of each line, plus the file's length (n + 1 int64)
    chunks.ids.npy       the chunks' 63-bit ids (FAISS ids), sorted, and the row of each: shape (2, n)

A serving process reads these files instead of holding a million `Chunk` objects (4.8 GB at 1M chunks with
everything else): a search materialises only the chunks it returns. Lines are read with `pread`, not through
a memory map: mapped pages a search touches (with the kernel's read-around, ~200 MB after 200 queries at 1M)
would count in the process's resident memory, while the page cache does not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from indexer.chunking import Chunk

CHUNKS = "chunks.jsonl"
OFFSETS = "chunks.offsets.npy"
IDS = "chunks.ids.npy"
STORE_FILES = (CHUNKS, OFFSETS, IDS)


def write_chunks(gen: Path, chunks: Sequence[Chunk]) -> None:
    """Write the chunk files of a generation (see the module docstring)."""
    offsets = np.zeros(len(chunks) + 1, dtype=np.int64)
    with open(gen / CHUNKS, "wb") as fh:
        for row, c in enumerate(chunks):
            line = (json.dumps(c.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            offsets[row + 1] = offsets[row] + len(line)
    np.save(gen / OFFSETS, offsets)
    int_ids = np.fromiter((c.int_id for c in chunks), dtype=np.int64, count=len(chunks))
    order = np.argsort(int_ids, kind="stable")
    np.save(gen / IDS, np.stack([int_ids[order], order.astype(np.int64)]))


def read_chunks(gen: Path) -> list[Chunk]:
    """Every chunk of a segment as objects (tests, tools), not for serving."""
    with open(gen / CHUNKS, encoding="utf-8") as fh:
        return [Chunk.from_dict(json.loads(line)) for line in fh if line.strip()]


def has_chunk_store(gen: Path) -> bool:
    return all((gen / name).is_file() for name in STORE_FILES)


class ChunkStore(Sequence[Chunk]):
    """Read-only sequence of a generation's chunks; `store[row]` reads and parses one line.

    >>> store = ChunkStore.open(gen)
    >>> store[12].text, store.by_int_id(0x3A...)
    """

    def __init__(self, fd: int, offsets: np.ndarray, ids: np.ndarray) -> None:
        self._fd = fd
        self._offsets = offsets
        self._sorted_ids = ids[0]
        self._rows = ids[1]

    @classmethod
    def open(cls, gen: Path) -> ChunkStore:
        offsets = np.load(gen / OFFSETS, mmap_mode="r")
        ids = np.load(gen / IDS, mmap_mode="r")
        return cls(os.open(gen / CHUNKS, os.O_RDONLY), offsets, ids)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", -1)
        if fd >= 0:
            os.close(fd)
            self._fd = -1

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, row: int) -> Chunk: ...
    @overload
    def __getitem__(self, row: slice) -> list[Chunk]: ...
    def __getitem__(self, row: int | slice) -> Chunk | list[Chunk]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        n = len(self)
        if row < 0:
            row += n
        if not 0 <= row < n:
            raise IndexError(f"chunk row {row} out of range (0..{n - 1})")
        start, end = int(self._offsets[row]), int(self._offsets[row + 1])
        return Chunk.from_dict(json.loads(os.pread(self._fd, end - start, start)))

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))

    def row_of(self, int_id: int) -> int | None:
        """The row of the chunk with this FAISS id, or None when no chunk has it."""
        i = int(np.searchsorted(self._sorted_ids, int_id))
        if i < len(self._sorted_ids) and int(self._sorted_ids[i]) == int_id:
            return int(self._rows[i])
        return None

    def ids_by_row(self) -> np.ndarray:
        """The FAISS id of every row, in row order."""
        out = np.empty(len(self._rows), dtype=np.int64)
        out[np.asarray(self._rows)] = self._sorted_ids
        return out

    def by_int_id(self, int_id: int) -> Chunk | None:
        row = self.row_of(int_id)
        return None if row is None else self[row]
