"""`qa.html`: one self-contained page (no network, inline SVG): pass rate per agent and day against the target
line, the figures per agent, and the worst replies with the rule, the span and Kefu's own answer for that moment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals.qa.checks import TurnReview
from evals.report import esc, highlight, page

COLORS = ("#0969da", "#bc4c00", "#8250df", "#1a7f37", "#cf222e", "#9a6700", "#0550ae", "#bf3989", "#57606a")
RULE_LABELS = {
    "banned_phrases": "禁用语",
    "vague_words": "模糊用语",
    "negative_framing": "消极表达",
    "politeness": "礼貌用语",
    "absolute_claims": "绝对化承诺",
    "unsupported_facts": "数字无出处",
    "over_promising": "过度承诺",
    "insult_echo": "复述辱骂",
    "pii_echo": "复述个人信息",
    "response_time": "响应时间",
    "empathy": "情绪安抚",
    "next_step": "下一步与时限",
}
EXTRA_CSS = """
.qa-turn { border: 1px solid #d0d7de; border-radius: 6px; margin: 14px 0; }
.qa-turn > header { background: #f6f8fa; padding: 6px 12px; border-bottom: 1px solid #d0d7de; }
.qa-turn .cols { grid-template-columns: repeat(3, minmax(0, 1fr)); }
.model { background: #dafbe1; padding: 6px; border-radius: 4px; white-space: pre-wrap; }
.rule { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: .8em; margin-right: 4px;
        background: #ffebe9; color: #cf222e; }
"""


def label(rule: str) -> str:
    return f"{RULE_LABELS.get(rule, rule)} ({rule})"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def pass_rate_chart(days: Sequence[dict[str, Any]], target: float) -> str:
    """Pass rate per agent (one line each) and day, from 0 to 100%, with the target as a dashed line."""
    dates = sorted({d["day"] for d in days})
    agents = sorted({d["agent_id"] for d in days})
    if not dates:
        return '<p class="muted">没有可统计的客服回复。</p>'
    left, top, plot_w, plot_h, legend_w = 56, 24, max(360, 90 * len(dates)), 260, 200
    width, height = left + plot_w + legend_w, top + plot_h + 48

    def x(day: str) -> float:
        return left + (plot_w * (dates.index(day) + 0.5) / len(dates))

    def y(rate: float) -> float:
        return top + plot_h * (1 - rate)

    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="pass rate per agent and day" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            f'<line x1="{left}" y1="{y(tick)}" x2="{left + plot_w}" y2="{y(tick)}" stroke="#eaeef2"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4}" text-anchor="end" fill="#656d76">{tick * 100:.0f}%</text>'
        )
    for day in dates:
        parts.append(
            f'<text x="{x(day)}" y="{top + plot_h + 18}" text-anchor="middle" fill="#656d76">{esc(day)}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{y(target)}" x2="{left + plot_w}" y2="{y(target)}" stroke="#cf222e" '
        f'stroke-dasharray="6 4" stroke-width="1.5"/><text x="{left + plot_w - 4}" y="{y(target) - 6}" '
        f'text-anchor="end" fill="#cf222e">合格线 {target * 100:g}%</text>'
    )
    for n, agent in enumerate(agents):
        color = COLORS[n % len(COLORS)]
        points = [
            (x(d["day"]), y(d["pass_rate"]), d) for d in days if d["agent_id"] == agent and d["pass_rate"] is not None
        ]
        points.sort(key=lambda p: p[0])
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for px, py, d in points:
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{color}"><title>{esc(agent)} {esc(d["day"])}: '
                f"{_pct(d['pass_rate'])} ({d['turns_passed']}/{d['turns_checked']})</title></circle>"
            )
        ly = top + 14 + n * 18
        parts.append(
            f'<rect x="{left + plot_w + 16}" y="{ly - 9}" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + plot_w + 32}" y="{ly}">{esc(agent)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _figures_row(name: str, s: dict[str, Any], target: float) -> str:
    rate = s["pass_rate"]
    cls = "pass" if rate is not None and rate >= target else "fail"
    rules = "、".join(f"{RULE_LABELS.get(r, r)} {n}" for r, n in list(s["violations_by_rule"].items())[:4])
    return (
        f"<tr><td>{esc(name)}</td><td class='num'>{s['conversations']}</td><td class='num'>{s['turns_checked']}</td>"
        f"<td class='num'>{s['turns_passed']}</td><td class='num {cls}'>{_pct(rate)}</td>"
        f"<td class='num'>{_seconds(s['first_response_s']['p50'])}</td>"
        f"<td class='num'>{_seconds(s['first_response_s']['p95'])}</td><td>{esc(rules) or '—'}</td></tr>"
    )


def _figures_table(report: dict[str, Any], target: float) -> str:
    head = (
        "<tr><th>客服</th><th>会话</th><th>检查回复</th><th>合格回复</th><th>合格率</th>"
        "<th>首次响应 p50 (秒)</th><th>首次响应 p95 (秒)</th><th>主要问题（回复数）</th></tr>"
    )
    rows = [_figures_row(a["agent_id"], a, target) for a in report["agents"]]
    rows.append(_figures_row("全队", report["team"], target))
    return f"<table>{head}{''.join(rows)}</table>"


def _rules_table(team: dict[str, Any]) -> str:
    if not team["violations_by_rule"]:
        return '<p class="pass">没有发现问题。</p>'
    rows = "".join(
        f"<tr><td>{esc(label(rule))}</td><td class='num'>{n}</td></tr>"
        for rule, n in team["violations_by_rule"].items()
    )
    return f"<table><tr><th>规则</th><th>违规回复数</th></tr>{rows}</table>"


def worst_turns(turns: Sequence[TurnReview], n: int) -> list[TurnReview]:
    """The failed replies with the most rules broken first (then the oldest)."""
    failed = [t for t in turns if not t.passed]
    return sorted(failed, key=lambda t: (-len(t.rules_failed), -len(t.violations), t.at))[:n]


def _turn_card(t: TurnReview) -> str:
    rules = "".join(f'<span class="rule">{esc(RULE_LABELS.get(r, r))}</span>' for r in t.rules_failed)
    found = "".join(
        f"<li><code>{esc(v.rule)}</code> {esc(v.message)}"
        + (f" 「{esc(v.span)}」" if v.span else "")
        + (f" → {esc(v.suggestion)}" if v.suggestion else "")
        + "</li>"
        for v in t.violations
    )
    asked = "".join(f'<div class="turn"><span class="customer">{esc(text)}</span></div>' for text in t.answered)
    model = (
        f'<div class="model">{esc(t.reading.suggestion)}</div>'
        if t.reading is not None and t.reading.suggestion
        else '<p class="muted">（这一刻没有客户消息可回答，或助手未能给出建议）</p>'
    )
    waited = f" · 等待 {t.response_s:.0f} 秒" if t.response_s is not None else ""
    return (
        f'<article class="qa-turn"><header><b>{esc(t.conversation_id)}</b> · 客服 {esc(t.agent_id)} · '
        f'{esc(t.at.isoformat(timespec="seconds"))}{waited} {rules}</header><div class="cols">'
        f"<section><h3>客户</h3>{asked or '<p class=muted>（客服连续回复）</p>'}</section>"
        f'<section><h3>客服回复</h3><div class="reply">{highlight(t.text, [v.span for v in t.violations])}</div>'
        f"<ul>{found}</ul></section>"
        f"<section><h3>Kefu 的建议（参考答案）</h3>{model}</section></div></article>"
    )


def render_report(report: dict[str, Any], turns: Sequence[TurnReview], *, worst: int = 30) -> str:
    target = float(report["standards"]["target_pass_rate"])
    config = report["config"]
    rt = report["standards"]["response_time"]
    bad = worst_turns(turns, worst)
    team = report["team"]
    meta = [f"{k} {esc(config[k])}" for k in ("source", "kb", "sample", "seed") if config.get(k) not in (None, "")]
    meta += [
        f"检查 {team['conversations']} 个会话、{team['turns_checked']} 条客服回复",
        f"全队合格率 <b>{_pct(team['pass_rate'])}</b>（合格线 {target * 100:g}%）",
        f"响应标准：首次 ≤ {rt['first_s']:g} 秒，后续 ≤ {rt['next_s']:g} 秒",
    ]
    body = (
        f"<style>{EXTRA_CSS}</style><h1>质检报告</h1>"
        f'<p class="meta">{" · ".join(meta)}</p>'
        f"<h2>每位客服每天的合格率</h2>{pass_rate_chart(report['days'], target)}"
        f"<h2>客服指标</h2>{_figures_table(report, target)}"
        f"<h2>问题分布</h2>{_rules_table(team)}"
        f"<h2>最需改进的回复（{len(bad)} 条）</h2>"
        + ("".join(_turn_card(t) for t in bad) or '<p class="pass">所有回复都合格。</p>')
    )
    return page("质检报告", body)
