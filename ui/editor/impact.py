"""Impact preview: an eval set on the published KB and on the drafts, metric deltas and changed cases."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals import runner
from evals.cases import load_cases
from evals.compare import compare_runs, load_run
from evals.runner import run_eval
from ui.editor.preview import Previewer

DEV_SET = "dev.jsonl"


def default_eval_set() -> Path:
    """The shipped dev set (evals/sets/dev.jsonl)."""
    return Path(runner.__file__).parent / "sets" / DEV_SET


@dataclass(frozen=True)
class CaseChange:
    """A case whose suggestions, citations, retrieved documents or outcome differ between the two runs."""

    id: str
    query: str
    what: tuple[str, ...]  # suggestions | citations | retrieved | outcome
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True)
class Impact:
    set_path: Path
    n_cases: int
    drafts: tuple[tuple[str, int], ...]
    deltas: list[dict[str, Any]] = field(default_factory=list)  # metric, published, draft, change, verdict
    changed: list[CaseChange] = field(default_factory=list)
    out_dir: Path | None = None
    seconds: float = 0.0


def _view(record: dict[str, Any]) -> dict[str, Any]:
    suggestions = record.get("suggestions") or []
    return {
        "suggestions": [s.get("text", "") for s in suggestions],
        "citations": [list(s.get("citations") or []) for s in suggestions],
        "retrieved": list(record.get("retrieved") or []),
        "ok": record.get("ok"),
    }


def changed_cases(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> list[CaseChange]:
    """Cases of run `a` whose suggestions, citations, retrieved documents or pass/fail differ in run `b`."""
    out = []
    for case_id, ra in a.items():
        rb = b.get(case_id)
        if rb is None:
            continue
        va, vb = _view(ra), _view(rb)
        what = tuple(k for k in ("suggestions", "citations", "retrieved") if va[k] != vb[k])
        if va["ok"] != vb["ok"]:
            what += ("outcome",)
        if what:
            turns = ra.get("conversation") or [{}]
            out.append(CaseChange(case_id, str(turns[-1].get("text", "")), what, va, vb))
    return out


def run_impact(previewer: Previewer, set_path: Path, out_dir: Path, *, limit: int | None = None) -> Impact:
    """Run the set on both KBs into `out_dir/published` and `out_dir/draft`; compare them."""
    start = time.perf_counter()
    cases = load_cases(set_path)[:limit]
    published, _ = previewer.assistant("published")
    draft, drafts = previewer.assistant("draft")
    if not drafts:
        return Impact(set_path, len(cases), drafts, seconds=time.perf_counter() - start)
    config = {"set": str(set_path), "retriever": previewer.mode, "k": previewer.k}
    run_eval(published, cases, out_dir / "published", config={**config, "kb": "published"})
    run_eval(draft, cases, out_dir / "draft", config={**config, "kb": "draft"})
    a, b = load_run(out_dir / "published"), load_run(out_dir / "draft")
    comparison = compare_runs(a, b)
    deltas = [
        {"metric": d.key, "published": d.a, "draft": d.b, "change": d.change, "verdict": d.verdict}
        for d in comparison.deltas
    ]
    return Impact(
        set_path,
        len(cases),
        drafts,
        deltas,
        changed_cases(a.records, b.records),
        out_dir,
        time.perf_counter() - start,
    )
