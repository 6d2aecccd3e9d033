"""The editor's view of one KB directory: documents with versions, draft → publish, rules and intents.

The KB folder stays the source of truth (CONTRACTS.md §1): a published or archived version is written to
`docs/**/<id>.md` and the index is brought up to date incrementally, which the running service picks up
through the index's CURRENT marker. Drafts live only in the history (`versions.py`), so a draft of a
published document never replaces the published file before it is published.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from indexer.builder import BuildReport, update_index
from indexer.embedding import Embedder
from indexer.errors import IndexerError
from indexer.store import fsync_dir
from indexer.writer import writer_lock
from kb import DocumentError, KBError, KnowledgeBase, load_kb, parse_document
from ui.editor.documents import set_fields, strip_managed, validate_text
from ui.editor.errors import ConflictError, EditorError, InvalidTextError, NotFoundError, Problem, ReindexError
from ui.editor.rules import CONFIG_FILES, CONFIG_KEYS, default_text, validate_config
from ui.editor.versions import Version, VersionStore, unified_diff

IMPORT_AUTHOR = "KB 文件"


@dataclass(frozen=True)
class DocSummary:
    """One row of the document list."""

    id: str
    title: str
    type: str
    category: str
    tags: tuple[str, ...]
    status: str  # of the head version: draft | published | archived
    head: int
    published: int | None  # the version that is live, if any
    author: str
    time: str

    @property
    def pending(self) -> bool:
        """A draft waiting to be published over a live version."""
        return self.status == "draft" and self.published is not None


@dataclass(frozen=True)
class DocState:
    """A document as opened in the editor: its head version and text, and its history."""

    id: str
    head: Version
    text: str
    published: Version | None
    path: str | None  # the KB file, relative to the KB folder; None until first published
    history: tuple[Version, ...]


@dataclass(frozen=True)
class PublishResult:
    version: Version
    report: BuildReport
    seconds: float  # from the start of publishing to the new index generation being live
    notice: str = ""


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)  # the rename itself survives a power cut only once its directory is synced


class Workspace:
    """Edits one KB folder and keeps its index current.

    >>> ws = Workspace(kb_dir, index_dir, embedder)
    >>> doc_id, v = ws.create(text, author="小王", message="新建")   # a draft, not retrieved yet
    >>> ws.publish(doc_id, base=v.n, author="小王").seconds          # written, re-indexed, live
    """

    def __init__(
        self,
        kb_dir: Path,
        index_dir: Path,
        embedder: Embedder,
        *,
        on_change: Callable[[], object] | None = None,
        chunk_chars: int = 320,
        batch_size: int = 32,
        flat_threshold: int = 100_000,
    ) -> None:
        self.kb_dir = Path(kb_dir)
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.on_change = on_change
        self.chunk_chars = chunk_chars
        self.batch_size = batch_size
        self.flat_threshold = flat_threshold
        self.versions = VersionStore(self.kb_dir / ".kefu" / "history")
        # Across processes: `kefu editor` and `kefu serve` on one KB must not update the index at once (the
        # second would build from a KB read before the first's file was written, dropping that publish).
        self._index_lock = writer_lock(self.index_dir)
        self._pending = self.kb_dir / ".kefu" / "reindex-pending"
        if not (self.kb_dir / "docs").is_dir():
            raise KBError(f"{self.kb_dir}: no 'docs' folder; a KB folder holds docs/**/*.md (CONTRACTS.md §1)")

    # -- the KB on disk -------------------------------------------------------------------------------

    def load_kb(self) -> KnowledgeBase:
        return load_kb(self.kb_dir, strict=False)

    def file_problems(self) -> list[str]:
        """Files under docs/ that `load_kb` skips, each with what is wrong."""
        out = []
        for path in sorted((self.kb_dir / "docs").rglob("*.md")):
            rel = path.relative_to(self.kb_dir)
            try:
                parse_document(path.read_text(encoding="utf-8"), rel)
            except DocumentError as e:
                out.append(str(e))
            except UnicodeDecodeError:
                out.append(f"{rel}: is not UTF-8 text; save it as UTF-8")
        return out

    def _files(self) -> dict[str, Path]:
        return {d.id: self.kb_dir / d.path for d in self.load_kb().documents}

    def _file_version(self, doc_id: str) -> Version | None:
        """The version the KB file should hold: the last published or archived one, else an import."""
        return next(
            (
                v
                for v in reversed(self.versions.log(doc_id))
                if v.status in ("published", "archived") or (v.author == IMPORT_AUTHOR and v.status != "conflict")
            ),
            None,
        )

    def _sync(self, doc_id: str, path: Path) -> None:
        """Record the KB file as a version when it is new to the history or was changed outside the editor."""
        with self.versions.lock():
            text = path.read_text(encoding="utf-8")
            known = self._file_version(doc_id)
            if known and self.versions.text(doc_id, known.n) == text:
                return
            doc = parse_document(text, path.relative_to(self.kb_dir))
            head = self.versions.head(doc_id)
            self.versions.append(
                doc_id,
                text,
                status=doc.status,
                author=IMPORT_AUTHOR,
                message="导入 KB 文件" if head is None else "KB 文件在编辑器外被修改，已导入",
                base=head.n if head else None,
                n=doc.version,
            )

    def sync(self) -> dict[str, Path]:
        """Bring the history up to date with the KB files; return the files by document id."""
        files = self._files()
        for doc_id, path in files.items():
            self._sync(doc_id, path)
        return files

    # -- reading --------------------------------------------------------------------------------------

    def documents(self) -> list[DocSummary]:
        """Every document: those in the KB files and those that exist only as drafts."""
        self.sync()
        out = []
        for doc_id in self.versions.names():
            if doc_id in CONFIG_KEYS.values():
                continue
            head = self.versions.head(doc_id)
            if head is None:
                continue
            try:
                doc = parse_document(self.versions.text(doc_id, head.n), doc_id)
            except DocumentError:
                continue
            live = self.versions.latest(doc_id, "published", "archived")
            out.append(
                DocSummary(
                    doc.id,
                    doc.title,
                    doc.type,
                    doc.category,
                    doc.tags,
                    head.status,
                    head.n,
                    live.n if live and live.status == "published" else None,
                    head.author,
                    head.time,
                )
            )
        return out

    def document(self, doc_id: str) -> DocState:
        files = self.sync()
        head = self.versions.head(doc_id)
        if head is None:
            raise NotFoundError(f"no document '{doc_id}'; pick one from the list or create it")
        live = self.versions.latest(doc_id, "published")
        path = files.get(doc_id)
        return DocState(
            doc_id,
            head,
            self.versions.text(doc_id, head.n),
            live if live and live == self.versions.latest(doc_id, "published", "archived") else None,
            str(path.relative_to(self.kb_dir)) if path else None,
            tuple(self.versions.log(doc_id)),
        )

    def diff(self, doc_id: str, a: int, b: int) -> str:
        return self.versions.diff(doc_id, a, b)

    # -- writing --------------------------------------------------------------------------------------

    def _validated(self, text: str, doc_id: str | None = None) -> str:
        """The document id of a text that validates (and keeps `doc_id`, when given); else InvalidTextError."""
        doc, problems = validate_text(text, path=doc_id or "新文档")
        if doc is not None and doc_id is not None and doc.id != doc_id:
            problems.insert(
                0,
                Problem(
                    "id",
                    f"must stay '{doc_id}' (ids are stable across edits); to start a new document use 新建",
                ),
            )
        if any(p.blocking for p in problems) or doc is None:
            raise InvalidTextError(doc_id or "新文档", problems)
        return doc.id

    def _record(self, doc_id: str, text: str, *, status: str, author: str, message: str, base: int | None) -> Version:
        """Append `text` as the next version with its managed fields set; the caller holds the lock."""
        n = self.versions.next_n(doc_id)
        text = set_fields(text, status=status, version=n, updated=date.today())
        return self.versions.append(doc_id, text, status=status, author=author, message=message, base=base)

    def create(self, text: str, *, author: str, message: str = "") -> tuple[str, Version]:
        """A new document, as a draft (it is not retrieved until published); its id and first version."""
        doc_id = self._validated(text)
        with self.versions.lock():
            files = self.sync()
            if doc_id in files or self.versions.head(doc_id) is not None:
                where = files[doc_id].relative_to(self.kb_dir) if doc_id in files else "a draft"
                raise InvalidTextError(
                    doc_id,
                    [Problem("id", f"'{doc_id}' is already used by {where}; ids must be unique, choose another")],
                )
            return doc_id, self._record(
                doc_id, text, status="draft", author=author, message=message or "新建", base=None
            )

    def _head(self, doc_id: str) -> Version:
        files = self._files()
        if doc_id in files:
            self._sync(doc_id, files[doc_id])
        head = self.versions.head(doc_id)
        if head is None:
            raise NotFoundError(f"no document '{doc_id}'; pick one from the list or create it")
        return head

    def save(self, doc_id: str, text: str, *, base: int, author: str, message: str = "") -> Version:
        """Save an edit of version `base` as a draft; ConflictError if someone saved since `base`."""
        self._validated(text, doc_id)
        with self.versions.lock():
            self._head(doc_id)
            self.versions.check_base(doc_id, base, text, author=author, message=message, normalize=strip_managed)
            return self._record(doc_id, text, status="draft", author=author, message=message or "修改", base=base)

    def _require_head(self, doc_id: str, base: int) -> Version:
        """The head, if it is `base`; else ConflictError showing what changed since the person looked."""
        head = self._head(doc_id)
        if head.n != base:
            diff = unified_diff(
                strip_managed(self.versions.text(doc_id, base)),
                strip_managed(self.versions.text(doc_id, head.n)),
                f"v{base}（您看到的）",
                f"v{head.n}（当前）",
            )
            raise ConflictError(doc_id, base, head.n, None, diff)
        return head

    def _write_file(self, doc_id: str, text: str) -> Path:
        doc = parse_document(text, doc_id)
        path = self._files().get(doc_id) or self.kb_dir / "docs" / doc.type / f"{doc_id}.md"
        _write_atomic(path, text)
        return path

    def _check_kb(self) -> None:
        """Refuse to publish into a KB with broken files: indexing would silently drop their documents."""
        problems = self.file_problems()
        if problems:
            raise EditorError("fix these KB files first (publishing re-indexes the whole KB): " + "; ".join(problems))

    def _write_live(self, doc_id: str, text: str, *, status: str, author: str, message: str, base: int) -> Version:
        """Write `text` as the KB file and record it as the next version; the caller holds the lock."""
        n = self.versions.next_n(doc_id)
        text = set_fields(text, status=status, version=n, updated=date.today())
        self._write_file(doc_id, text)
        return self.versions.append(doc_id, text, status=status, author=author, message=message, base=base)

    def _reindexed(self, version: Version, start: float, notice: str = "") -> PublishResult:
        """Re-index after a publish; a failure is remembered (`reindex_pending`) and raised as ReindexError."""
        try:
            report, problem = self.reindex()
        except (IndexerError, KBError, OSError) as e:
            self._pending.parent.mkdir(parents=True, exist_ok=True)
            self._pending.write_text(f"{version.n}: {e}", encoding="utf-8")
            raise ReindexError(
                f"v{version.n} is saved as published, but the index was not updated ({e}): it is not served yet; "
                "the editor retries when the document list is refreshed"
            ) from e
        self._pending.unlink(missing_ok=True)
        return PublishResult(version, report, time.perf_counter() - start, "; ".join(x for x in (notice, problem) if x))

    @property
    def reindex_pending(self) -> str | None:
        """Why the last publish is not served yet (its re-index failed), or None."""
        return self._pending.read_text(encoding="utf-8") if self._pending.is_file() else None

    def retry_reindex(self) -> str | None:
        """Re-index if a publish's re-index failed; None when all is served, else what still fails."""
        if self.reindex_pending is None:
            return None
        try:
            self.reindex()
        except (IndexerError, KBError, OSError) as e:
            return str(e)
        self._pending.unlink(missing_ok=True)
        return None

    def publish(self, doc_id: str, *, base: int, author: str, message: str = "") -> PublishResult:
        """Publish the head (which must be `base`): write the KB file, re-index, the service picks it up."""
        start = time.perf_counter()
        self._check_kb()
        with self.versions.lock():
            head = self._require_head(doc_id, base)
            if head.status == "published":
                return self._reindexed(head, start, "already published")
            text = self.versions.text(doc_id, head.n)
            self._validated(text, doc_id)
            version = self._write_live(
                doc_id,
                text,
                status="published",
                author=author,
                message=message or f"发布 v{head.n}",
                base=head.n,
            )
        return self._reindexed(version, start)

    def archive(self, doc_id: str, *, base: int, author: str, message: str = "") -> PublishResult:
        """Withdraw a document: its file is kept with status archived, and it leaves the index."""
        start = time.perf_counter()
        self._check_kb()
        with self.versions.lock():
            head = self._require_head(doc_id, base)
            live = self._file_version(doc_id)
            # Archive what is on file; a pending draft stays in the history, one rollback away.
            text = self.versions.text(doc_id, live.n if live else head.n)
            version = self._write_live(
                doc_id, text, status="archived", author=author, message=message or "归档", base=head.n
            )
        return self._reindexed(version, start)

    def rollback(
        self, doc_id: str, to: int, *, base: int, author: str, message: str = "", publish: bool = False
    ) -> Version | PublishResult:
        """A new draft with the text of version `to` (a conflict version too); optionally published."""
        with self.versions.lock():
            self._require_head(doc_id, base)
            text = self.versions.text(doc_id, to)
            self._validated(text, doc_id)
            version = self._record(
                doc_id, text, status="draft", author=author, message=message or f"回滚到 v{to}", base=base
            )
        if publish:
            return self.publish(doc_id, base=version.n, author=author, message=message or f"回滚到 v{to} 并发布")
        return version

    def reindex(self) -> tuple[BuildReport, str]:
        """Bring the index up to date with the published KB and tell the service (`on_change`)."""
        with self._index_lock:
            kb = load_kb(self.kb_dir, strict=True)
            report = update_index(
                kb,
                self.embedder,
                self.index_dir,
                flat_threshold=self.flat_threshold,
                batch_size=self.batch_size,
                chunk_chars=self.chunk_chars,
            )
        return report, self._notify()

    def _notify(self) -> str:
        """Tell the service to reload now; '' when it did, else why not (it also watches the index itself)."""
        if self.on_change is None:
            return ""
        try:
            self.on_change()
        except Exception as e:  # what was saved is saved regardless; the message tells the editor
            return f"the service was not told to reload ({type(e).__name__}: {e}); it picks up a new index itself"
        return ""

    # -- rules.yaml and intents.yaml ------------------------------------------------------------------

    def config(self, name: str) -> tuple[str, Version]:
        """The text of rules.yaml or intents.yaml (the defaults when the KB has none), and its version."""
        key = CONFIG_KEYS[name]
        path = self.kb_dir / CONFIG_FILES[name]
        with self.versions.lock():
            text = path.read_text(encoding="utf-8") if path.is_file() else default_text(name)
            head = self.versions.head(key)
            if head is None or self.versions.text(key, head.n) != text:
                head = self.versions.append(
                    key,
                    text,
                    status="published",
                    author=IMPORT_AUTHOR,
                    message="导入" if path.is_file() else "默认配置",
                    base=head.n if head else None,
                )
            return text, head

    def save_config(self, name: str, text: str, *, base: int, author: str, message: str = "") -> tuple[Version, str]:
        """Validate and write rules.yaml or intents.yaml, and tell the service; the version, and a notice."""
        problems = validate_config(name, text, self.kb_dir)
        if any(p.blocking for p in problems):
            raise InvalidTextError(CONFIG_FILES[name], problems)
        key = CONFIG_KEYS[name]
        with self.versions.lock():
            self.config(name)
            self.versions.check_base(key, base, text, author=author, message=message)
            _write_atomic(self.kb_dir / CONFIG_FILES[name], text)
            version = self.versions.append(
                key, text, status="published", author=author, message=message or "修改", base=base
            )
        return version, self._notify()

    def config_history(self, name: str) -> list[Version]:
        return self.versions.log(CONFIG_KEYS[name])
