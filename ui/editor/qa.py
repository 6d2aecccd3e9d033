"""The 质检 tab: the latest `kefu qa run` report in the configured folder (`KEFU_QA_DIR`).

The folder may be one run's `--out` or hold several (e.g. one per day); the newest `qa.json` one level down
counts. The page itself is shown in a sandboxed frame, so its styles stay inside it.

>>> view = latest_qa(Path("~/.local/share/kefu/qa").expanduser())
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.qa.runner import QA_FILE, REPORT_FILE

AGENT_COLUMNS = ["客服", "会话", "检查回复", "合格回复", "合格率", "首次响应 p50 (秒)", "首次响应 p95 (秒)", "主要问题"]


@dataclass(frozen=True)
class QAView:
    summary: str  # Markdown
    agents: list[list[Any]] = field(default_factory=list)
    page: str = ""  # the report as a framed page, or ""


def find_latest(folder: Path) -> Path | None:
    """The newest qa.json in `folder` or one level below it."""
    if not folder.is_dir():
        return None
    found = [p for p in (folder / QA_FILE, *folder.glob(f"*/{QA_FILE}")) if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _row(name: str, s: dict[str, Any]) -> list[Any]:
    rules = "、".join(f"{r} {n}" for r, n in list(s["violations_by_rule"].items())[:3])
    fr = s["first_response_s"]
    return [name, s["conversations"], s["turns_checked"], s["turns_passed"], _rate(s["pass_rate"]),
            fr["p50"], fr["p95"], rules or "—"]  # fmt: skip


def latest_qa(folder: Path) -> QAView:
    """What the tab shows: the newest report's figures and page, or how to make one."""
    path = find_latest(folder)
    if path is None:
        return QAView(
            f"`{folder}` 里还没有质检报告。运行 `kefu qa run --conversations 对话.jsonl --out {folder}/日期` "
            "（或 `--from-store default`），再点“刷新”。"
        )
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        team, target = report["team"], float(report["standards"]["target_pass_rate"])
        agents = [_row(a["agent_id"], a) for a in report["agents"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return QAView(f"`{path}` 不是可读的质检报告（{type(e).__name__}: {e}）；请重新运行 `kefu qa run`。")
    below = [a[0] for a, s in zip(agents, report["agents"], strict=True) if (s["pass_rate"] or 0) < target]
    config = report.get("config", {})
    summary = (
        f"**最新报告** `{path.parent}` · 生成于 {config.get('started', '—')} · 来源 {config.get('source', '—')}  \n"
        f"全队合格率 **{_rate(team['pass_rate'])}**（合格线 {target * 100:g}%），{team['conversations']} 个会话、"
        f"{team['turns_checked']} 条回复"
        + (f" · 低于合格线：{'、'.join(below)}" if below else " · 所有客服都达到合格线")
    )
    page_path = path.with_name(REPORT_FILE)
    page = ""
    if page_path.is_file():
        page = (
            f'<iframe title="质检报告" sandbox="" style="width:100%;height:900px;border:1px solid #d0d7de" '
            f'srcdoc="{html.escape(page_path.read_text(encoding="utf-8"), quote=True)}"></iframe>'
        )
    return QAView(summary, [*agents, _row("全队", team)], page)
