import json
import re
from pathlib import Path
from typing import Any

import pytest

from assistant.result import Violation
from evals.cases import load_cases
from evals.gate import parse_thresholds
from evals.report import highlight, latency_histogram, per_intent_chart, render_report
from evals.runner import run_eval
from tests.evals.fakes import FakeAssistant, case, result, suggestion, write_set


def _run(tmp_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cases = load_cases(
        write_set(
            tmp_path / "s.jsonl",
            [
                case("ok-1", "能退吗", intent="return_request", must_include=["7天"]),
                case("bad-1", "<b>还能退吗</b>", intent="return_request", must_not_include=["亲，"]),
            ],
        )
    )
    banned = Violation("banned_phrases", "亲，", "称呼请用“您”", suggestion="您好，")
    bad = result(suggestions=[suggestion("亲，<script>alert(1)</script>签收后7天内可以退。", violations=[banned])])
    metrics = run_eval(FakeAssistant({"<b>还能退吗</b>": bad}), cases, tmp_path / "out")
    lines = (tmp_path / "out" / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    return metrics, [json.loads(x) for x in lines]


def test_report_is_self_contained_and_escapes_everything(tmp_path: Path) -> None:
    metrics, records = _run(tmp_path)
    page = render_report(metrics, records)
    assert not re.search(r"https?://|<script|<link|src=", page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;还能退吗&lt;/b&gt;" in page
    assert page.count("<svg") == 2  # per-intent bars and the latency histogram
    assert '<meta charset="utf-8">' in page and "PingFang SC" in page


def test_report_shows_failing_cases_side_by_side(tmp_path: Path) -> None:
    metrics, records = _run(tmp_path)
    page = render_report(metrics, records)
    failing = page.split("Failing cases (1)")[1]
    assert 'id="case-bad-1"' in failing and 'id="case-ok-1"' not in failing
    for column in ("Conversation", "Expected", "Top suggestion", "Rule checks"):
        assert column in failing
    assert "<mark>亲，</mark>" in failing  # the must_not_include hit is highlighted in the suggestion
    assert "must_not_include" in failing
    assert "banned_phrases: 称呼请用“您” <mark>亲，</mark> → 您好，" in failing  # the rule check, with its fix
    assert "politeness, unsupported_facts" in failing  # the rules that passed


def test_report_shows_the_gate_against_each_metric(tmp_path: Path) -> None:
    metrics, records = _run(tmp_path)
    page = render_report(
        metrics,
        records,
        thresholds=parse_thresholds({"intent.accuracy": {"min": 0.9}, "reply.must_include_rate": {"min": 1.0}}),
    )
    assert "&gt;= 0.9" in page and "&gt;= 1" in page
    assert "<th>gate</th>" in page


@pytest.mark.parametrize(
    ("text", "phrases", "expected"),
    [
        ("亲，这不符合", ["亲，"], "<mark>亲，</mark>这不符合"),
        ("亲，这不符合", ["这不符合", "不符合"], "亲，<mark>这不符合</mark>"),  # overlapping spans merge
        ("a<b", ["<"], "a<mark>&lt;</mark>b"),
        ("无", [""], "无"),
    ],
)
def test_highlight(text: str, phrases: list[str], expected: str) -> None:
    assert highlight(text, phrases) == expected


def test_charts_handle_sparse_data() -> None:
    assert "No latency measured" in latency_histogram([], None, None)
    svg = latency_histogram([5.0], 5.0, 5.0)
    assert svg.startswith("<svg") and "p95 5.000 ms" in svg
    assert "No case is labelled" in per_intent_chart({})
    bars = per_intent_chart(
        {
            "exchange": {
                "n_cases": 2,
                "intent": {"accuracy": 0.5},
                "retrieval": {"recall@5": None},
                "reply": {"must_include_rate": 1.0},
            }
        }
    )
    assert "exchange (n=2)" in bars and "0.50" in bars and "–" in bars


def test_report_has_the_intent_table_and_confusion_matrix(tmp_path: Path) -> None:
    cases = load_cases(
        write_set(
            tmp_path / "s.jsonl",
            [
                case("r1", "能退吗", intent="return_request"),
                case("r2", "能换吗", intent="return_request"),
                case("e1", "换个码", intent="exchange"),
            ],
        )
    )
    bot = FakeAssistant({"能换吗": result(intent="exchange"), "换个码": result(intent="exchange")})
    metrics = run_eval(bot, cases, tmp_path / "out")
    records = [json.loads(x) for x in (tmp_path / "out" / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
    page = render_report(metrics, records)
    table = page.split("<h2>Intent classification</h2>")[1].split("</table>")[0]
    # return_request: 1 of 2 found, precision 1/1; exchange: found, but 1 of 2 classified as it is right
    assert "<td>return_request</td><td class=num>2</td><td class=num>1</td>" in table
    assert '<td class="num">1.000</td><td class="num">0.500</td><td class="num">0.667</td>' in table
    matrix = page.split('<table class="confusion">')[1].split("</table>")[0]
    assert '<tr><th>return_request</th><td class="num fail">1</td><td class="num pass">1</td></tr>' in matrix
    assert metrics["intent"]["macro_f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert "Intent macro-F1" in page.split("<h2>Summary</h2>")[1]
