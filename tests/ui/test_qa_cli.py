"""`kefu qa run` on a tiny KB with the fake embedder: its outputs, its sample, its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.evals.qa.conftest import CONVERSATIONS
from ui.cli import main


@pytest.fixture
def run(tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KEFU_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("KEFU_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, ["qa", "run", *args, "--kb", str(tiny_kb), "--index", str(tmp_path / "idx")])

    return invoke


def test_qa_run_writes_the_three_outputs_and_prints_qa_json(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = run("--conversations", str(CONVERSATIONS), "--out", str(tmp_path / "qa"), "--json")
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report == json.loads((tmp_path / "qa" / "qa.json").read_text(encoding="utf-8"))
    assert {a["agent_id"] for a in report["agents"]} == {"clean", "faulty"}
    assert report["config"]["conversations_in"] == 18 and report["config"]["sample"] is None
    assert {p.name for p in (tmp_path / "qa").iterdir()} == {"qa.json", "turns.jsonl", "qa.html"}


def test_qa_run_samples_each_agents_day_the_same_way_twice(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = ("--conversations", str(CONVERSATIONS), "--sample", "0.2", "--seed", "5", "--json")
    first = json.loads(run(*args, "--out", str(tmp_path / "a")).stdout)
    second = json.loads(run(*args, "--out", str(tmp_path / "b")).stdout)
    # ceil(20%) of each agent's day: clean 3 and 3 conversations → 1 + 1; faulty 7 and 5 → 2 + 1.
    assert first["team"]["conversations"] == 5
    ids = [
        [json.loads(line)["conversation_id"] for line in (tmp_path / d / "turns.jsonl").read_text().splitlines()]
        for d in "ab"
    ]
    assert ids[0] == ids[1] and first["team"] == second["team"]


def test_bad_input_is_one_message_naming_the_line_and_nothing_is_written(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.jsonl"
    lines = CONVERSATIONS.read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join([*lines[:3], lines[3].replace("+08:00", ""), *lines[4:]]) + "\n", encoding="utf-8")
    out = run("--conversations", str(bad), "--out", str(tmp_path / "qa"))
    assert out.exit_code == 1
    assert f"{bad}:4: turns[0]: 'at'" in out.output and "no time zone" in out.output
    assert "Traceback" not in out.output
    assert not (tmp_path / "qa").exists()


def test_exactly_one_source_is_required(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = run("--out", str(tmp_path / "qa"))
    assert out.exit_code == 2 and "give one source" in out.output
    out = run("--conversations", str(CONVERSATIONS), "--from-store", "default", "--out", str(tmp_path / "qa"))
    assert out.exit_code == 2 and "give one source" in out.output


def test_from_store_default_without_a_database_says_what_to_give(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = run("--from-store", "default", "--out", str(tmp_path / "qa"))
    assert out.exit_code == 2 and "no feedback store" in out.output
