"""The index manifest: which model built it, from which KB, with which documents."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# On-disk layout of a generation; 2 added the memory-mapped chunk store (indexer/chunkstore.py).
FORMAT = 2


@dataclass
class DocEntry:
    hash: str
    version: int
    title: str
    chunk_ids: list[str]


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
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        d = asdict(self)
        d["model"] = {"name": d.pop("model_name"), "id": d.pop("model_id"), "dim": d.pop("dim")}
        return json.dumps(d, ensure_ascii=False, indent=1, sort_keys=True)

    @classmethod
    def read(cls, path: Path, *, chunk_ids: bool = True) -> Manifest:
        """Without `chunk_ids`, documents list no chunk ids: they are needed only to update an index and take
        ~100 MB at 1M chunks in a process that only searches."""
        d = json.loads(path.read_text(encoding="utf-8"))
        model = d.pop("model")
        docs = {
            k: DocEntry(**v) if chunk_ids else DocEntry(v["hash"], v["version"], v["title"], [])
            for k, v in d.pop("documents").items()
        }
        return cls(model_name=model["name"], model_id=model["id"], dim=model["dim"], documents=docs, **d)
