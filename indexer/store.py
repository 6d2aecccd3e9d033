"""Index directory layout with atomic switch-over between generations.

    INDEX_DIR/CURRENT          name of the live generation (replaced atomically)
    INDEX_DIR/gen-<stamp>/     manifest.json, documents.npy (+ documents.delta.npy), names.json,
                               kb_summary.json, tombstones.npz, segments/<name>/ (indexer/segment.py); segments,
                               the documents' base table and unchanged names are hard-linked between generations

A build writes a new generation completely and only then points CURRENT at it, so a build killed
halfway leaves the previous index in use. Older generations are pruned, keeping the previous one.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

from indexer.errors import IndexNotFoundError

CURRENT = "CURRENT"
KEEP_GENERATIONS = 2


def current_generation(index_dir: Path) -> Path:
    marker = index_dir / CURRENT
    if not marker.is_file():
        raise IndexNotFoundError(f"{index_dir}: no index built yet; run `kefu index build --index {index_dir}`")
    gen = index_dir / marker.read_text(encoding="utf-8").strip()
    if not (gen / "manifest.json").is_file():
        raise IndexNotFoundError(f"{gen}: the index is incomplete; run `kefu index build --index {index_dir}`")
    return gen


def new_generation(index_dir: Path) -> Path:
    index_dir.mkdir(parents=True, exist_ok=True)
    # Names sort in creation order, to the microsecond: `prune` keeps the newest by name, and an editor can
    # publish twice in one second.
    now = time.time()
    stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(now)) + f"{int(now % 1 * 1_000_000):06d}"
    gen = index_dir / f".tmp-gen-{stamp}-{uuid.uuid4().hex[:6]}"
    gen.mkdir()
    return gen


def fsync_dir(path: Path) -> None:
    """Make renames and new files in `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit_generation(index_dir: Path, tmp_gen: Path) -> Path:
    """Make a fully written generation the live one."""
    for f in tmp_gen.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        elif f.is_dir():
            fsync_dir(f)
    fsync_dir(tmp_gen)
    final = index_dir / tmp_gen.name.removeprefix(".tmp-")
    tmp_gen.rename(final)
    fsync_dir(index_dir)
    marker_tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
    marker_tmp.write_text(final.name, encoding="utf-8")
    with open(marker_tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(marker_tmp, index_dir / CURRENT)
    fsync_dir(index_dir)
    prune(index_dir)
    return final


def prune(index_dir: Path) -> None:
    """Remove abandoned temporary generations and all but the newest live ones."""
    live = (index_dir / CURRENT).read_text(encoding="utf-8").strip() if (index_dir / CURRENT).is_file() else ""
    gens = sorted((p for p in index_dir.glob("gen-*") if p.is_dir()), key=lambda p: p.name)
    keep = {live, *(p.name for p in gens[-KEEP_GENERATIONS:])}
    for p in gens:
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)
    for p in index_dir.glob(".tmp-gen-*"):
        if p.is_dir() and time.time() - p.stat().st_mtime > 3600:
            shutil.rmtree(p, ignore_errors=True)
