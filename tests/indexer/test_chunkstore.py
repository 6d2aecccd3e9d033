from pathlib import Path

import pytest

from indexer.chunking import Chunk, chunk_document
from indexer.chunkstore import ChunkStore, exact_names, read_chunks, read_names, write_chunks
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


def test_names_and_lead_rows_are_written_for_named_documents(chunks: list[Chunk], tmp_path: Path) -> None:
    write_chunks(tmp_path, chunks)
    names, leads = read_names(tmp_path)
    assert {n: set(d) for n, d in names.items()} == exact_names(chunks)
    assert list(names) == list(exact_names(chunks))  # the order the query formulator carries names in
    assert names["qm-ha-0042"] == ("product-kettle",)
    kettle = [row for row, c in enumerate(chunks) if c.doc_id == "product-kettle" and c.position < 2]
    assert leads["product-kettle"] == tuple(kettle) and kettle
    assert "policy-shipping" not in leads  # no name points at it
