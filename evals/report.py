"""`report.html`: one self-contained page (no network): summary, inline-SVG charts, the failing cases."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from evals.gate import Threshold, check_gate
from evals.metrics import BY_KEY, METRICS, confusion, display_label, flatten, intent_table, metric_for

FONTS = (
    'system-ui, -apple-system, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", '
    '"Source Han Sans SC", "WenQuanYi Micro Hei", sans-serif'
)
CSS = (
    "body, svg text { font-family: "
    + FONTS
    + "; }"
    + """
body { margin: 24px auto; max-width: 1280px; padding: 0 16px; color: #1f2328; line-height: 1.5; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #d0d7de; padding: 4px 10px; }
th { background: #f6f8fa; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7f37; } .fail { color: #cf222e; font-weight: 600; } .muted { color: #656d76; }
.meta { color: #656d76; font-size: .9em; }
.case { border: 1px solid #d0d7de; border-radius: 6px; margin: 16px 0; }
.case > header { background: #f6f8fa; padding: 6px 12px; border-bottom: 1px solid #d0d7de; }
.cols { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); }
.cols > section { padding: 8px 12px; border-right: 1px solid #d0d7de; overflow-wrap: anywhere; }
.cols > section:last-child { border-right: none; }
.cols h3 { font-size: .85em; text-transform: uppercase; color: #656d76; margin: 0 0 6px; }
.turn { margin: 4px 0; } .role { font-size: .8em; color: #656d76; margin-right: 4px; }
.customer { background: #ddf4ff; padding: 2px 6px; border-radius: 4px; }
.agent { background: #f6f8fa; padding: 2px 6px; border-radius: 4px; }
.reply { background: #fff8c5; padding: 6px; border-radius: 4px; white-space: pre-wrap; }
mark { background: #ffcecb; } code { font-size: .9em; }
table.confusion th, table.confusion td { font-size: .8em; padding: 2px 5px; }
ul { padding-left: 18px; margin: 4px 0; } svg text { font-size: 12px; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: .8em; margin-left: 4px;
         background: #ffebe9; color: #cf222e; }
"""
)

BAR_SERIES = (("intent.accuracy", "#0969da"), ("retrieval.recall@5", "#8250df"), ("reply.must_include_rate", "#bc4c00"))
PER_INTENT_COLUMNS = (
    "intent.accuracy",
    "retrieval.recall@5",
    "reply.must_include_rate",
    "reply.compliance_pass_rate",
    "reply.handoff_recall",
    "latency_ms.p50",
)


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def fmt(value: float | None) -> str:
    """A metric for display: counts as they are, rates and milliseconds to 3 decimals (whole ms from 100)."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3f}"


def page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def yes_no(value: bool | None) -> str:
    return "–" if value is None else ("yes" if value else "no")


def mark(ok: bool | None) -> str:
    if ok is None:
        return '<span class="muted">–</span>'
    return '<span class="pass">✓</span>' if ok else '<span class="fail">✗</span>'


def highlight(text: str, phrases: Iterable[str]) -> str:
    """`text` escaped, with every occurrence of the phrases wrapped in <mark>."""
    spans: list[tuple[int, int]] = []
    for p in {p for p in phrases if p}:
        start = text.find(p)
        while start >= 0:
            spans.append((start, start + len(p)))
            start = text.find(p, start + 1)
    out, pos = [], 0
    for start, end in sorted(spans):
        if end <= pos:
            continue
        start = max(start, pos)
        out += [esc(text[pos:start]), f"<mark>{esc(text[start:end])}</mark>"]
        pos = end
    out.append(esc(text[pos:]))
    return "".join(out)


# -- charts -------------------------------------------------------------------------------------------------


def per_intent_chart(per_intent: dict[str, dict[str, Any]]) -> str:
    """Horizontal grouped bars, one group per expected intent; '–' where no case is labelled for a metric."""
    if not per_intent:
        return '<p class="muted">No case is labelled with an intent.</p>'
    label_w, bar_w, bar_h, gap, top = 200, 400, 12, 12, 40
    group_h = bar_h * len(BAR_SERIES) + gap
    height = top + group_h * len(per_intent)
    parts = [
        f'<svg width="{max(label_w + bar_w + 50, label_w + 160 * len(BAR_SERIES))}" height="{height}" role="img" aria-label="metrics per intent">'
    ]
    for i, (key, color) in enumerate(BAR_SERIES):
        name = BY_KEY[key].label
        lx = label_w + i * 160
        parts.append(
            f'<rect x="{lx}" y="4" width="10" height="10" fill="{color}"/><text x="{lx + 14}" y="13">{esc(name)}</text>'
        )
    for tick in (0, 0.5, 1):
        x = label_w + tick * bar_w
        parts.append(
            f'<line x1="{x}" y1="{top - 8}" x2="{x}" y2="{height}" stroke="#d0d7de"/>'
            f'<text x="{x}" y="{top - 12}" text-anchor="middle" fill="#656d76">{tick:g}</text>'
        )
    for g, (intent, m) in enumerate(per_intent.items()):
        y0 = top + g * group_h
        flat = flatten(m)
        parts.append(
            f'<text x="{label_w - 8}" y="{y0 + bar_h * len(BAR_SERIES) / 2 + 4}" text-anchor="end">'
            f"{esc(intent)} (n={m['n_cases']})</text>"
        )
        for i, (key, color) in enumerate(BAR_SERIES):
            name = BY_KEY[key].label
            v = flat.get(key)
            y = y0 + i * bar_h
            label = "–" if v is None else f"{v:.2f}"
            if v is not None:
                parts.append(
                    f'<rect x="{label_w}" y="{y}" width="{v * bar_w:.1f}" height="{bar_h - 2}" '
                    f'fill="{color}">'
                    f"<title>{esc(intent)} {esc(name)}: {v:.3f}</title></rect>"
                )
            parts.append(
                f'<text x="{label_w + (v or 0) * bar_w + 4:.1f}" y="{y + bar_h - 3}" font-size="10" '
                f'fill="#656d76">{label}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def latency_histogram(latencies: Sequence[float], p50: float | None, p95: float | None) -> str:
    """Vertical bars of case counts per latency bin, with the p50 and p95 marked."""
    if not latencies:
        return '<p class="muted">No latency measured.</p>'
    hi = max(latencies) * 1.05 or 1.0
    n_bins = min(30, max(5, math.ceil(math.sqrt(len(latencies)) * 2)))
    width = hi / n_bins
    counts = [0] * n_bins
    for v in latencies:
        counts[min(int(v / width), n_bins - 1)] += 1
    w, h, left, top, bottom = 640, 230, 40, 34, 30
    plot_w, plot_h = w - left - 20, h - top - bottom
    peak = max(counts)
    parts = [
        f'<svg width="{w}" height="{h}" role="img" aria-label="latency histogram">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#656d76"/>',
        f'<text x="{left - 4}" y="{top + 10}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
        f'<text x="{left - 4}" y="{top + plot_h / 2}" text-anchor="end" fill="#656d76">cases</text>',
    ]
    bw = plot_w / n_bins
    for i, c in enumerate(counts):
        bh = plot_h * c / peak
        parts.append(
            f'<rect x="{left + i * bw + 1:.1f}" y="{top + plot_h - bh:.1f}" width="{bw - 2:.1f}" '
            f'height="{bh:.1f}" fill="#0969da"><title>{fmt(i * width)}–{fmt((i + 1) * width)} ms: '
            f"{c} case(s)</title></rect>"
        )
    for tick in range(0, n_bins + 1, max(1, n_bins // 5)):
        parts.append(f'<text x="{left + tick * bw:.1f}" y="{h - 12}" text-anchor="middle">{fmt(tick * width)}</text>')
    parts.append(f'<text x="{left + plot_w}" y="{h - 1}" text-anchor="end">ms</text>')
    for row, (name, at, color) in enumerate((("p50", p50, "#1a7f37"), ("p95", p95, "#cf222e"))):
        if at is not None:
            x = left + plot_w * at / hi
            # Labels near the right edge grow leftwards so they stay inside the chart.
            anchor, dx = ("end", -3) if x > left + plot_w * 0.8 else ("start", 3)
            parts.append(
                f'<line x1="{x:.1f}" y1="{top - 20 + row * 12}" x2="{x:.1f}" y2="{top + plot_h}" '
                f'stroke="{color}" stroke-dasharray="4 3"/><text x="{x + dx:.1f}" '
                f'y="{top - 12 + row * 12}" fill="{color}" text-anchor="{anchor}">{name} {fmt(at)} ms</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


# -- tables -------------------------------------------------------------------------------------------------


def summary_table(metrics: dict[str, Any], thresholds: dict[str, Threshold] | None) -> str:
    flat = flatten(metrics)
    labelled = metrics.get("labelled", {})
    failed = {f.key for f in check_gate(metrics, thresholds)} if thresholds else set()
    rows = [
        "<table><tr><th>metric</th><th>value</th><th>over cases</th>"
        + ("<th>threshold</th><th>gate</th>" if thresholds else "")
        + "</tr>"
    ]
    keys = []
    for k in flat_metric_keys(flat):
        m = metric_for(k)
        if m is not None:
            keys.append((k, display_label(m) + (f": {k.rsplit('.', 1)[1]}" if m.per_value else ""), m.labelled_by))
    keys += [(k, k, None) for k in (thresholds or {}) if k not in {r[0] for r in keys}]
    for key, label, lab in keys:
        over = labelled.get(lab) if lab else (metrics.get("n_cases") if key.startswith("latency") else None)
        row = (
            f'<tr><td>{esc(label)} <code class="muted">{esc(key)}</code></td>'
            f'<td class="num">{fmt(flat.get(key))}</td>'
            f'<td class="num">{esc(over if over is not None else "")}</td>'
        )
        if thresholds:
            t = thresholds.get(key)
            row += f"<td>{esc(t.describe()) if t else ''}</td><td>{mark(key not in failed) if t else ''}</td>"
        rows.append(row + "</tr>")
    rows.append("</table>")
    return "".join(rows)


def flat_metric_keys(flat: dict[str, float | None]) -> list[str]:
    """The table's keys in its order, each family followed by the members the run has."""
    out = []
    for m in METRICS:
        if m.per_value:
            out += sorted(k for k in flat if k.startswith(m.key + "."))
        else:
            out.append(m.key)
    return out


def per_intent_table(per_intent: dict[str, dict[str, Any]]) -> str:
    cols = [(k, BY_KEY[k].label) for k in PER_INTENT_COLUMNS]
    rows = [
        "<table><tr><th>expected intent</th><th>cases</th>" + "".join(f"<th>{esc(c)}</th>" for _, c in cols) + "</tr>"
    ]
    for intent, m in per_intent.items():
        flat = flatten(m)
        rows.append(
            f"<tr><td>{esc(intent)}</td><td class=num>{m['n_cases']}</td>"
            + "".join(f'<td class="num">{fmt(flat.get(k))}</td>' for k, _ in cols)
            + "</tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _intent_pairs(records: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (str(r["expected"]["intent"]), str(r.get("intent") or "(error)"))
        for r in records
        if r.get("expected", {}).get("intent") is not None
    ]


def intent_quality_table(records: Sequence[dict[str, Any]]) -> str:
    """Precision, recall and F1 per expected intent (`intent.macro_f1` is the mean of the F1 column)."""
    rows = intent_table(_intent_pairs(records))
    if not rows:
        return '<p class="muted">No case is labelled with an intent.</p>'
    out = ["<table><tr><th>intent</th><th>cases</th><th>classified as it</th><th>precision</th><th>recall</th>"]
    out.append("<th>F1</th></tr>")
    for r in rows:
        out.append(
            f"<tr><td>{esc(r.intent)}</td><td class=num>{r.support}</td><td class=num>{r.predicted}</td>"
            f'<td class="num">{fmt(r.precision)}</td><td class="num">{fmt(r.recall)}</td>'
            f'<td class="num">{fmt(r.f1)}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def confusion_table(records: Sequence[dict[str, Any]]) -> str:
    """Rows: expected intent; columns: what it was classified as; off-diagonal counts marked."""
    matrix = confusion(_intent_pairs(records))
    if not matrix:
        return ""
    cols = sorted({p for row in matrix.values() for p in row} | set(matrix))
    head = "".join(f'<th title="{esc(c)}">{esc(c)}</th>' for c in cols)
    out = [f'<table class="confusion"><tr><th>expected ↓ / classified →</th>{head}</tr>']
    for e in sorted(matrix):
        cells = []
        for c in cols:
            n = matrix[e].get(c, 0)
            cls = "pass" if c == e else ("fail" if n else "muted")
            cells.append(f'<td class="num {cls}">{n or "·"}</td>')
        out.append(f"<tr><th>{esc(e)}</th>{''.join(cells)}</tr>")
    out.append("</table>")
    return "".join(out)


def failed_keys(record: dict[str, Any]) -> list[str]:
    return [k for k, ok in record.get("passed", {}).items() if not ok] + (["error"] if record.get("error") else [])


def _conversation(record: dict[str, Any]) -> str:
    turns = "".join(
        f'<div class="turn"><span class="role">{"顾客" if t["role"] == "customer" else "客服"}</span>'
        f'<span class="{esc(t["role"])}">{esc(t["text"])}</span></div>'
        for t in record.get("conversation", [])
    )
    ctx = record.get("context")
    if ctx:
        turns += (
            f"<details><summary>context</summary><pre>"
            f"{esc(json.dumps(ctx, ensure_ascii=False, indent=1))}</pre></details>"
        )
    return turns


def _expected(record: dict[str, Any]) -> str:
    exp, passed = record.get("expected", {}), record.get("passed", {})
    items = []
    if "intent" in exp:
        items.append(f"{mark(passed.get('intent'))} intent <b>{esc(exp['intent'])}</b>, got {esc(record['intent'])}")
    if "emotion" in exp:
        items.append(
            f"{mark(passed.get('emotion'))} emotion <b>{esc(exp['emotion'])}</b>, got {esc(record['emotion'])}"
        )
    if "doc_ids" in exp:
        wanted = set(exp["doc_ids"])
        got = ", ".join(f"<b>{esc(d)}</b>" if d in wanted else esc(d) for d in record.get("retrieved", [])[:5])
        items.append(
            f"{mark(passed.get('doc_ids'))} docs {esc(', '.join(exp['doc_ids']))}; "
            f"top 5 retrieved: {got or '<i>none</i>'}"
        )
    if "must_include" in exp:
        missing = set(record.get("must_include_missing", []))
        shown = ", ".join(
            f'<span class="fail">{esc(e)}</span>' if e in missing else esc(e) for e in exp["must_include"]
        )
        items.append(f"{mark(passed.get('must_include'))} must include: {shown}")
    if "must_not_include" in exp:
        found = set(record.get("must_not_include_found", []))
        shown = ", ".join(
            f'<span class="fail">{esc(e)}</span>' if e in found else esc(e) for e in exp["must_not_include"]
        )
        items.append(f"{mark(passed.get('must_not_include'))} must not include: {shown}")
    if "polarity" in exp:
        items.append(
            f"{mark(passed.get('polarity'))} answers <b>{esc(exp['polarity'])}</b>, "
            f"the top suggestion reads as {esc(record.get('polarity') or 'no stance')}"
        )
    if "handoff" in exp:
        want = f" ({esc(exp['handoff_reason'])})" if exp.get("handoff_reason") else ""
        items.append(
            f"{mark(passed.get('handoff'))} handoff <b>{yes_no(exp['handoff'])}</b>{want}, got "
            f"{yes_no(record['handoff'])}"
            + (
                f" ({esc(record.get('handoff_reason_code'))}: {esc(record['handoff_reason'])})"
                if record.get("handoff_reason")
                else ""
            )
        )
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>" if items else '<p class="muted">none</p>'


def _suggestion(record: dict[str, Any]) -> str:
    if record.get("error"):
        return f'<p class="fail">{esc(record["error"])}</p>'
    suggestions = record.get("suggestions", [])
    if not suggestions:
        return '<p class="muted">no suggestion</p>'
    checks = record.get("checks") or {}
    flagged = [*record.get("must_not_include_found", []), *(v["span"] for v in checks.get("violations", []))]
    top = suggestions[0]
    parts = [
        f'<div class="reply">{highlight(top["text"], flagged)}</div>',
        f'<p class="meta">{esc(top.get("style"))} · {esc(top.get("drafter"))} · cites: '
        f"{esc(', '.join(top['citations'])) or 'nothing'}</p>",
    ]
    if len(suggestions) > 1:
        others = "".join(
            f'<li>{esc(s["text"])} <span class="meta">[{esc(", ".join(s["citations"]))}]</span></li>'
            for s in suggestions[1:]
        )
        parts.append(f"<details><summary>{len(suggestions) - 1} more</summary><ul>{others}</ul></details>")
    return "".join(parts)


def _checks(record: dict[str, Any]) -> str:
    """Each violation with its span, message and suggested fix; then the rules that passed, in one line."""
    checks = record.get("checks")
    if not checks:
        return '<p class="muted">not checked</p>'
    items = [
        f"{mark(False) if v.get('severity', 'block') == 'block' else '⚠'} {esc(v['rule'])}: "
        f"{esc(v['message'])} "
        f"<mark>{esc(v['span'])}</mark>" + (f" → {esc(v['suggestion'])}" if v.get("suggestion") else "")
        for v in checks.get("violations", [])
    ]
    flagged = {v["rule"] for v in checks.get("violations", [])}
    clean = [r["rule"] for r in checks.get("rules", []) if r["rule"] not in flagged]
    if clean:
        items.append(f'{mark(True)} <span class="muted">{esc(", ".join(clean))}</span>')
    return f"<p>{mark(checks.get('passed'))} overall</p><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def case_card(record: dict[str, Any]) -> str:
    badges = "".join(f'<span class="badge">{esc(k)}</span>' for k in failed_keys(record))
    head = (
        f'<header><b>{esc(record["id"])}</b> <span class="meta">line {esc(record.get("line"))} · '
        f"intent {esc(record.get('intent'))} · emotion {esc(record.get('emotion'))} · "
        f"handoff {yes_no(record.get('handoff'))} · {fmt(record.get('latency_ms'))} ms</span>"
        f"{badges}</header>"
    )
    cols = (
        ("Conversation", _conversation(record)),
        ("Expected", _expected(record)),
        ("Top suggestion", _suggestion(record)),
        ("Rule checks", _checks(record)),
    )
    return (
        f'<div class="case" id="case-{esc(record["id"])}">{head}<div class="cols">'
        + "".join(f"<section><h3>{esc(t)}</h3>{body}</section>" for t, body in cols)
        + "</div></div>"
    )


def all_cases_table(records: Sequence[dict[str, Any]]) -> str:
    keys = ("intent", "emotion", "doc_ids", "must_include", "must_not_include", "polarity", "handoff", "compliance")
    rows = ["<table><tr><th>id</th>" + "".join(f"<th>{esc(k)}</th>" for k in keys) + "<th>ms</th></tr>"]
    for r in records:
        passed = r.get("passed", {})
        rows.append(
            f"<tr><td>{esc(r['id'])}</td>"
            + "".join(f"<td>{mark(passed.get(k))}</td>" for k in keys)
            + f'<td class="num">{fmt(r.get("latency_ms"))}</td></tr>'
        )
    rows.append("</table>")
    return "".join(rows)


def render_report(
    metrics: dict[str, Any],
    records: Sequence[dict[str, Any]],
    *,
    thresholds: dict[str, Threshold] | None = None,
) -> str:
    config = metrics.get("config", {})
    failing = [r for r in records if not r.get("ok")]
    latencies = [r["latency_ms"] for r in records if r.get("latency_ms") is not None]
    lat = metrics.get("latency_ms", {})
    meta = " · ".join(f"{esc(k)}: {esc(v)}" for k, v in config.items() if v is not None)
    body = [
        "<h1>Kefu eval report</h1>",
        f'<p class="meta">{meta}</p>',
        f"<p>{metrics.get('n_cases', len(records))} cases, <b>{len(failing)}</b> failing "
        f"(an expectation missed, the top suggestion failed the rules, or the assistant raised).</p>",
        "<h2>Summary</h2>",
        summary_table(metrics, thresholds),
        "<h2>Per intent</h2>",
        per_intent_chart(metrics.get("per_intent", {})),
        per_intent_table(metrics.get("per_intent", {})),
        "<h2>Intent classification</h2>",
        intent_quality_table(records),
        "<details><summary>Confusion matrix</summary>",
        confusion_table(records),
        "</details>",
        "<h2>Latency</h2>",
        latency_histogram(latencies, lat.get("p50"), lat.get("p95")),
        f"<h2>Failing cases ({len(failing)})</h2>",
        "".join(case_card(r) for r in failing) or '<p class="pass">Every case passed.</p>',
        "<h2>All cases</h2>",
        f"<details><summary>{len(records)} cases</summary>{all_cases_table(records)}</details>",
    ]
    return page("Kefu eval report", "".join(body))


def write_report(
    path: Path | str,
    metrics: dict[str, Any],
    records: Sequence[dict[str, Any]],
    *,
    thresholds: dict[str, Threshold] | None = None,
) -> None:
    Path(path).write_text(render_report(metrics, records, thresholds=thresholds), encoding="utf-8")
