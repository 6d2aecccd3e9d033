"""The documents of a generation: each one's content hash, file stamp, and where its passages are.

    GEN/documents.npy         the base table: one record per document, sorted by id
    GEN/documents.delta.npy   records written by updates since the base, sorted by id; a record here replaces
                              the base's record of its document, and one marked `gone` removes it

Both are numpy record arrays (`record_dtype`), read memory-mapped. An update hard-links the base and writes
a delta holding the previous delta's records and those of the documents it added, changed, moved or found
re-saved unchanged: it costs what it changed, not what the KB holds. Past `FOLD_AT` delta records, and when
every document moved (a compaction), the two are folded into a new base.

Document ids are ASCII (`kb.loader.ID_PATTERN`), so byte order is their string order.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

BASE = "documents.npy"
DELTA = "documents.delta.npy"
FOLD_AT = 4096  # delta records past which an update writes a new base instead


def record_dtype(id_width: int) -> np.dtype[Any]:
    return np.dtype(
        [
            ("id", f"S{max(id_width, 1)}"),
            ("hash", "S16"),  # kb.models.Document.content_hash
            ("version", "<i4"),
            ("segment", "<i4"),  # position in the manifest's segments
            ("row", "<i8"),  # the document's first row there; its rows are consecutive
            ("n", "<i4"),  # rows
            ("leads", "<i4"),  # how many of the first rows are lead passages
            ("mtime", "<i8"),  # Document.file_stamp when indexed: (0, 0) when unknown
            ("size", "<i8"),
            ("gone", "?"),  # delta only: the document was removed
        ]
    )


@dataclass
class DocEntry:
    """One indexed document: its content hash, and where its passages are (consecutive rows of one segment;
    the first `leads` of them are its lead passages)."""

    hash: str
    version: int
    segment: int = 0
    row: int = 0
    n: int = 0
    leads: int = 0
    mtime: int = 0  # the file's modification time (ns) and size when it was indexed
    size: int = 0

    @classmethod
    def of(cls, rec: Any) -> DocEntry:
        return cls(
            rec["hash"].decode(),
            int(rec["version"]),
            int(rec["segment"]),
            int(rec["row"]),
            int(rec["n"]),
            int(rec["leads"]),
            int(rec["mtime"]),
            int(rec["size"]),
        )


Row = tuple[str, str, int, int, int, int, int, int, int, bool]  # the fields of a record, in order


def records(rows: Sequence[Row]) -> np.ndarray:
    """A record array of these rows (in any order), sorted by id."""
    width = max((len(r[0]) for r in rows), default=1)
    out = np.array([(r[0].encode("ascii"), r[1].encode("ascii"), *r[2:]) for r in rows], dtype=record_dtype(width))
    return out[np.argsort(out["id"], kind="stable")]


def _widen(a: np.ndarray, width: int) -> np.ndarray:
    dtype = record_dtype(width)
    if a.dtype == dtype:
        return a
    out = np.zeros(len(a), dtype=dtype)
    for name in dtype.names or ():
        out[name] = a[name]
    return out


def _width(a: np.ndarray) -> int:
    return int(a.dtype["id"].itemsize)


def member(ids: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Which of `ids` are in `sorted_ids` (both byte-string arrays)."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=bool)
    at = np.searchsorted(sorted_ids, ids).clip(max=len(sorted_ids) - 1)
    return np.asarray(sorted_ids[at] == ids)


def merge(older: np.ndarray, newer: np.ndarray) -> np.ndarray:
    """The records of both, sorted by id; where both hold a document, the newer's record."""
    width = max(_width(older), _width(newer))
    older, newer = _widen(np.asarray(older), width), _widen(np.asarray(newer), width)
    if not len(newer):
        return older
    older = older[~member(older["id"], newer["id"])]
    return np.insert(older, np.searchsorted(older["id"], newer["id"]), newer)


def live(recs: np.ndarray) -> np.ndarray:
    return recs[~recs["gone"]] if recs["gone"].any() else recs


def fingerprint(recs: np.ndarray) -> str:
    """`kb.models.fingerprint` of these (live, id-sorted) records: sha256 of "id:hash\\n" lines in id order,
    assembled as bytes in one pass rather than 170k Python strings."""
    n, width = len(recs), _width(recs)
    lines = np.zeros((n, width + 18), dtype=np.uint8)
    lines[:, :width] = np.ascontiguousarray(recs["id"]).view(np.uint8).reshape(n, width)
    lines[:, width] = ord(":")
    lines[:, width + 1 : width + 17] = np.ascontiguousarray(recs["hash"]).view(np.uint8).reshape(n, 16)
    lines[:, width + 17] = ord("\n")
    flat = lines.ravel()
    return hashlib.sha256(flat[flat != 0].tobytes()).hexdigest()[:12]  # ids and hashes hold no NUL: padding


class DocTable(Mapping[str, DocEntry]):
    """The documents of a generation by id: its base table overlaid with its delta (module docstring)."""

    def __init__(self, base: np.ndarray, delta: np.ndarray) -> None:
        self.base = base
        self.delta = delta

    @classmethod
    def empty(cls) -> DocTable:
        return cls(np.zeros(0, dtype=record_dtype(1)), np.zeros(0, dtype=record_dtype(1)))

    @classmethod
    def open(cls, gen: Path) -> DocTable:
        base = np.load(gen / BASE, mmap_mode="r")
        delta = np.load(gen / DELTA) if (gen / DELTA).is_file() else np.zeros(0, dtype=record_dtype(1))
        return cls(base, delta)

    @cached_property
    def records(self) -> np.ndarray:
        """Every live document's record, sorted by id."""
        return live(merge(self.base, self.delta))

    @cached_property
    def _base_ids(self) -> np.ndarray:
        return np.ascontiguousarray(self.base["id"])

    def _find(self, doc_id: str) -> Any:
        key = doc_id.encode("ascii", errors="replace")
        for table, ids in ((self.delta, self.delta["id"]), (self.base, self._base_ids)):
            i = int(np.searchsorted(ids, key))
            if i < len(ids) and ids[i] == key:
                return table[i]
        return None

    def __getitem__(self, doc_id: str) -> DocEntry:
        rec = self._find(doc_id)
        if rec is None or rec["gone"]:
            raise KeyError(doc_id)
        return DocEntry.of(rec)

    def __len__(self) -> int:
        """Counted without merging the tables (a service's health check asks)."""
        if not len(self.delta):
            return len(self.base)
        in_base = member(self.delta["id"], self._base_ids)
        return len(self.base) - int(in_base.sum()) + int((~self.delta["gone"]).sum())

    def __iter__(self) -> Iterator[str]:
        return (i.decode() for i in self.records["id"])

    def updated(self, changes: np.ndarray, *, fold: bool) -> DocTable:
        """This table with `changes` (records, `gone` for removed documents) applied: into the delta, or
        folded into a new base with `fold` or once the delta passes FOLD_AT records."""
        delta = merge(self.delta, changes)
        if fold or len(delta) > FOLD_AT:
            return DocTable(live(merge(self.base, delta)), np.zeros(0, dtype=record_dtype(1)))
        return DocTable(self.base, delta)


def write_documents(gen: Path, table: DocTable, *, base_of: Path | None) -> None:
    """Write `table` into generation `gen`; its base is hard-linked from generation `base_of` when given."""
    if base_of is not None:
        try:
            os.link(base_of / BASE, gen / BASE)
        except OSError:
            np.save(gen / BASE, np.asarray(table.base))
    else:
        np.save(gen / BASE, np.asarray(table.base))
    if len(table.delta):
        np.save(gen / DELTA, table.delta)
