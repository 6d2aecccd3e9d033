"""The KB as it would be if every pending draft were published, with its own index, for previews.

The draft index is seeded with a copy of the live index generation and brought up to date with
`update_index`, so only the drafted documents are embedded; it is rebuilt only when a draft, the live
index, rules.yaml or intents.yaml changed.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from indexer.builder import update_index
from indexer.errors import IndexNotFoundError
from indexer.store import CURRENT, current_generation
from kb import load_kb, parse_document
from ui.editor.documents import set_fields
from ui.editor.rules import CONFIG_FILES
from ui.editor.workspace import Workspace


@dataclass(frozen=True)
class DraftKB:
    kb_dir: Path
    index_dir: Path
    drafts: tuple[tuple[str, int], ...]  # (document id, draft version) applied over the published KB
    seconds: float  # what preparing it took (0 when it was reused)


def live_generation(index_dir: Path) -> str:
    """The name of the live index generation, '' when there is none yet."""
    try:
        return current_generation(index_dir).name
    except IndexNotFoundError:
        return ""


def config_fingerprint(kb_dir: Path) -> str:
    """Changes when rules.yaml or intents.yaml of a KB folder change."""
    h = hashlib.sha256()
    for name in CONFIG_FILES.values():
        path = kb_dir / name
        h.update(path.read_bytes() if path.is_file() else b"-")
    return h.hexdigest()[:12]


def pending_drafts(ws: Workspace) -> tuple[tuple[str, int], ...]:
    return tuple((d.id, d.head) for d in ws.documents() if d.status == "draft")


def write_draft_kb(ws: Workspace, dest: Path, drafts: tuple[tuple[str, int], ...]) -> None:
    """Copy the KB folder to `dest` (without the history) and write each draft there as published."""
    shutil.copytree(ws.kb_dir / "docs", dest / "docs")
    for name in CONFIG_FILES.values():
        if (ws.kb_dir / name).is_file():
            shutil.copy2(ws.kb_dir / name, dest / name)
    files = ws.sync()
    for doc_id, n in drafts:
        text = set_fields(ws.versions.text(doc_id, n), status="published")
        doc = parse_document(text, doc_id)
        rel = files[doc_id].relative_to(ws.kb_dir) if doc_id in files else Path("docs") / doc.type / f"{doc_id}.md"
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8")


def seed_index(live: Path, dest: Path) -> None:
    """Start `dest` as a copy of the live generation, so an update embeds only what the drafts changed."""
    try:
        gen = current_generation(live)
    except IndexNotFoundError:
        return  # update_index then builds from scratch
    shutil.copytree(gen, dest / gen.name)
    (dest / CURRENT).write_text(gen.name, encoding="utf-8")


class DraftWorkspace:
    """Keeps one up-to-date draft KB and index in a private temporary folder.

    >>> draft = DraftWorkspace(ws).prepare()
    >>> Index.open(draft.index_dir, ws.embedder)
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.root = Path(tempfile.mkdtemp(prefix="kefu-editor-draft-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.root, True)
        self._lock = threading.Lock()
        self._key: tuple[object, ...] | None = None
        self._current: DraftKB | None = None
        self._serial = 0

    def prepare(self) -> DraftKB:
        """The draft KB for the drafts pending now, rebuilt only if something changed since the last call."""
        with self._lock:
            drafts = pending_drafts(self.ws)
            key = (drafts, live_generation(self.ws.index_dir), config_fingerprint(self.ws.kb_dir))
            if self._current is not None and key == self._key:
                return DraftKB(self._current.kb_dir, self._current.index_dir, drafts, 0.0)
            start = time.perf_counter()
            self._serial += 1
            folder = self.root / f"v{self._serial}"
            kb_dir, index_dir = folder / "kb", folder / "index"
            write_draft_kb(self.ws, kb_dir, drafts)
            seed_index(self.ws.index_dir, index_dir)
            update_index(
                load_kb(kb_dir, strict=False),
                self.ws.embedder,
                index_dir,
                flat_threshold=self.ws.flat_threshold,
                batch_size=self.ws.batch_size,
                chunk_chars=self.ws.chunk_chars,
            )
            if self._current is not None:
                # Readers of the previous draft hold open files only; on Linux removing them is safe.
                shutil.rmtree(self._current.kb_dir.parent, ignore_errors=True)
            self._current = DraftKB(kb_dir, index_dir, drafts, time.perf_counter() - start)
            self._key = key
            return self._current

    def close(self) -> None:
        self._finalizer()
