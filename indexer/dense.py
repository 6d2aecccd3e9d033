"""Dense vector index on FAISS: exact inner product when small, HNSW (8-bit) when large."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np

faiss: Any = _faiss  # the bundled type stubs describe the C++ overloads wrongly for Python callers


class DenseIndex:
    """Cosine search over normalised vectors, keyed by 63-bit chunk ids.

    Below `flat_threshold` vectors the index is exact (IndexFlatIP) and deletion removes vectors.
    Above it, HNSW over 8-bit scalar-quantised vectors keeps search fast and memory small; HNSW cannot
    delete, so removed ids become tombstones that searches skip until the next full build.
    """

    def __init__(self, dim: int, *, kind: str = "flat", hnsw_m: int = 32, ef_search: int = 96) -> None:
        if kind not in ("flat", "hnsw"):
            raise ValueError(f"unknown dense index kind {kind!r}; use 'flat' or 'hnsw'")
        self.dim = dim
        self.kind = kind
        self.ef_search = ef_search
        inner: faiss.Index
        if kind == "flat":
            inner = faiss.IndexFlatIP(dim)
        else:
            inner = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = ef_search
        self._index: faiss.Index = faiss.IndexIDMap2(inner)
        self.tombstones: set[int] = set()

    @classmethod
    def for_size(cls, dim: int, n: int, *, flat_threshold: int) -> DenseIndex:
        return cls(dim, kind="flat" if n < flat_threshold else "hnsw")

    @property
    def size(self) -> int:
        return int(self._index.ntotal) - len(self.tombstones)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have dimension {vectors.shape[1]}, the index {self.dim}")
        inner = faiss.downcast_index(self._index.index)
        if self.kind == "hnsw" and not inner.is_trained:
            inner.train(vectors)
        ids64 = np.ascontiguousarray(ids, dtype=np.int64)
        self.tombstones.difference_update(int(i) for i in ids64)
        self._index.add_with_ids(vectors, ids64)

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        if self.kind == "flat":
            self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))
        else:
            self.tombstones.update(int(i) for i in ids)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(id, cosine) pairs, best first."""
        if self._index.ntotal == 0 or k <= 0:
            return []
        fetch = min(int(self._index.ntotal), k + len(self.tombstones))
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        # One query does not split usefully across OpenMP threads: waking them cost 3-20 ms per search on 2
        # busy cores against 0.6 ms on one (10k flat). The setting is per calling thread, so builds elsewhere
        # keep all cores.
        faiss.omp_set_num_threads(1)
        scores, ids = self._index.search(q, fetch)
        out = [
            (int(i), float(s))
            for i, s in zip(ids[0], scores[0], strict=True)
            if i != -1 and int(i) not in self.tombstones
        ]
        return out[:k]

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these ids (decoded 8-bit values for HNSW), in the order given."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        if not len(ids):
            return out
        if len(ids) > int(self._index.ntotal) // 8:  # most of the index: decode it in one go
            inner = faiss.downcast_index(self._index.index)
            every = inner.reconstruct_n(0, int(self._index.ntotal))
            order = {int(i): r for r, i in enumerate(faiss.vector_to_array(self._index.id_map))}
            return np.ascontiguousarray(every[[order[int(i)] for i in ids]], dtype=np.float32)
        for r, i in enumerate(ids):
            out[r] = self._index.reconstruct(int(i))
        return out

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))
        if self.tombstones:
            np.save(path.with_suffix(".tombstones.npy"), np.fromiter(self.tombstones, dtype=np.int64))

    @classmethod
    def load(cls, path: Path, *, ef_search: int = 96, mmap: bool = False) -> DenseIndex:
        """With `mmap`, the vectors stay in the file and only the pages searches visit are read: for serving,
        where the index is read-only (`add` on a mapped index fails)."""
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
        inner = faiss.downcast_index(index.index)
        kind = "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"
        obj = cls.__new__(cls)
        obj.dim = int(index.d)
        obj.kind = kind
        obj.ef_search = ef_search
        if kind == "hnsw":
            inner.hnsw.efSearch = ef_search
        obj._index = index
        tomb = path.with_suffix(".tombstones.npy")
        obj.tombstones = {int(i) for i in np.load(tomb)} if tomb.is_file() else set()
        return obj
