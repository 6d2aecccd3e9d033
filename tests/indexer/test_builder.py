import json
from pathlib import Path

import pytest

import indexer.builder as builder_mod
from indexer.builder import build_index, update_index
from indexer.chunking import chunk_document
from indexer.embedding import HashingEmbedder
from indexer.errors import IndexFormatError, IndexNotFoundError, ModelMismatchError
from indexer.index import Index
from indexer.names import exact_names, read_names
from indexer.store import current_generation
from kb import load_kb


def test_build_writes_manifest_and_only_published_docs(
    tiny_kb: Path, tmp_path: Path, fake_embedder: HashingEmbedder
) -> None:
    report = build_index(load_kb(tiny_kb), fake_embedder, tmp_path / "idx")
    manifest = json.loads((report.index_path / "manifest.json").read_text(encoding="utf-8"))
    documents = Index.open(tmp_path / "idx", fake_embedder).manifest.documents
    assert set(documents) == {"policy-return", "policy-shipping", "product-kettle"} and manifest["n_docs"] == 3
    assert manifest["model"] == {"name": "hashing-fake", "id": "hashing-fake:384", "dim": 384}
    assert manifest["kb_fingerprint"] == load_kb(tiny_kb).fingerprint
    assert manifest["created"] and manifest["n_chunks"] == report.n_chunks == report.embedded


def test_update_reembeds_only_the_edited_document(tiny_kb: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    build_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    path = tiny_kb / "docs" / "policy" / "shipping.md"
    path.write_text(path.read_text(encoding="utf-8").replace("运费8元", "运费10元"), encoding="utf-8")
    counting = HashingEmbedder()
    report = update_index(load_kb(tiny_kb), counting, idx)
    assert report.changed == ["policy-shipping"] and not report.added and not report.removed
    assert counting.passages_embedded == 1 == report.embedded  # only the edited section
    hits = Index.open(idx, counting).search_sparse("运费10元", 3)
    assert hits and "10元" in hits[0].chunk.text


def test_update_drops_unpublished_and_removed_docs(tiny_kb: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    build_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    (tiny_kb / "docs" / "product" / "kettle.md").unlink()
    ret = tiny_kb / "docs" / "policy" / "return.md"
    ret.write_text(
        ret.read_text(encoding="utf-8").replace("category: after_sale", "category: after_sale\nstatus: archived"),
        encoding="utf-8",
    )
    emb = HashingEmbedder()
    report = update_index(load_kb(tiny_kb), emb, idx)
    assert report.removed == ["policy-return", "product-kettle"] and emb.passages_embedded == 0
    index = Index.open(idx, emb)
    assert {c.doc_id for c in index.chunks} == {"policy-shipping"}
    assert len(index.chunks) == index.manifest.n_chunks == report.n_chunks
    assert report.embedded == 0


def test_update_without_changes_writes_nothing(tiny_kb: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    first = build_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    again = update_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    assert again.index_path == first.index_path and again.embedded == 0


def test_a_build_killed_halfway_leaves_the_previous_index(
    tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = tmp_path / "idx"
    build_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    before = current_generation(idx)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # like Ctrl-C while writing the new generation

    monkeypatch.setattr(builder_mod, "commit_generation", crash)
    with pytest.raises(KeyboardInterrupt):
        build_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    assert current_generation(idx) == before
    assert Index.open(idx, HashingEmbedder()).search_sparse("包邮", 1)
    assert not list(idx.glob(".tmp-gen-*"))


def test_loading_with_another_model_says_to_rebuild(tiny_kb: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    build_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    with pytest.raises(ModelMismatchError, match="kefu index build"):
        Index.open(idx, HashingEmbedder(dim=128, name="other-model"))
    with pytest.raises(ModelMismatchError):
        update_index(load_kb(tiny_kb), HashingEmbedder(dim=128, name="other-model"), idx)


def test_missing_index_is_an_actionable_error(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="kefu index build"):
        Index.open(tmp_path / "none", HashingEmbedder())


def test_update_segments_only_new_chunks(tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    idx = tmp_path / "idx"
    build_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    calls: list[str] = []
    real = builder_mod.tokenize
    monkeypatch.setattr(builder_mod, "tokenize", lambda text: calls.append(text) or real(text))
    path = tiny_kb / "docs" / "policy" / "shipping.md"
    path.write_text(path.read_text(encoding="utf-8").replace("运费8元", "运费10元"), encoding="utf-8")
    update_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    assert len(calls) == 1 and "10元" in calls[0]


@pytest.mark.parametrize("fmt", [2, 3])
def test_index_of_an_older_format_asks_for_a_rebuild(fmt: int, tiny_kb: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    gen = build_index(load_kb(tiny_kb), HashingEmbedder(), idx).index_path
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    ids = list(Index.open(idx, HashingEmbedder()).manifest.documents)
    old_docs: dict[str, object] = (  # the document list older formats kept in the manifest
        {k: {"hash": "0" * 16, "version": 1, "title": k, "chunk_ids": ["x"]} for k in ids}
        if fmt == 2
        else {k: ["0" * 16, 1, k, 0, 0, 1, 1, ""] for k in ids}
    )
    (gen / "manifest.json").write_text(json.dumps({**manifest, "format": fmt, "documents": old_docs}), encoding="utf-8")
    (gen / "documents.npy").unlink()
    with pytest.raises(IndexFormatError, match=rf"format {fmt}.*kefu index update --index"):
        Index.open(idx, HashingEmbedder())
    emb = HashingEmbedder()
    report = update_index(load_kb(tiny_kb), emb, idx)  # an update rebuilds it in the current format
    assert report.embedded == report.n_chunks == emb.passages_embedded
    assert Index.open(idx, emb).search_sparse("电热水壶", 1)[0].chunk.doc_id == "product-kettle"


def test_exact_name_brings_in_the_named_documents_lead_chunks(tiny_kb: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    build_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    index = Index.open(idx, HashingEmbedder())
    leads = index.lead_chunks({"product-kettle", "no-such-doc"})
    assert [c.position for c in leads] == [0, 1] and {c.doc_id for c in leads} == {"product-kettle"}


def test_manifest_locates_each_document_in_its_segment(tiny_kb: Path, tmp_path: Path) -> None:
    idx = tmp_path / "idx"
    build_index(load_kb(tiny_kb), HashingEmbedder(), idx)
    index = Index.open(idx, HashingEmbedder())
    for doc_id, e in index.manifest.documents.items():
        rows = [index.segments[e.segment].store[r] for r in range(e.row, e.row + e.n)]
        assert {c.doc_id for c in rows} == {doc_id} and [c.position for c in rows] == sorted(c.position for c in rows)


def test_index_missing_a_segment_file_asks_for_a_rebuild(tiny_kb: Path, tmp_path: Path) -> None:
    gen = build_index(load_kb(tiny_kb), HashingEmbedder(), tmp_path / "idx").index_path
    next((gen / "segments").glob("*/chunks.ids.npy")).unlink()
    with pytest.raises(IndexFormatError, match=r"lacks its segment files.*kefu index update"):
        Index.open(tmp_path / "idx", HashingEmbedder())


def test_names_and_lead_rows_are_written_for_named_documents(tiny_kb: Path, tmp_path: Path) -> None:
    kb = load_kb(tiny_kb)
    gen = build_index(kb, HashingEmbedder(), tmp_path / "idx").index_path
    names = read_names(gen)
    documents = Index.open(tmp_path / "idx", HashingEmbedder()).manifest.documents
    chunks = [c for d in kb.published for c in chunk_document(d)]
    from_chunks = exact_names((c.doc_id, c.tags, c.sku) for c in chunks)
    assert {n: set(d) for n, d in names.items()} == from_chunks
    assert list(names) == list(from_chunks)  # the order the query formulator carries names in
    assert names["qm-ha-0042"] == ("product-kettle",)
    kettle = [row for row, c in enumerate(chunks) if c.doc_id == "product-kettle" and c.position < 2]
    kettle_entry = documents["product-kettle"]
    assert (kettle_entry.segment, kettle_entry.row, kettle_entry.leads) == (0, kettle[0], len(kettle)) and kettle
