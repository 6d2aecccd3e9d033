"""Exact names: SKUs and tags specific to one or two documents, which a user may type to mean them.

    GEN/names.json   {"names": {name: [doc ids]}}

Computed from the documents of the whole generation, not per segment: whether a tag is specific to one or
two documents depends on every document. An update that changes no document's tags or SKU hard-links the
file from the previous generation. The lead passages of a named document are found through the document
table (indexer/documents.py: its first `leads` rows).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

NAMES = "names.json"
LEAD_POSITIONS = 2  # a document's first two passages (title/specs and opening) stand for it


def exact_names(docs: Iterable[tuple[str, Sequence[str], str | None]]) -> dict[str, set[str]]:
    """Names a user may type to mean one document, from (doc id, tags, sku) of every indexed document:
    SKUs, and tags of at least two characters that one or two documents carry."""
    by_tag: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for doc_id, tags, sku in docs:
        for t in tags:
            if len(t) >= 2:
                by_tag.setdefault(t.lower(), set()).add(doc_id)
        if sku:
            names.setdefault(sku.lower(), set()).add(doc_id)
    for tag, doc_ids in by_tag.items():
        if len(doc_ids) <= 2:
            names.setdefault(tag, set()).update(doc_ids)
    return names


def write_names(gen: Path, names: Mapping[str, set[str]]) -> None:
    # Names keep their order: the query formulator carries them forward in it.
    payload = {"names": {n: sorted(docs) for n, docs in names.items()}}
    (gen / NAMES).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def keep_names(gen: Path, old_gen: Path) -> None:
    """The names of `old_gen`, unchanged, in `gen` (a hard link; a copy where links fail)."""
    try:
        os.link(old_gen / NAMES, gen / NAMES)
    except OSError:
        shutil.copy2(old_gen / NAMES, gen / NAMES)


def read_names(gen: Path) -> dict[str, tuple[str, ...]]:
    payload = json.loads((gen / NAMES).read_text(encoding="utf-8"))
    return {n: tuple(docs) for n, docs in payload["names"].items()}
