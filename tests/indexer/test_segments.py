"""Delta segments: an index after updates ranks exactly as a rebuild of the same KB, and a write that dies at
any step leaves the previous generation serving."""

import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import indexer.builder as builder_mod
import indexer.documents as documents_mod
import indexer.sparse as sparse_mod
from evals.synth import grow_kb
from indexer.builder import build_index, compact_index, update_index
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from indexer.store import current_generation
from kb import demo_kb_dir, load_kb

QUERIES = [
    "尺码偏小能退吗",
    "空气炸锅多大容量",
    "运费谁出",
    "发票怎么开",
    "QM-HA-3001",
    "羽绒服可以机洗吗",
    "七天无理由",
]


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    kb = tmp_path / "kb"
    grow_kb(demo_kb_dir(), kb, chunks=1)  # the demo KB as is
    return kb


def _doc(kb: Path, doc_id: str) -> Path:
    return next(p for p in (kb / "docs").rglob("*.md") if f"\nid: {doc_id}\n" in p.read_text(encoding="utf-8"))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} lacks {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _built(kb: Path, tmp_path: Path) -> Path:
    """A fresh index of `kb` (fake embedder) under tmp_path/idx."""
    idx = tmp_path / "idx"
    build_index(load_kb(kb), HashingEmbedder(), idx)
    return idx


def _add_section(kb: Path) -> None:
    """The edit most tests make: one new section in the 7-day return policy."""
    _edit(_doc(kb, "policy-return-7day"), "\n## ", "\n## 补充\n\n请保留吊牌。\n\n## ")


def _results(index: Index) -> list[object]:
    """Everything a search hands the assistant, independent of where the rows are."""
    out: list[object] = [dict(index.names), index.manifest.n_chunks, sorted(c.chunk_id for c in index.chunks)]
    for q in QUERIES:
        dense = index.search_dense(q, 10)
        sparse = index.search_sparse(q, 10)
        out.append([(h.chunk, h.score) for h in dense])
        out.append([(h.chunk, h.score) for h in sparse])
        out.append([[c.chunk_id for c in index.document_chunks(h.chunk)] for h in dense + sparse])
    out.append([c.chunk_id for c in index.lead_chunks({d for docs in index.names.values() for d in docs})])
    return out


def _same_as_rebuild(kb_dir: Path, idx: Path, tmp_path: Path) -> None:
    fresh = tmp_path / f"fresh-{len(list(tmp_path.glob('fresh-*')))}"
    build_index(load_kb(kb_dir), HashingEmbedder(), fresh)
    assert _results(Index.open(idx, HashingEmbedder())) == _results(Index.open(fresh, HashingEmbedder()))
    kb, summary = load_kb(kb_dir), Index.open(idx, HashingEmbedder()).kb_summary(kb_dir)
    assert (summary.fingerprint, summary.n_published) == (kb.fingerprint, len(kb.published))


def test_updates_rank_exactly_as_a_rebuild(demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builder_mod, "MAX_DELTAS", 2)  # reach the merge of deltas within a few edits
    idx = _built(demo_copy, tmp_path)
    ret = _doc(demo_copy, "policy-return-7day")
    edits: list[Callable[[], None]] = [
        lambda: _edit(ret, "\n## ", "\n## 补充\n\n签收后请保留吊牌，方便七天无理由退货。\n\n## "),
        lambda: (demo_copy / "docs" / "faq" / "new.md").write_text(
            "---\nid: faq-new\ntitle: 运费险怎么理赔\ntype: faq\ncategory: after_sale\n---\n"
            "## 问：运费险怎么理赔\n退货签收后72小时内自动理赔到支付账户。\n",
            encoding="utf-8",
        ),
        lambda: _edit(ret, "补充", "补充说明"),
        lambda: _edit(_doc(demo_copy, "policy-shipping"), "\n## ", "\n## 节假日\n\n节假日顺延发货。\n\n## "),
        lambda: _doc(demo_copy, "product-air-fryer").unlink(),
    ]
    seen = []
    for edit in edits:
        edit()
        report = update_index(load_kb(demo_copy), HashingEmbedder(), idx)
        seen.append((report.segments, report.compacted))
        _same_as_rebuild(demo_copy, idx, tmp_path)
    assert seen[:3] == [(2, ""), (3, ""), (2, "deltas")]  # deltas, then merged into one past MAX_DELTAS
    compacted = compact_index(idx, HashingEmbedder())
    assert compacted.segments == 1 and compacted.dead_rows == 0
    _same_as_rebuild(demo_copy, idx, tmp_path)


def test_a_new_tag_resegments_everything_and_still_ranks_as_a_rebuild(demo_copy: Path, tmp_path: Path) -> None:
    idx = _built(demo_copy, tmp_path)
    _edit(_doc(demo_copy, "product-air-fryer"), "tags: [", "tags: [可视炸锅, ")
    report = update_index(load_kb(demo_copy), HashingEmbedder(), idx)
    assert report.compacted == "all" and report.segments == 1 and report.embedded < 10
    _same_as_rebuild(demo_copy, idx, tmp_path)


def test_many_edits_compact_automatically(demo_copy: Path, tmp_path: Path) -> None:
    idx = _built(demo_copy, tmp_path)
    docs = sorted((demo_copy / "docs" / "product").glob("*.md"))
    report = None
    for path in docs:
        _edit(path, "\n## ", "\n## 温馨提示\n\n下单前请核对收货地址。\n\n## ")
        report = update_index(load_kb(demo_copy), HashingEmbedder(), idx)
        if report.compacted == "all":
            break
    assert report is not None and report.compacted == "all" and report.segments == 1 and report.dead_rows == 0
    _same_as_rebuild(demo_copy, idx, tmp_path)


STEPS = [
    "link_segment",
    "write_segment",
    "write_tombstones",
    "write_documents",
    "keep_names",
    "write_summary",
    "commit_generation",
]


def _crash(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt  # like Ctrl-C in the middle of the write


@pytest.mark.parametrize("step", STEPS)
def test_an_update_interrupted_at_any_step_leaves_the_previous_generation(
    step: str, demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = _built(demo_copy, tmp_path)
    before_gen, before = current_generation(idx), _results(Index.open(idx, HashingEmbedder()))
    _add_section(demo_copy)
    monkeypatch.setattr(builder_mod, step, _crash)
    with pytest.raises(KeyboardInterrupt):
        update_index(load_kb(demo_copy), HashingEmbedder(), idx)
    assert current_generation(idx) == before_gen and _results(Index.open(idx, HashingEmbedder())) == before
    assert not list(idx.glob(".tmp-gen-*"))
    monkeypatch.undo()
    update_index(load_kb(demo_copy), HashingEmbedder(), idx)  # and the next update goes through
    _same_as_rebuild(demo_copy, idx, tmp_path)


def _killed_update(kb_dir: Path, idx: Path, step: str) -> None:
    setattr(builder_mod, step, lambda *a, **k: os._exit(9))  # the process dies: no cleanup runs
    update_index(load_kb(kb_dir), HashingEmbedder(), idx)


@pytest.mark.parametrize("step", ["write_documents", "commit_generation"])
def test_an_update_killed_mid_write_leaves_the_previous_generation(step: str, demo_copy: Path, tmp_path: Path) -> None:
    idx = _built(demo_copy, tmp_path)
    before_gen, before = current_generation(idx), _results(Index.open(idx, HashingEmbedder()))
    _add_section(demo_copy)
    child = multiprocessing.get_context("fork").Process(target=_killed_update, args=(demo_copy, idx, step))
    child.start()
    child.join(120)
    assert child.exitcode == 9
    assert current_generation(idx) == before_gen and _results(Index.open(idx, HashingEmbedder())) == before
    update_index(load_kb(demo_copy), HashingEmbedder(), idx)
    _same_as_rebuild(demo_copy, idx, tmp_path)


def test_a_delta_table_past_its_limit_is_folded_and_still_ranks_as_a_rebuild(
    demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = _built(demo_copy, tmp_path)
    base = (current_generation(idx) / "documents.npy").stat().st_ino
    _edit(_doc(demo_copy, "policy-shipping"), "\n## ", "\n## 节假日\n\n节假日顺延发货。\n\n## ")
    update_index(load_kb(demo_copy), HashingEmbedder(), idx)
    assert (current_generation(idx) / "documents.npy").stat().st_ino == base  # shared; the edit is in the delta
    assert (current_generation(idx) / "documents.delta.npy").is_file()
    monkeypatch.setattr(documents_mod, "FOLD_AT", 1)
    _add_section(demo_copy)
    update_index(load_kb(demo_copy), HashingEmbedder(), idx)
    gen = current_generation(idx)
    assert not (gen / "documents.delta.npy").is_file()
    assert (gen / "documents.npy").stat().st_ino != base
    _same_as_rebuild(demo_copy, idx, tmp_path)


def test_a_file_saved_unchanged_is_not_reindexed_and_its_stamp_is_kept(demo_copy: Path, tmp_path: Path) -> None:
    idx = _built(demo_copy, tmp_path)
    touched = _doc(demo_copy, "policy-shipping")
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    _add_section(demo_copy)
    report = update_index(load_kb(demo_copy), HashingEmbedder(), idx)
    assert report.changed == ["policy-return-7day"]
    entry = Index.open(idx, HashingEmbedder()).manifest.documents["policy-shipping"]
    assert (entry.mtime, entry.size) == (touched.stat().st_mtime_ns, touched.stat().st_size)
    _same_as_rebuild(demo_copy, idx, tmp_path)


def test_an_update_teaches_the_segmenter_only_in_a_process_that_does_not_know_the_words(
    demo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx = _built(demo_copy, tmp_path)
    taught: list[int] = []
    real = builder_mod.teach

    def counting(words: list[str]) -> str:
        taught.append(1)
        return real(words)

    monkeypatch.setattr(builder_mod, "teach", counting)
    _add_section(demo_copy)
    update_index(load_kb(demo_copy), HashingEmbedder(), idx)
    assert not taught  # the build in this process taught them
    monkeypatch.setattr(sparse_mod, "_TAUGHT_SETS", set())  # as in a new process
    _edit(_doc(demo_copy, "policy-return-7day"), "请保留吊牌", "请保留吊牌和发票")
    update_index(load_kb(demo_copy), HashingEmbedder(), idx)
    assert taught == [1]
    _same_as_rebuild(demo_copy, idx, tmp_path)
