"""The KB summary is written at index time: serving reads it without parsing one document."""

from pathlib import Path

import pytest

import kb.loader as loader_mod
from assistant.service.holder import assistant_factory
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import load_kb


def test_serving_reads_the_summary_without_parsing_documents(
    tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = load_kb(tiny_kb)
    build_index(kb, HashingEmbedder(), tmp_path / "idx")

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("a document was parsed")

    monkeypatch.setattr(loader_mod, "parse_document", no_parsing)
    summary = Index.open(tmp_path / "idx", HashingEmbedder()).kb_summary(tiny_kb)
    assert (summary.fingerprint, summary.n_published) == (kb.fingerprint, len(kb.published))
    assert summary.rules == kb.rules and summary.intents == kb.intents
    bot = assistant_factory(tiny_kb, tmp_path / "idx", HashingEmbedder())()
    assert bot.kb.fingerprint == kb.fingerprint
