from pathlib import Path

import pytest

from indexer.chunking import Chunk, chunk_document
from indexer.chunkstore import ChunkStore, read_chunks, write_chunks
from kb import load_kb


@pytest.fixture
def chunks(tiny_kb: Path) -> list[Chunk]:
    return [c for d in load_kb(tiny_kb).published for c in chunk_document(d)]


def test_store_round_trips_every_chunk_by_row_and_by_id(chunks: list[Chunk], tmp_path: Path) -> None:
    write_chunks(tmp_path, chunks)
    store = ChunkStore.open(tmp_path)
    assert len(store) == len(chunks)
    assert list(store) == chunks == read_chunks(tmp_path)
    assert store[-1] == chunks[-1] and store[1:3] == chunks[1:3]
    for c in chunks:
        assert store.by_int_id(c.int_id) == c
    assert store.by_int_id(12345) is None
    assert store.ids_by_row().tolist() == [c.int_id for c in chunks]
    with pytest.raises(IndexError):
        store[len(chunks)]


def test_store_keeps_non_ascii_text_whole(tmp_path: Path) -> None:
    chunk = Chunk("0123456789abcdef", "d", "标题", "", "满99元包邮；\n运费8元。", "policy", "general", 0, ("包邮",))
    write_chunks(tmp_path, [chunk, chunk])
    assert ChunkStore.open(tmp_path)[1] == chunk


def test_empty_store_opens(tmp_path: Path) -> None:
    write_chunks(tmp_path, [])
    store = ChunkStore.open(tmp_path)
    assert len(store) == 0 and list(store) == [] and store.by_int_id(1) is None
