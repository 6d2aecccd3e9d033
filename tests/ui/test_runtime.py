"""The runtime's index updates against other writers of the same index."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from indexer.builder import update_index
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import load_kb
from tests.conftest import write_kb
from ui.runtime import Runtime

NEW = """\
    ---
    id: faq-late
    title: 晚到的文档
    type: faq
    category: general
    ---
    ## 问：新的吗？
    刚由另一个副本发布。
    """


def test_an_update_reads_the_kb_under_the_writer_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A replica starting up read the KB, then an editor on another replica published, then the starting
    # replica updated the index from its old view and dropped the new document.
    monkeypatch.setenv("KEFU_EMBEDDING_MODEL", "hashing")
    kb_dir = write_kb(tmp_path / "kb")
    rt = Runtime(kb_dir, tmp_path / "index")
    rt.update()
    assert "faq-late" not in [d.id for d in rt.kb.documents]  # this runtime's view, read before the publish
    (kb_dir / "docs" / "faq" / "late.md").write_text(textwrap.dedent(NEW), encoding="utf-8")
    update_index(load_kb(kb_dir), HashingEmbedder(), tmp_path / "index")  # the other replica's publish
    rt.update()
    assert "faq-late" in Index.open(tmp_path / "index", HashingEmbedder()).manifest.documents
