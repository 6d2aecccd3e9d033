from __future__ import annotations

from pathlib import Path

import pytest

from assistant.pipeline import Assistant
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import demo_kb_dir, load_kb


@pytest.fixture(scope="session")
def demo_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """The demo KB on the fake embedder: real chunking, FAISS, BM25, drafting and guard."""
    path: Path = tmp_path_factory.mktemp("demo-index")
    emb = HashingEmbedder()
    kb = load_kb(demo_kb_dir())
    build_index(kb, emb, path)
    return Assistant(Index.open(path, emb), kb)
