import re
from pathlib import Path

import pytest

from evals.cases import load_cases
from evals.gate import parse_thresholds
from evals.report import highlight, latency_histogram, per_intent_chart, render_report
from evals.runner import run_eval
from tests.evals.fakes import FakeAssistant, case, result, suggestion, write_set


@pytest.fixture
def run(tmp_path: Path) -> tuple[dict, list]:  # type: ignore[type-arg]
    cases = load_cases(write_set(tmp_path / "s.jsonl", [
        case("ok-1", "能退吗", intent="return_request", must_include=["7天"]),
        case("bad-1", "<b>还能退吗</b>", intent="return_request", must_not_include=["亲，"]),
    ]))
    assistant = FakeAssistant({"<b>还能退吗</b>": result(suggestions=[suggestion("亲，<script>alert(1)</script>7天")])})
    metrics = run_eval(assistant, cases, tmp_path / "out")
    import json

    records = [json.loads(x) for x in (tmp_path / "out" / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
    return metrics, records
