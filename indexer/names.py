"""Exact names (SKUs, tags specific to one or two documents) and the lead passages of the named documents.

    GEN/names.json   {"names": {name: [doc ids]}, "leads": {doc id: [segment, first row, rows]}}

Computed from the documents of the whole generation, not per segment: whether a tag is specific to one or
two documents depends on every document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

NAMES = "names.json"
LEAD_POSITIONS = 2  # a document's first two passages (title/specs and opening) stand for it

Lead = tuple[int, int, int]  # segment, first row, number of rows


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


def write_names(gen: Path, names: Mapping[str, set[str]], leads: Mapping[str, Lead]) -> None:
    named = {d for docs in names.values() for d in docs}
    # Names keep their order: the query formulator carries them forward in it.
    payload = {
        "names": {n: sorted(docs) for n, docs in names.items()},
        "leads": {d: list(lead) for d, lead in leads.items() if d in named and lead[2]},
    }
    (gen / NAMES).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def read_names(gen: Path) -> tuple[dict[str, tuple[str, ...]], dict[str, Lead]]:
    payload = json.loads((gen / NAMES).read_text(encoding="utf-8"))
    names = {n: tuple(docs) for n, docs in payload["names"].items()}
    leads = {d: (int(s), int(r), int(n)) for d, (s, r, n) in payload["leads"].items()}
    return names, leads
