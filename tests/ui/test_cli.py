"""The `kefu` command line per CONTRACTS.md §5, on a tiny KB with the fake embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ui.cli import main


@pytest.fixture
def run(tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KEFU_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("KEFU_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, [*args], catch_exceptions=False)

    invoke.kb = str(tiny_kb)  # type: ignore[attr-defined]
    invoke.index = str(tmp_path / "idx")  # type: ignore[attr-defined]
    return invoke


def test_build_update_search(run, tiny_kb: Path) -> None:  # type: ignore[no-untyped-def]
    out = run("index", "build", "--kb", run.kb, "--index", run.index)
    assert out.exit_code == 0 and "3 documents" in out.output
    ship = tiny_kb / "docs" / "policy" / "shipping.md"
    ship.write_text(ship.read_text(encoding="utf-8").replace("8元", "10元"), encoding="utf-8")
    out = run("index", "update", "--kb", run.kb, "--index", run.index)
    assert out.exit_code == 0 and "changed: policy-shipping" in out.output and "embedded 1 chunks" in out.output
    out = run("search", "运费多少", "-k", "2", "--json", "--kb", run.kb, "--index", run.index)
    hits = json.loads(out.output)
    assert 1 <= len(hits) <= 2
    assert set(hits[0]) == {"doc_id", "chunk_id", "title", "text", "score"}


def test_suggest_json_is_the_api_object(run) -> None:  # type: ignore[no-untyped-def]
    out = run("suggest", "退货运费谁出？", "--json", "--kb", run.kb, "--index", run.index)
    data = json.loads(out.output)
    assert {"intent", "emotion", "handoff", "suggestions", "retrieved", "latency_ms"} <= set(data)
    assert data["suggestions"][0]["citations"]


def test_suggest_from_a_case_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    case = tmp_path / "case.json"
    case.write_text(
        json.dumps({"conversation": [{"role": "customer", "text": "水壶功率多少"}]}, ensure_ascii=False),
        encoding="utf-8",
    )
    out = run("suggest", "--case", str(case), "--json", "--kb", run.kb, "--index", run.index)
    assert json.loads(out.output)["retrieved"][0]["doc_id"] == "product-kettle"


def test_check_reports_violations_and_exit_code(run) -> None:  # type: ignore[no-untyped-def]
    bad = run("check", "亲，这不符合规定", "--json", "--kb", run.kb, "--index", run.index)
    assert bad.exit_code == 2
    data = json.loads(bad.output)
    assert data["passed"] is False
    assert {"rule", "span", "message", "suggestion"} <= set(data["violations"][0])
    good = run("check", "您好，请您在订单页申请售后。", "--json", "--kb", run.kb, "--index", run.index)
    assert good.exit_code == 0 and json.loads(good.output) == {"passed": True, "violations": []}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("index", "build", "--kb", "/nonexistent/kb"), "no such knowledge-base directory"),
        (("search", "  "), "QUERY is empty"),
        (("suggest",), "either a MESSAGE or --case"),
    ],
)
def test_bad_input_is_one_actionable_line(run, args: tuple[str, ...], fragment: str) -> None:  # type: ignore[no-untyped-def]
    out = run(*args)
    assert out.exit_code != 0
    assert fragment in out.output
    assert "Traceback" not in out.output


def test_bad_kb_file_names_the_file(run, tiny_kb: Path) -> None:  # type: ignore[no-untyped-def]
    (tiny_kb / "docs" / "bad.md").write_text("---\nid: x\ntitle: t\ntype: faq\n---\n正文", encoding="utf-8")
    out = run("index", "build", "--kb", run.kb, "--index", run.index)
    assert out.exit_code == 1
    assert "docs/bad.md: 'category': front matter lacks 'category'" in out.output
