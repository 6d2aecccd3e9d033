"""Fixtures of the service tests: a tiny KB indexed with the fake embedder, a store, an app factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assistant.service.app import create_app
from assistant.service.holder import AssistantHolder, assistant_factory
from assistant.service.store import FeedbackStore
from assistant.settings import AssistantSettings
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from kb import load_kb
from tests.conftest import write_kb


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "kb")


@pytest.fixture
def index_dir(kb_dir: Path, tmp_path: Path) -> Path:
    build_index(load_kb(kb_dir), HashingEmbedder(), tmp_path / "index")
    return tmp_path / "index"


@pytest.fixture
def holder(kb_dir: Path, index_dir: Path) -> AssistantHolder:
    return AssistantHolder(assistant_factory(kb_dir, index_dir, HashingEmbedder()), index_dir=index_dir)


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    s = FeedbackStore(f"sqlite:///{tmp_path / 'kefu.db'}")
    s.migrate()
    return s


@pytest.fixture
def make_app(holder: AssistantHolder, store: FeedbackStore) -> Callable[..., Any]:
    """`make_app(api_keys={...}, rate_limit_per_minute=...)`: the app with these settings."""

    def make(**settings: Any) -> Any:
        return create_app(holder, store, AssistantSettings(**{"rate_limit_per_minute": 0, "api_keys": {}, **settings}))

    return make
