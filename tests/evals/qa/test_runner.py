"""`run_qa` writes qa.json (per agent, per day, team), turns.jsonl and a self-contained qa.html."""

from __future__ import annotations

import json
import re
from pathlib import Path

from assistant.guard import RULES
from evals.qa.checks import QA_RULES, QualityChecker
from evals.qa.conversations import read_conversations
from evals.qa.report import RULE_LABELS
from evals.qa.runner import run_qa
from tests.evals.qa.conftest import CONVERSATIONS

FIGURES = {"conversations", "turns_checked", "turns_passed", "pass_rate", "first_response_s", "violations_by_rule"}


def test_qa_json_has_the_figures_per_agent_day_and_team(checker: QualityChecker, tmp_path: Path) -> None:
    report = run_qa(checker, read_conversations(CONVERSATIONS), tmp_path, config={"source": "fixture"})
    assert json.loads((tmp_path / "qa.json").read_text(encoding="utf-8")) == report
    agents = {a["agent_id"]: a for a in report["agents"]}
    assert set(agents) == {"clean", "faulty"}
    assert all(FIGURES | {"agent_id"} == set(a) for a in agents.values()) and set(report["team"]) == FIGURES
    faulty = agents["faulty"]
    # 12 conversations, 13 replies, 12 planted faults (one on each fault's turn), one clean greeting.
    assert (faulty["conversations"], faulty["turns_checked"], faulty["turns_passed"]) == (12, 13, 1)
    assert faulty["pass_rate"] == round(1 / 13, 4)
    assert faulty["violations_by_rule"]["response_time"] == 2
    team = report["team"]
    assert team["turns_checked"] == agents["clean"]["turns_checked"] + 13
    assert team["turns_passed"] == agents["clean"]["turns_passed"] + 1
    # First responses of the faulty agent: eleven conversations answered within 6-10 s, one after 48 s.
    assert faulty["first_response_s"]["p50"] <= 10 and faulty["first_response_s"]["p95"] > 15
    days = {(d["agent_id"], d["day"]) for d in report["days"]}
    assert days == {(a, d) for a in ("clean", "faulty") for d in ("2026-12-01", "2026-12-02")}
    lines = (tmp_path / "turns.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == team["turns_checked"]
    assert not list(tmp_path.glob(".*.tmp"))  # written beside, then renamed


def test_the_page_shows_the_target_line_the_worst_turns_and_kefus_answers(
    checker: QualityChecker, tmp_path: Path
) -> None:
    run_qa(checker, read_conversations(CONVERSATIONS), tmp_path, worst=5)
    page = (tmp_path / "qa.html").read_text(encoding="utf-8")
    assert "合格线 95%" in page and "<svg" in page
    assert page.count('class="qa-turn"') == 5
    assert page.count("Kefu 的建议") == 5
    assert "fault-overpromise" in page  # two rules broken: among the worst
    # Nothing to fetch: no external URL of any kind (the SVG namespace is an identifier, not a request).
    assert re.findall(r"(?:src|href)=", page) == []
    assert [u for u in re.findall(r"https?://[^\s\"'<>]+", page) if u != "http://www.w3.org/2000/svg"] == []


def test_every_rule_has_a_label_in_the_report() -> None:
    assert set(RULES) | set(QA_RULES) == set(RULE_LABELS)
