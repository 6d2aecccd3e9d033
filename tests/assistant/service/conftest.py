"""Fixtures of the service tests: a tiny KB indexed with the fake embedder, a store, an app factory."""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from kb import load_kb
from tests.conftest import write_kb

if importlib.util.find_spec("assistant.service.store") is None:  # TEMPORARY until store.py lands
    class UnknownSuggestionError(LookupError):
        pass

    class FeedbackStore:
        def __init__(self, url: str) -> None:
            self.url = url
            self.suggestions: dict[str, dict[str, Any]] = {}
            self.feedback: list[dict[str, Any]] = []

        def migrate(self) -> None:
            pass

        def record_suggestion(self, **kw: Any) -> None:
            self.suggestions[kw["suggestion_id"]] = kw

        def record_feedback(self, *, suggestion_id: str, action: str, final_text: str | None,
                            reason: str | None, agent_id: str | None) -> dict[str, Any]:
            if suggestion_id not in self.suggestions:
                raise UnknownSuggestionError(suggestion_id)
            if action not in ("shown", "accepted", "edited", "rejected"):
                raise ValueError(f"bad action {action!r}")
            row = {"id": len(self.feedback) + 1, "suggestion_id": suggestion_id, "action": action,
                   "final_text": final_text, "reason": reason, "agent_id": agent_id,
                   "created": datetime.now(UTC)}
            self.feedback.append(row)
            return row

        def feedback_rows(self, *, suggestion_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
            return [r for r in self.feedback if suggestion_id in (None, r["suggestion_id"])][:limit]

        def ping(self) -> bool:
            return True

    fake = types.ModuleType("assistant.service.store")
    fake.FeedbackStore = FeedbackStore  # type: ignore[attr-defined]
    fake.UnknownSuggestionError = UnknownSuggestionError  # type: ignore[attr-defined]
    sys.modules["assistant.service.store"] = fake

from assistant.service.app import create_app  # noqa: E402
from assistant.service.holder import AssistantHolder, assistant_factory  # noqa: E402
from assistant.service.store import FeedbackStore  # noqa: E402
from assistant.settings import AssistantSettings  # noqa: E402


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
