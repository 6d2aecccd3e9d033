"""The index manifest: which model built it, from which KB, with which documents in which segments."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# On-disk layout of a generation; 2 added the memory-mapped chunk store (indexer/chunkstore.py), 3 the
# segments (indexer/segment.py) with tombstones, BM25 postings of our own and the KB summary.
FORMAT = 3


@dataclass
class DocEntry:
    """One indexed document: its content hash, and where its passages are (consecutive rows of one segment;
    the first `leads` of them are its lead passages)."""

    hash: str
    version: int
    title: str
    segment: int = 0
    row: int = 0
    n: int = 0
    leads: int = 0
    stamp: str = ""  # the file's modification time and size when it was indexed


@dataclass
class Manifest:
    model_name: str
    model_id: str
    dim: int
    dense_kind: str
    kb_root: str
    kb_fingerprint: str
    created: str
    documents: dict[str, DocEntry] = field(default_factory=dict)
    n_chunks: int = 0
    format: int = FORMAT
    chunker: str = ""  # chunker version and size; a change forces a full rebuild
    segments: list[str] = field(default_factory=list)  # oldest (the base) first
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        d = {f: getattr(self, f) for f in self.__dataclass_fields__ if f not in ("documents", "stats", "segments")}
        d["model"] = {"name": d.pop("model_name"), "id": d.pop("model_id"), "dim": d.pop("dim")}
        d["stats"], d["segments"] = dict(self.stats), list(self.segments)
        d["documents"] = {
            k: [e.hash, e.version, e.title, e.segment, e.row, e.n, e.leads, e.stamp] for k, e in self.documents.items()
        }
        return json.dumps(d, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Reads manifests of every format; `format` says whether the rest of the generation can be used."""
        d = json.loads(path.read_text(encoding="utf-8"))
        model = d.pop("model")
        docs = {k: _doc_entry(v) for k, v in d.pop("documents").items()}
        known = set(cls.__dataclass_fields__)
        extra = {k: v for k, v in d.items() if k in known}
        return cls(model_name=model["name"], model_id=model["id"], dim=model["dim"], documents=docs, **extra)


def _doc_entry(v: Any) -> DocEntry:
    if isinstance(v, list):  # format 3: the fields in order, ~3x smaller and faster to read than objects
        return DocEntry(*v)
    return DocEntry(v["hash"], v["version"], v["title"])  # format 2 and older: only what tells it apart
