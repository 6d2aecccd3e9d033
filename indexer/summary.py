"""The KB summary of a generation, written at index time so that serving need not read the KB's documents.

    GEN/kb_summary.json   {"fingerprint": ..., "n_published": ...}: the version of the indexed documents

Opening a 1M-chunk KB for serving used to parse every document (~2 min) for these two values. The rules and
intents are read from the KB folder's two small YAML files at start instead of being stored here: the editor
saves them without re-indexing, and the service must serve what was saved.
"""

from __future__ import annotations

import json
from pathlib import Path

from kb import KBSummary, load_rules_and_intents

SUMMARY = "kb_summary.json"


def write_summary(gen: Path, kb_fingerprint: str, n_published: int) -> None:
    payload = {"fingerprint": kb_fingerprint, "n_published": n_published}
    (gen / SUMMARY).write_text(json.dumps(payload), encoding="utf-8")


def read_summary(gen: Path, kb_dir: Path) -> KBSummary:
    """The summary of the KB at `kb_dir` as indexed in `gen`: no document is read."""
    payload = json.loads((gen / SUMMARY).read_text(encoding="utf-8"))
    rules, intents = load_rules_and_intents(kb_dir)
    return KBSummary(kb_dir, rules, intents, str(payload["fingerprint"]), int(payload["n_published"]))
