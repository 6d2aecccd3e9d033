from pathlib import Path

import numpy as np
import pytest

from indexer.dense import DenseIndex


def _vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_finds_each_vector_first_and_survives_save_load(kind: str, tmp_path: Path) -> None:
    vecs = _vectors(500)
    ids = np.arange(1000, 1500, dtype=np.int64)
    index = DenseIndex(32, kind=kind)
    index.add(ids, vecs)
    index.save(tmp_path / "d.faiss")
    loaded = DenseIndex.load(tmp_path / "d.faiss")
    assert loaded.kind == kind
    found = sum(loaded.search(vecs[i], 1)[0][0] == ids[i] for i in range(0, 500, 10))
    assert found >= 48  # exact for flat; HNSW over 8-bit vectors may miss one or two


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_removed_ids_are_never_returned(kind: str, tmp_path: Path) -> None:
    vecs = _vectors(200)
    ids = np.arange(200, dtype=np.int64)
    index = DenseIndex(32, kind=kind)
    index.add(ids, vecs)
    index.remove(ids[:100])
    index.save(tmp_path / "d.faiss")
    loaded = DenseIndex.load(tmp_path / "d.faiss")
    assert loaded.size == 100
    for i in range(0, 100, 7):
        assert all(hit >= 100 for hit, _ in loaded.search(vecs[i], 5))


def test_size_picks_the_index_kind() -> None:
    assert DenseIndex.for_size(8, 10, flat_threshold=100).kind == "flat"
    assert DenseIndex.for_size(8, 1000, flat_threshold=100).kind == "hnsw"
