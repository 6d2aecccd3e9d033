"""One writer per index folder, across processes and machines that share it.

Every process that changes an index (an editor publishing on any replica, a replica starting up,
`kefu index update`) takes this lock first, and reads the KB only once it holds it: an update built from a
KB read before another writer's publish would drop that document again. The lock is a file beside the index
folder (`flock`), so it holds across processes on one machine and across machines on a filesystem with
working locks (local disks; NFSv4 without `nolock`; CephFS).

>>> with writer_lock(index_dir):
...     update_index(load_kb(kb_dir), embedder, index_dir)
"""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

WAIT_S = 600.0  # a full build of a large KB can hold the lock for minutes


def writer_lock(index_dir: Path, *, timeout: float = WAIT_S) -> FileLock:
    """The lock of `index_dir` (the file `.<name>.lock` beside it; reentrant within a thread)."""
    index_dir = Path(index_dir)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(index_dir.parent / f".{index_dir.name}.lock", timeout=timeout)
