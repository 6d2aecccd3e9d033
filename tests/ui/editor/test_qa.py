"""The 质检 tab's data: the newest report of the configured folder, or how to make one."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ui.editor.qa import find_latest, latest_qa


def _report(folder: Path, rate: float, mtime: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    figures = {"conversations": 3, "turns_checked": 10, "turns_passed": round(rate * 10), "pass_rate": rate,
               "first_response_s": {"p50": 8.0, "p95": 14.0}, "violations_by_rule": {"politeness": 1}}  # fmt: skip
    report = {"config": {"started": "2026-12-02T01:00:00+00:00", "source": "x.jsonl"},
              "standards": {"target_pass_rate": 0.95}, "team": figures,
              "agents": [{"agent_id": "小栖", **figures}]}  # fmt: skip
    (folder / "qa.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    (folder / "qa.html").write_text('<p>报告 "引号" & 符号</p>', encoding="utf-8")
    os.utime(folder / "qa.json", (mtime, mtime))


def test_the_newest_report_one_level_down_is_shown(tmp_path: Path) -> None:
    _report(tmp_path / "2026-12-01", 0.9, 1_000_000)
    _report(tmp_path / "2026-12-02", 1.0, 2_000_000)
    assert find_latest(tmp_path) == tmp_path / "2026-12-02" / "qa.json"
    view = latest_qa(tmp_path)
    assert "2026-12-02" in view.summary and "100.0%" in view.summary and "所有客服都达到合格线" in view.summary
    assert view.agents[0][:5] == ["小栖", 3, 10, 10, "100.0%"] and view.agents[-1][0] == "全队"
    # The page is framed, escaped, sandboxed: its styles and markup cannot reach the editor.
    assert 'sandbox=""' in view.page and "&lt;p&gt;报告 &quot;引号&quot; &amp; 符号" in view.page


def test_an_agent_below_the_line_is_named(tmp_path: Path) -> None:
    _report(tmp_path, 0.9, 1_000_000)
    assert "低于合格线：小栖" in latest_qa(tmp_path).summary


def test_no_report_yet_says_how_to_make_one(tmp_path: Path) -> None:
    view = latest_qa(tmp_path / "none")
    assert "kefu qa run" in view.summary and view.agents == [] and view.page == ""


def test_a_broken_report_is_a_message_not_a_crash(tmp_path: Path) -> None:
    tmp_path.joinpath("qa.json").write_text("{", encoding="utf-8")
    assert "不是可读的质检报告" in latest_qa(tmp_path).summary
