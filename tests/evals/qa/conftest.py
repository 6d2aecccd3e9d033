"""The demo KB indexed with the fake embedder, its assistant, and the fixture conversations with planted faults."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.pipeline import Assistant
from evals.qa.checks import QualityChecker
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import KnowledgeBase, demo_kb_dir, load_kb

CONVERSATIONS = Path(__file__).with_name("conversations.jsonl")


@pytest.fixture(scope="session")
def demo_kb() -> KnowledgeBase:
    return load_kb(demo_kb_dir())


@pytest.fixture(scope="session")
def demo_assistant(demo_kb: KnowledgeBase, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    emb = HashingEmbedder()
    path = tmp_path_factory.mktemp("qa-index")
    build_index(demo_kb, emb, path)
    return Assistant(Index.open(path, emb), demo_kb, k=10)


@pytest.fixture(scope="session")
def checker(demo_assistant: Assistant, demo_kb: KnowledgeBase) -> QualityChecker:
    return QualityChecker(demo_assistant, demo_kb.rules.qa, demo_kb.rules.emotion)
