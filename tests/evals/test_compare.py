from pathlib import Path

import pytest

from evals.cases import EvalCase, load_cases
from evals.compare import Delta, compare_runs, format_text, load_run, render_html
from evals.errors import EvalError
from evals.runner import run_eval
from tests.evals.fakes import FakeAssistant, case, result, write_set


def _cases(tmp_path: Path) -> list[EvalCase]:
    return load_cases(
        write_set(
            tmp_path / "s.jsonl",
            [
                case("a", "能退吗", intent="return_request", must_include=["7天"]),
                case("b", "发货吗", intent="shipping_info"),
                case("c", "在吗", intent="other"),
            ],
        )
    )


def _runs(tmp_path: Path) -> tuple[Path, Path]:
    cases = _cases(tmp_path)
    other = result(intent="other")
    before = {"能退吗": result("您好，可以退。"), "发货吗": result(intent="shipping_info"), "在吗": other}
    after = {
        "能退吗": result("您好，7天内可以退。"),
        "发货吗": result(intent="return_request"),
        "在吗": other,
    }
    run_eval(FakeAssistant(before), cases, tmp_path / "A", config={"retriever": "bm25"})
    run_eval(FakeAssistant(after), cases, tmp_path / "B", config={"retriever": "hybrid"})
    return tmp_path / "A", tmp_path / "B"


def test_compare_reports_deltas_and_flipped_cases(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    c = compare_runs(load_run(a), load_run(b))
    deltas = {d.key: d for d in c.deltas}
    include = deltas["reply.must_include_rate"]
    assert include.change == 1.0 and include.verdict == "better"
    assert deltas["intent.accuracy"].verdict == "worse"
    assert "per_intent.other.intent.accuracy" not in deltas  # per-intent metrics only when they moved
    assert "per_intent.shipping_info.intent.accuracy" in deltas
    assert {(f.case_id, f.kind) for f in c.flips} == {("a", "fixed"), ("b", "broken")}
    assert [f.kind for f in c.flips] == ["broken", "fixed"]
    assert next(f for f in c.flips if f.case_id == "b").changes == {"intent": (True, False)}

    text = format_text(c)
    assert "retriever=bm25" in text and "retriever=hybrid" in text
    assert "broken   b  intent ✓→✗" in text and "fixed    a  must_include ✗→✓" in text
    page = render_html(c)
    assert "broken: b" in page and 'id="case-b"' in page and "http" not in page
    assert c.to_dict()["flipped"][0] == {
        "id": "b",
        "kind": "broken",
        "changes": {"intent": {"a": True, "b": False}},
    }


@pytest.mark.parametrize(
    ("key", "a", "b", "verdict"),
    [
        ("retrieval.recall@5", 0.8, 0.9, "better"),
        ("reply.unsupported_fact_rate", 0.1, 0.2, "worse"),
        ("latency_ms.p95", 200.0, 100.0, "better"),
        ("n_errors", 0, 1, "worse"),
        ("intent.accuracy", 0.5, 0.5, "same"),
        ("emotion.accuracy", None, 0.5, "n/a"),
        ("emotion.accuracy", None, None, "same"),
    ],
)
def test_delta_direction(key: str, a: float | None, b: float | None, verdict: str) -> None:
    assert Delta(key, a, b).verdict == verdict


def test_cases_in_one_run_only_are_listed(tmp_path: Path) -> None:
    a, b = _runs(tmp_path)
    lines = (b / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    (b / "cases.jsonl").write_text(lines[0] + "\n", encoding="utf-8")
    c = compare_runs(load_run(a), load_run(b))
    assert c.only_in_a == ["b", "c"] and c.only_in_b == []
    assert "only in A: b, c" in format_text(c)


def test_a_directory_that_is_not_a_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match=r"not an eval run \(no metrics.json\)"):
        load_run(tmp_path)
