"""Version history beside the KB, with optimistic locking.

    KB_DIR/.kefu/history/<key>/<n>.txt    the full text of version n
    KB_DIR/.kefu/history/<key>/log.jsonl  one line per version: n, status, author, time, message, base

`key` is a document id, or `_rules` / `_intents` for rules.yaml and intents.yaml. Every save appends a
version; nothing is ever rewritten or deleted. The *head* is the newest version that is not a conflict:
a save names the version it was edited from (`base`), and a save whose base is not the head is refused,
its text kept as a `conflict` version so that it is never lost.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from indexer.store import fsync_dir
from ui.editor.errors import ConflictError, NotFoundError

STATUSES = ("draft", "published", "archived", "conflict")
LOG = "log.jsonl"


@dataclass(frozen=True)
class Version:
    n: int
    status: str  # draft | published | archived | conflict
    author: str
    time: str  # ISO 8601, UTC
    message: str
    base: int | None  # the version this one was edited from (None: the first)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def unified_diff(a: str, b: str, a_name: str, b_name: str) -> str:
    """A unified diff of two texts, line by line; empty when they are equal."""
    lines = difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True), a_name, b_name)
    return "".join(x if x.endswith("\n") else x + "\n" for x in lines)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class VersionStore:
    """Append-only versions of texts, keyed by document id.

    >>> store = VersionStore(kb_dir / ".kefu" / "history")
    >>> with store.lock():
    ...     store.check_base("faq-x", base=2, text=text, author="小王", message="改运费")
    ...     v = store.append("faq-x", text, status="draft", author="小王", message="改运费", base=2)
    """

    # One lock per history folder in this process, shared by every store opened on it.
    _locks: ClassVar[dict[Path, tuple[threading.RLock, threading.local]]] = {}
    _locks_guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        with self._locks_guard:
            self._thread_lock, self._depth = self._locks.setdefault(
                self.root.resolve(), (threading.RLock(), threading.local())
            )

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive across threads and processes; reentrant within a thread."""
        with self._thread_lock:
            depth = getattr(self._depth, "n", 0)
            if depth:
                self._depth.n = depth + 1
                try:
                    yield
                finally:
                    self._depth.n = depth
                return
            self.root.mkdir(parents=True, exist_ok=True)
            # flock is per open file: only the outermost holder takes it, a second would wait on itself.
            with open(self.root / ".lock", "a+b") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                self._depth.n = 1
                try:
                    yield
                finally:
                    self._depth.n = 0
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def _dir(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise NotFoundError(f"'{key}' is not a document id")
        return self.root / key

    def names(self) -> list[str]:
        """Every key with at least one version."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / LOG).is_file())

    def log(self, key: str) -> list[Version]:
        path = self._dir(key) / LOG
        if not path.is_file():
            return []
        return [Version(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def get(self, key: str, n: int) -> Version:
        found = next((v for v in self.log(key) if v.n == n), None)
        if found is None:
            raise NotFoundError(
                f"{key}: no version {n}; the versions are {', '.join(str(v.n) for v in self.log(key)) or 'none'}"
            )
        return found

    def text(self, key: str, n: int) -> str:
        self.get(key, n)
        return (self._dir(key) / f"{n}.txt").read_text(encoding="utf-8")

    def next_n(self, key: str) -> int:
        """The number the next version of `key` gets; stable while the caller holds `lock()`."""
        log = self.log(key)
        return log[-1].n + 1 if log else 1

    def head(self, key: str) -> Version | None:
        return next((v for v in reversed(self.log(key)) if v.status != "conflict"), None)

    def latest(self, key: str, *statuses: str) -> Version | None:
        return next((v for v in reversed(self.log(key)) if v.status in statuses), None)

    def append(
        self,
        key: str,
        text: str,
        *,
        status: str,
        author: str,
        message: str,
        base: int | None,
        n: int | None = None,
    ) -> Version:
        """Record a version without the base check (imports, and the conflict copy itself)."""
        if status not in STATUSES:
            raise ValueError(f"status '{status}' is not one of {', '.join(STATUSES)}")
        with self.lock():
            version = Version(
                n=max(n or 0, self.next_n(key)),
                status=status,
                author=author.strip() or "匿名",
                time=now_iso(),
                message=message.strip(),
                base=base,
            )
            folder = self._dir(key)
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{version.n}.tmp"
            with open(tmp, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, folder / f"{version.n}.txt")
            fsync_dir(folder)
            # The text is in place before the log line that makes it a version.
            with open(folder / LOG, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(version.to_dict(), ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            return version

    def check_base(
        self,
        key: str,
        base: int | None,
        text: str,
        *,
        author: str,
        message: str,
        normalize: Callable[[str], str] = str,
    ) -> None:
        """Raise ConflictError (keeping `text` as a conflict version) unless `base` is the head.

        `normalize` prepares both texts for the diff shown to the person (e.g. drops managed fields).
        """
        with self.lock():
            head = self.head(key)
            if (head.n if head else None) == base:
                return
            assert head is not None  # a base given for a document with no history is caught by the caller
            current = self.text(key, head.n)
            saved = self.append(
                key,
                text,
                status="conflict",
                author=author,
                message=f"冲突：基于 v{base} 的修改，当时最新为 v{head.n}。{message}".strip(),
                base=base,
            )
            diff = unified_diff(normalize(current), normalize(text), f"v{head.n}（当前）", f"v{saved.n}（您的修改）")
            raise ConflictError(key, base, head.n, saved.n, diff)

    def diff(self, key: str, a: int, b: int) -> str:
        return unified_diff(self.text(key, a), self.text(key, b), f"v{a}", f"v{b}")
