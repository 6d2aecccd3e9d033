"""The index manifest: which model built it, from which KB, with which segments; its documents are in the
generation's document table (indexer/documents.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.documents import BASE, DocTable

# On-disk layout of a generation; 2 added the memory-mapped chunk store (indexer/chunkstore.py), 3 the
# segments (indexer/segment.py) with tombstones, BM25 postings of our own and the KB summary, 4 the document
# table (indexer/documents.py) in place of the manifest's document list and the lead rows of names.json.
FORMAT = 4
MANIFEST = "manifest.json"


@dataclass
class Manifest:
    model_name: str
    model_id: str
    dim: int
    dense_kind: str
    kb_root: str
    kb_fingerprint: str
    created: str
    n_chunks: int = 0
    n_docs: int = 0
    format: int = FORMAT
    chunker: str = ""  # chunker version and size; a change forces a full rebuild
    segments: list[str] = field(default_factory=list)  # oldest (the base) first
    stats: dict[str, Any] = field(default_factory=dict)
    documents: DocTable = field(default_factory=DocTable.empty)  # not in the JSON: documents.npy

    def to_json(self) -> str:
        skip = ("documents", "stats", "segments", "model_name", "model_id", "dim")
        d: dict[str, Any] = {f: getattr(self, f) for f in self.__dataclass_fields__ if f not in skip}
        d["model"] = {"name": self.model_name, "id": self.model_id, "dim": self.dim}
        d["stats"], d["segments"] = dict(self.stats), list(self.segments)
        return json.dumps(d, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Reads manifests of every format; `format` says whether the rest of the generation can be used
        (only a current one has its document table read)."""
        d = json.loads(path.read_text(encoding="utf-8"))
        model = d.pop("model")
        known = set(cls.__dataclass_fields__) - {"documents"}
        extra = {k: v for k, v in d.items() if k in known}
        m = cls(model_name=model["name"], model_id=model["id"], dim=model["dim"], **extra)
        if m.format == FORMAT and (path.parent / BASE).is_file():
            m.documents = DocTable.open(path.parent)
        return m
