"""The live assistant, swapped for a new one when the index changes, without a restart or a failed request."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assistant.pipeline import Assistant, Drafter
from indexer.embedding import Embedder
from indexer.index import Index
from indexer.store import CURRENT

log = logging.getLogger("kefu.service")

Signature = tuple[int, int, int] | None


def _signature(marker: Path) -> Signature:
    """Identity of the index's CURRENT marker: a build replaces the file, so the inode or mtime changes."""
    try:
        st = os.stat(marker)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def assistant_factory(
    kb_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    k: int = 5,
    mode: str = "hybrid",
    drafter: Drafter | None = None,
    answerable_threshold: float | None = None,
) -> Callable[[], Assistant]:
    """A factory of assistants on the index and KB as they are on disk when it is called; the (loaded)
    embedder and drafter are shared by every assistant it makes."""

    def make() -> Assistant:
        index = Index.open(index_dir, embedder)
        return Assistant(
            index,
            index.kb_summary(kb_dir),  # written at index time: no document is parsed
            k=k,
            mode=mode,
            drafter=drafter,
            answerable_threshold=answerable_threshold,
        )

    return make


@dataclass(frozen=True)
class ReloadStatus:
    loaded_at: str | None
    reloads: int
    reloading: bool
    last_error: str | None


class AssistantHolder:
    """Keeps the current `Assistant`; a changed index is loaded in the background and swapped in atomically.

    `factory` builds a ready assistant (opens the index, loads the KB, warms up). Requests call `get()` once
    and keep the object they got, so a swap never affects a request in flight. The index directory's
    CURRENT marker is stat-ed at most once per `check_interval_s`.

    >>> holder = AssistantHolder(factory, index_dir=Path("~/.local/share/kefu/indexes/kb-1a2b3c4d"))
    >>> holder.start()            # at start-up: loads the first assistant
    >>> bot = holder.get()        # per request
    """

    def __init__(
        self,
        factory: Callable[[], Assistant],
        *,
        index_dir: Path | None = None,
        check_interval_s: float = 1.0,
        retry_after_error_s: float = 10.0,
    ) -> None:
        self._factory = factory
        self._marker = index_dir / CURRENT if index_dir is not None else None
        self.check_interval_s = check_interval_s
        self.retry_after_error_s = retry_after_error_s
        self._current: Assistant | None = None
        self._loaded_sig: Signature = None
        self._started = 0  # builds started; a result is dropped when a later-started build already serves
        self._installed = 0
        self._next_check = 0.0
        self._lock = threading.Lock()  # guards the fields below and the first load
        self._building: threading.Thread | None = None
        self._failed: tuple[Signature, float] | None = None
        self._loaded_at: str | None = None
        self._reloads = 0
        self._last_error: str | None = None
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> Assistant:
        """Load the first assistant now (idempotent)."""
        with self._lock:
            if self._current is None:
                sig, seq = self._sig(), self._next_seq()
                self._install(self._build(), sig, seq)
            return self._current  # type: ignore[return-value]

    def get(self) -> Assistant:
        """The current assistant; starts a background reload when the index changed."""
        current = self._current
        if current is None:
            return self.start()
        now = time.monotonic()
        if self._marker is not None and now >= self._next_check:
            self._next_check = now + self.check_interval_s
            self._maybe_reload(now)
        return current

    def reload_now(self) -> Assistant:
        """Build a new assistant from the index as it is now and swap it in; raises if that fails."""
        with self._lock:
            sig, seq = self._sig(), self._next_seq()
        bot = self._build()
        with self._lock:
            self._install(bot, sig, seq)
        return bot

    @property
    def loaded(self) -> bool:
        """Whether an assistant is being served."""
        return self._current is not None

    def watch(self) -> None:
        """Check the index every `check_interval_s` in a background thread, so that a new generation is loaded
        without waiting for a request (idempotent; `stop_watching` ends it)."""
        if self._marker is None or (self._watcher is not None and self._watcher.is_alive()):
            return
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name="kefu-index-watch", daemon=True)
        self._watcher.start()

    def stop_watching(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self.check_interval_s):
            try:
                self.get()
            except Exception:  # a failed first load is retried by the next request or check
                log.exception("index check failed")

    def status(self) -> ReloadStatus:
        building = self._building
        return ReloadStatus(
            self._loaded_at, self._reloads, building is not None and building.is_alive(), self._last_error
        )

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait for a background reload in progress (tests, shutdown)."""
        building = self._building
        if building is not None:
            building.join(timeout)

    # -- internals -------------------------------------------------------------------------------------
    def _sig(self) -> Signature:
        return _signature(self._marker) if self._marker is not None else None

    def _build(self) -> Assistant:
        bot = self._factory()
        bot.warm_up()
        return bot

    def _next_seq(self) -> int:
        self._started += 1
        return self._started

    def _install(self, bot: Assistant, sig: Signature, seq: int) -> None:
        """Swap in `bot` (caller holds the lock) unless a build started later is already serving."""
        if seq < self._installed:
            return
        if self._current is not None:
            self._reloads += 1
        self._current = bot  # a plain reference assignment: atomic for readers
        self._installed = seq
        self._loaded_sig = sig
        self._loaded_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._failed = None
        self._last_error = None

    def _maybe_reload(self, now: float) -> None:
        sig = self._sig()
        if sig is None or sig == self._loaded_sig:
            return
        with self._lock:
            if self._building is not None and self._building.is_alive():
                return
            if self._failed and self._failed[0] == sig and now < self._failed[1]:
                return
            self._building = threading.Thread(
                target=self._reload_in_background,
                args=(sig, self._next_seq()),
                name="kefu-index-reload",
                daemon=True,
            )
            self._building.start()

    def _reload_in_background(self, sig: Signature, seq: int) -> None:
        t0 = time.perf_counter()
        try:
            bot = self._build()
        except Exception as e:  # the old assistant keeps serving; the error shows in /healthz
            log.exception("index reload failed; still serving the previous index")
            with self._lock:
                self._failed = (sig, time.monotonic() + self.retry_after_error_s)
                self._last_error = f"{type(e).__name__}: {e}"
            return
        with self._lock:
            self._install(bot, sig, seq)
        log.info("index reloaded: generation %s (%.0f ms)", bot.index.generation, (time.perf_counter() - t0) * 1000)
