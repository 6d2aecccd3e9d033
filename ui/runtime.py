"""Assembly: turns settings and command-line options into a loaded KB, embedder and index."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.pipeline import Assistant
from assistant.settings import AssistantSettings
from indexer.builder import BuildReport, build_index, compact_index, update_index
from indexer.embedding import Embedder, load_embedder
from indexer.index import Index
from indexer.settings import IndexerSettings
from indexer.writer import writer_lock
from kb import KnowledgeBase, demo_kb_dir, load_kb


def assistant_settings(
    *, retriever: str | None = None, drafter: str | None = None, k: int | None = None
) -> AssistantSettings:
    """The service's settings (from the environment) with the command-line options given (None = as served)."""
    overrides = {"retriever": retriever, "drafter": drafter, "k": k}
    return AssistantSettings().model_copy(update={key: v for key, v in overrides.items() if v is not None})


@dataclass
class Runtime:
    """Lazily loads what a command needs, once."""

    kb_dir: Path | None = None
    index_dir: Path | None = None
    settings: IndexerSettings = field(default_factory=IndexerSettings)
    _kb: KnowledgeBase | None = None
    _embedder: Embedder | None = None
    _index: Index | None = None

    @property
    def kb_path(self) -> Path:
        return self.kb_dir or self.settings.kb_dir or demo_kb_dir()

    @property
    def index_path(self) -> Path:
        return self.index_dir or self.settings.resolved_index_dir(self.kb_path)

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:
            self._kb = load_kb(self.kb_path)
        return self._kb

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(
                self.settings.embedding_model or self.settings.resolved_model_dir(),
                batch_size=self.settings.batch_size,
                query_encoder=self.settings.query_encoder,
            )
        return self._embedder

    def _build_options(self) -> dict[str, int]:
        s = self.settings
        return {"flat_threshold": s.flat_threshold, "batch_size": s.batch_size, "chunk_chars": s.chunk_chars}

    def build(self, *, progress: bool = False) -> BuildReport:
        with writer_lock(self.index_path):
            self._kb = None  # read under the lock: another writer may have just published
            return build_index(self.kb, self.embedder, self.index_path, progress=progress, **self._build_options())

    def update(self, *, progress: bool = False) -> BuildReport:
        # The query/passage encoder loads (file reads, native code) while the KB is parsed and jieba starts.
        warm = threading.Thread(target=getattr(self.embedder, "warm_up", lambda: None), daemon=True)
        warm.start()
        with writer_lock(self.index_path):
            self._kb = None  # read under the lock: another writer may have just published
            kb = self.kb
            warm.join()
            return update_index(kb, self.embedder, self.index_path, progress=progress, **self._build_options())

    def compact(self) -> BuildReport:
        with writer_lock(self.index_path):
            return compact_index(self.index_path, self.embedder, flat_threshold=self.settings.flat_threshold)

    def index(self, *, auto_build: bool = True) -> Index:
        """The index of the KB; built or brought up to date first when the KB changed (`auto_build`)."""
        if self._index is None:
            if auto_build:
                self.update()
            self._index = Index.open(self.index_path, self.embedder)
        return self._index

    def assistant_factory(self, settings: AssistantSettings) -> Callable[[], Assistant]:
        """How `kefu serve` and `kefu eval run` build the assistant: `settings.k` documents retrieved with
        `settings.retriever`, the template or the configured LLM drafter, on the index as it is on disk."""
        from assistant.service.holder import assistant_factory

        drafter = None
        if settings.drafter == "llm":
            from assistant.llm import build_llm_drafter

            drafter = build_llm_drafter(settings.llm)
        return assistant_factory(
            self.kb_path,
            self.index_path,
            self.embedder,
            k=settings.k,
            mode=settings.retriever,
            drafter=drafter,
            answerable_threshold=settings.answerable_threshold,
        )

    def assistant(self, settings: AssistantSettings | None = None) -> Assistant:
        """The assistant `kefu serve` would serve with `settings` (default: from the environment), on this
        runtime's index brought up to date."""
        self.index()
        return self.assistant_factory(settings or AssistantSettings())()
