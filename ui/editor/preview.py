"""Preview: a customer message through the assistant, on the published KB or on the drafts."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.pipeline import Assistant
from indexer.errors import IndexNotFoundError
from indexer.index import Index
from kb import load_kb
from ui.editor.drafts import DraftWorkspace, config_fingerprint, live_generation
from ui.editor.workspace import Workspace

SOURCES = ("published", "draft")


@dataclass(frozen=True)
class Preview:
    source: str  # published | draft
    hits: list[dict[str, Any]]  # rank, doc_id, title, section, score (fused), dense (cosine), bm25, text
    result: dict[str, Any]  # the /v1/suggest object
    drafts: tuple[tuple[str, int], ...]  # drafts applied (source 'draft')
    generation: str


class Previewer:
    """Assistants on the live index and on the draft index, each rebuilt only when its KB changed.

    >>> Previewer(ws).run("礼品可以包装吗", source="draft").hits[0]["doc_id"]
    """

    def __init__(
        self, ws: Workspace, *, k: int = 5, mode: str = "hybrid", answerable_threshold: float | None = None
    ) -> None:
        self.ws = ws
        self.k = k
        self.mode = mode
        self.answerable_threshold = answerable_threshold
        self.drafts = DraftWorkspace(ws)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[object, ...], Assistant]] = {}

    def _build(self, source: str, kb_dir: Path, index_dir: Path) -> Assistant:
        key = (str(index_dir), live_generation(index_dir), config_fingerprint(kb_dir))
        with self._lock:
            cached = self._cache.get(source)
            if cached and cached[0] == key:
                return cached[1]
        bot = Assistant(
            Index.open(index_dir, self.ws.embedder),
            load_kb(kb_dir, strict=False),
            k=self.k,
            mode=self.mode,
            answerable_threshold=self.answerable_threshold,
        )
        bot.warm_up()
        with self._lock:
            self._cache[source] = (key, bot)
        return bot

    def assistant(self, source: str) -> tuple[Assistant, tuple[tuple[str, int], ...]]:
        """The assistant for `source`, and the drafts it sees."""
        if source not in SOURCES:
            raise ValueError(f"source '{source}' is not one of {', '.join(SOURCES)}")
        if source == "draft":
            draft = self.drafts.prepare()
            return self._build(source, draft.kb_dir, draft.index_dir), draft.drafts
        try:
            return self._build(source, self.ws.kb_dir, self.ws.index_dir), ()
        except IndexNotFoundError:
            self.ws.reindex()
            return self._build(source, self.ws.kb_dir, self.ws.index_dir), ()

    def run(
        self, message: str, *, source: str = "published", conversation: list[dict[str, str]] | None = None
    ) -> Preview:
        """Suggestions for `message` (after the earlier turns of `conversation`, if any)."""
        if not message.strip():
            raise ValueError("type a customer message to preview, e.g. 礼品可以包装吗")
        bot, drafts = self.assistant(source)
        turns = [*(conversation or []), {"role": "customer", "text": message.strip()}]
        result = bot.run(conversation=turns)
        hits = bot.retriever.run(query=result.query)
        rows = [
            {
                "rank": n,
                "doc_id": h.doc_id,
                "title": h.chunk.title,
                "section": h.chunk.section,
                "score": round(h.score, 4),
                "dense": None if h.dense_score is None else round(h.dense_score, 4),
                "bm25": None if h.bm25_score is None else round(h.bm25_score, 3),
                "text": h.chunk.text,
            }
            for n, h in enumerate(hits, 1)
        ]
        return Preview(source, rows, result.to_dict(), drafts, bot.index.generation)
