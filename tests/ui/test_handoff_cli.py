"""`kefu handoff fit` on a tiny KB with the fake embedder: writes weights the KB then uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import load_kb
from ui.cli import main

CASES = [
    ("转人工", True, "customer_request"),
    ("师傅说我家墙装不了，不给装，还让我自己找人", True, "dispute"),
    ("售后说是人为损坏，拒绝保修，我根本没摔过", True, "dispute"),
    ("快递员不给送上楼，说让我找商家", True, "dispute"),
    ("我都问了三次了，每次都说在处理", True, "repeated"),
    ("第五天了，问了不下五次，还是没消息", True, "repeated"),
    ("这话我已经听第三遍了", True, "repeated"),
    ("退货运费谁出", False, None),
    ("多久发货", False, None),
    ("可以开发票吗", False, None),
    ("衣服偏小能换吗", False, None),
    ("运费多少钱", False, None),
    ("几天能到", False, None),
]


def write_set(path: Path) -> Path:
    lines = []
    for n, (text, handoff, reason) in enumerate(CASES, 1):
        expected: dict[str, object] = {"handoff": handoff}
        if reason:
            expected["handoff_reason"] = reason
        lines.append(
            json.dumps(
                {"id": f"c{n}", "conversation": [{"role": "customer", "text": text}], "expected": expected},
                ensure_ascii=False,
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KEFU_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("KEFU_HOME", str(tmp_path / "home"))
    return CliRunner()


def test_fit_writes_weights_that_the_kb_then_loads(runner: CliRunner, tiny_kb: Path, tmp_path: Path) -> None:
    cases = write_set(tmp_path / "set.jsonl")
    out = tiny_kb / "handoff_model.json"
    result = runner.invoke(
        main, ["handoff", "fit", "--set", str(cases), "--kb", str(tiny_kb), "--out", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "13 labelled cases, 7 needing a person" in result.output and "strongest signals" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["fitted_on"] == ["set"] and {"dispute", "repeated"} <= set(data["reasons"])
    weights = load_kb(tiny_kb).rules.handoff_model
    assert weights is not None and weights.reasons.keys() == data["reasons"].keys()


def test_fit_says_how_to_pair_sets_and_kbs(runner: CliRunner, tiny_kb: Path, tmp_path: Path) -> None:
    cases = write_set(tmp_path / "set.jsonl")
    args = ["handoff", "fit", "--set", str(cases), "--set", str(cases), "--out", str(tmp_path / "m.json")]
    result = runner.invoke(main, [*args, "--kb", str(tiny_kb), "--kb", str(tiny_kb), "--kb", str(tiny_kb)])
    assert result.exit_code != 0 and "give one --kb per --set" in result.output
    assert not (tmp_path / "m.json").exists()


def test_fit_on_cases_of_one_kind_is_an_error_a_person_can_act_on(
    runner: CliRunner, tiny_kb: Path, tmp_path: Path
) -> None:
    cases = tmp_path / "calm.jsonl"
    cases.write_text(
        json.dumps(
            {"id": "a", "conversation": [{"role": "customer", "text": "多久发货"}], "expected": {"handoff": False}}
        )
        + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        main, ["handoff", "fit", "--set", str(cases), "--kb", str(tiny_kb), "--out", str(tmp_path / "m.json")]
    )
    assert result.exit_code == 1 and "expected.handoff true / false" in result.output


def test_hold_out_fits_without_a_set_and_reports_on_it(runner: CliRunner, tiny_kb: Path, tmp_path: Path) -> None:
    a = write_set(tmp_path / "a.jsonl")
    b = write_set(tmp_path / "b.jsonl")
    args = ["handoff", "fit", "--set", str(a), "--set", str(b), "--kb", str(tiny_kb), "--out", str(tmp_path / "m.json")]
    result = runner.invoke(main, [*args, "--hold-out", "b", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cases"] == len(CASES)  # fitted on set a only
    held = summary["hold_out"]
    assert held["set"] == "b" and held["cases"] == len(CASES) and held["need_a_person"] == 7
    assert held["table"][1] <= held["with_model"][1]  # the model only adds handoffs to the table's
    wrong = runner.invoke(main, [*args, "--hold-out", "c"])
    assert wrong.exit_code != 0 and "the sets are a, b" in wrong.output


def test_leave_one_out_reports_each_set_and_all_pooled(runner: CliRunner, tiny_kb: Path, tmp_path: Path) -> None:
    a = write_set(tmp_path / "a.jsonl")
    b = write_set(tmp_path / "b.jsonl")
    out = tmp_path / "m.json"
    args = ["handoff", "fit", "--set", str(a), "--set", str(b), "--kb", str(tiny_kb), "--out", str(out)]
    result = runner.invoke(main, [*args, "--leave-one-out", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["cases"] == 2 * len(CASES)  # the written weights: every set
    each = summary["leave_one_out"]
    assert list(each) == ["a", "b", "pooled"]
    assert each["a"]["cases"] == len(CASES) and each["pooled"]["cases"] == 2 * len(CASES)
    assert each["pooled"]["need_a_person"] == each["a"]["need_a_person"] + each["b"]["need_a_person"] == 14
    text = runner.invoke(main, [*args, "--leave-one-out"], catch_exceptions=False)
    assert "each set left out of the fit in turn" in text.output and "pooled" in text.output
    both = runner.invoke(main, [*args, "--leave-one-out", "--hold-out", "a"])
    assert both.exit_code != 0 and "not both" in both.output
    one = runner.invoke(
        main, ["handoff", "fit", "--set", str(a), "--kb", str(tiny_kb), "--out", str(out), "--leave-one-out"]
    )
    assert one.exit_code != 0 and "at least two --set" in one.output
