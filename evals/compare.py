"""Compare two eval runs: metric deltas and the cases that flipped between pass and fail."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.errors import EvalError
from evals.metrics import display_label, flatten, metric_for
from evals.report import case_card, esc, flat_metric_keys, fmt, mark, page

CONFIG_KEYS = ("retriever", "drafter", "k", "set")
VERDICT_CLASS = {"better": "pass", "worse": "fail"}


@dataclass(frozen=True)
class Run:
    path: Path
    metrics: dict[str, Any]
    records: dict[str, dict[str, Any]]  # by case id, in the run's order

    def label(self) -> str:
        config = self.metrics.get("config", {})
        parts = [f"{k}={config[k]}" for k in CONFIG_KEYS if config.get(k) is not None]
        return f"{self.path} ({', '.join([*parts, f'{len(self.records)} cases'])})"


def load_run(path: Path | str) -> Run:
    """Read the metrics.json and cases.jsonl of a `kefu eval run --out` directory."""
    path = Path(path)
    try:
        metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
        lines = (path / "cases.jsonl").read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    except FileNotFoundError as e:
        raise EvalError(
            f"{path}: not an eval run (no {Path(str(e.filename)).name}); pass the --out directory of `kefu eval run`"
        ) from e
    except (OSError, ValueError) as e:
        raise EvalError(f"{path}: cannot read the eval run: {e}") from e
    return Run(path, metrics, {str(r["id"]): r for r in records})


@dataclass(frozen=True)
class Delta:
    key: str
    a: float | None
    b: float | None

    @property
    def change(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    def signed(self) -> str:
        """The change with its sign, as counts or to 3 decimals; empty when either side is null."""
        if self.change is None:
            return ""
        return f"{self.change:+d}" if isinstance(self.change, int) else f"{self.change:+.3f}"

    @property
    def verdict(self) -> str:
        """better / worse / same, or n/a when either side is null."""
        if self.change is None:
            return "n/a" if self.a != self.b else "same"
        if abs(self.change) < 1e-9:
            return "same"
        metric = metric_for(self.key)
        lower = metric is not None and not metric.higher_is_better
        return "better" if (self.change < 0) == lower else "worse"


@dataclass(frozen=True)
class Flip:
    case_id: str
    a: dict[str, Any]
    b: dict[str, Any]

    @property
    def changes(self) -> dict[str, tuple[bool | None, bool | None]]:
        pa, pb = self.a.get("passed", {}), self.b.get("passed", {})
        keys = [*pa, *(k for k in pb if k not in pa)]
        out = {k: (pa.get(k), pb.get(k)) for k in keys if pa.get(k) != pb.get(k)}
        if bool(self.a.get("error")) != bool(self.b.get("error")):
            out["error"] = (not self.a.get("error"), not self.b.get("error"))
        return out

    @property
    def kind(self) -> str:
        """fixed (failing in A, passing in B), broken (the reverse), or changed (fails both, differently)."""
        if self.a.get("ok") != self.b.get("ok"):
            return "fixed" if self.b.get("ok") else "broken"
        return "changed"


@dataclass(frozen=True)
class Comparison:
    a: Run
    b: Run
    deltas: list[Delta]
    flips: list[Flip]
    only_in_a: list[str]
    only_in_b: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": str(self.a.path),
            "b": str(self.b.path),
            "deltas": [
                {"metric": d.key, "a": d.a, "b": d.b, "change": d.change, "verdict": d.verdict} for d in self.deltas
            ],
            "flipped": [
                {
                    "id": f.case_id,
                    "kind": f.kind,
                    "changes": {k: {"a": va, "b": vb} for k, (va, vb) in f.changes.items()},
                }
                for f in self.flips
            ],
            "only_in_a": self.only_in_a,
            "only_in_b": self.only_in_b,
        }


def compare_runs(a: Run, b: Run) -> Comparison:
    """Every headline metric, the per-intent ones that moved, and the cases whose outcome changed."""
    fa, fb = flatten(a.metrics), flatten(b.metrics)
    deltas = []
    for key in [*fa, *(k for k in fb if k not in fa)]:
        if key.startswith("labelled."):
            continue
        d = Delta(key, fa.get(key), fb.get(key))
        # Per intent, only the quality metrics that moved: latencies always move a little.
        if not key.startswith("per_intent.") or (d.verdict != "same" and ".latency_ms." not in key):
            deltas.append(d)
    flips = [Flip(cid, ra, b.records[cid]) for cid, ra in a.records.items() if cid in b.records]
    flips = [f for f in flips if f.changes or f.a.get("ok") != f.b.get("ok")]
    order = {"broken": 0, "fixed": 1, "changed": 2}
    flips.sort(key=lambda f: order[f.kind])
    return Comparison(
        a,
        b,
        deltas,
        flips,
        [c for c in a.records if c not in b.records],
        [c for c in b.records if c not in a.records],
    )


def _arrow(a: bool | None, b: bool | None) -> str:
    sym = {True: "✓", False: "✗", None: "–"}
    return f"{sym[a]}→{sym[b]}"


def format_text(c: Comparison) -> str:
    width = max((len(d.key) for d in c.deltas), default=10)
    lines = [
        f"A: {c.a.label()}",
        f"B: {c.b.label()}",
        "",
        f"{'metric':<{width}}  {'A':>9}  {'B':>9}  {'Δ':>9}",
    ]
    for d in c.deltas:
        change = d.signed()
        lines.append(f"{d.key:<{width}}  {fmt(d.a):>9}  {fmt(d.b):>9}  {change:>9}  {d.verdict}")
    lines += ["", f"cases that flipped: {len(c.flips)}"]
    for f in c.flips:
        changes = ", ".join(f"{k} {_arrow(va, vb)}" for k, (va, vb) in f.changes.items())
        lines.append(f"  {f.kind:<7}  {f.case_id}  {changes}")
    if c.only_in_a:
        lines.append(f"only in A: {', '.join(c.only_in_a)}")
    if c.only_in_b:
        lines.append(f"only in B: {', '.join(c.only_in_b)}")
    return "\n".join(lines)


def render_html(c: Comparison) -> str:
    rows = "".join(
        f'<tr><td><code>{esc(d.key)}</code></td><td class="num">{fmt(d.a)}</td>'
        f'<td class="num">{fmt(d.b)}</td>'
        f'<td class="num">{d.signed()}</td>'
        f'<td class="{VERDICT_CLASS.get(d.verdict, "muted")}">{esc(d.verdict)}</td></tr>'
        for d in c.deltas
    )
    flips = []
    for f in c.flips:
        changes = ", ".join(f"{esc(k)} {mark(va)}→{mark(vb)}" for k, (va, vb) in f.changes.items())
        flips.append(
            f"<h3>{esc(f.kind)}: {esc(f.case_id)} <span class='meta'>{changes}</span></h3>"
            f"<p class='meta'>A</p>{case_card(f.a)}<p class='meta'>B</p>{case_card(f.b)}"
        )
    body = (
        f"<h1>Kefu eval comparison</h1><p class='meta'>A: {esc(c.a.label())}<br>B: {esc(c.b.label())}</p>"
        f"<h2>Metrics</h2><table><tr><th>metric</th><th>A</th><th>B</th><th>Δ</th><th></th></tr>{rows}</table>"
        f"<h2>Cases that flipped ({len(c.flips)})</h2>"
        + ("".join(flips) or "<p>None.</p>")
        + (f"<p>Only in A: {esc(', '.join(c.only_in_a))}</p>" if c.only_in_a else "")
        + (f"<p>Only in B: {esc(', '.join(c.only_in_b))}</p>" if c.only_in_b else "")
    )
    return page("Kefu eval comparison", body)


def markdown_table(runs: Sequence[Run]) -> str:
    """Every metric of `runs` side by side (rows in `METRICS` order), each value with the cases it is over.

    | metric | key | out/dev | out/test |
    """
    flats = [flatten(r.metrics) for r in runs]
    union: dict[str, float | None] = {}
    for f in flats:
        union.update({k: v for k, v in f.items() if k not in union})
    names = [str(r.path) for r in runs]
    lines = [
        "| metric | key | " + " | ".join(names) + " |",
        "|---|---|" + "---:|" * len(runs),
        "| cases | `n_cases` | " + " | ".join(fmt(f.get("n_cases")) for f in flats) + " |",
    ]
    for key in flat_metric_keys(union):
        m = metric_for(key)
        if m is None:
            continue
        label = display_label(m) + (f": {key.rsplit('.', 1)[1]}" if m.per_value else "")
        cells = []
        for run, f in zip(runs, flats, strict=True):
            over = run.metrics.get("labelled", {}).get(m.labelled_by) if m.labelled_by else None
            value = fmt(f.get(key))
            cells.append(value if over is None or m.per_value else f"{value} (n={over})")
        lines.append(f"| {label} | `{key}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
