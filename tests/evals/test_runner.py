import json
from pathlib import Path

import pytest

from assistant.result import Violation
from evals.cases import EvalCase, load_cases
from evals.runner import WARM_UP, run_eval
from tests.evals.fakes import FakeAssistant, case, result, suggestion, write_set
from tests.evals.test_metrics import CONTRACT_KEYS

CASE_KEYS = {
    "id",
    "intent",
    "emotion",
    "handoff",
    "retrieved",
    "suggestions",
    "checks",
    "latency_ms",
    "passed",
}


@pytest.fixture
def cases(tmp_path: Path) -> list[EvalCase]:
    return load_cases(
        write_set(
            tmp_path / "set.jsonl",
            [
                case(
                    "ret-001",
                    "尺码偏小能退吗",
                    intent="return_request",
                    emotion="calm",
                    doc_ids=["policy-return"],
                    must_include=["7天|七天"],
                    must_not_include=["亲，"],
                    handoff=False,
                ),
                case(
                    "ship-001",
                    "什么时候发货",
                    intent="shipping_info",
                    doc_ids=["policy-shipping"],
                    must_include=["16:00"],
                ),
                case("cmp-001", "我要投诉你们", intent="complaint", emotion="angry", handoff=True),
            ],
        )
    )


def _assistant() -> FakeAssistant:
    unsupported = Violation("unsupported_facts", "3天", "这个数字在引用的文档里找不到")
    return FakeAssistant(
        {
            "尺码偏小能退吗": result("您好，签收后7天内可以申请无理由退货。", retrieved=["policy-return", "faq-x"]),
            "什么时候发货": result(
                intent="shipping_info",
                retrieved=["faq-x", "policy-shipping"],
                suggestions=[suggestion("您好，3天内发货。", ["policy-shipping"], [unsupported])],
            ),
            "我要投诉你们": RuntimeError("classifier exploded"),
        }
    )


def test_run_writes_the_three_outputs_with_every_contract_key(tmp_path: Path, cases: list[EvalCase]) -> None:
    out = tmp_path / "out"
    assistant = _assistant()
    metrics = run_eval(assistant, cases, out, config={"retriever": "hybrid", "k": 5})

    on_disk = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert on_disk == metrics
    for key in CONTRACT_KEYS:
        group, _, name = key.partition(".")
        assert (name in on_disk[group]) if name else (group in on_disk), key
    assert metrics["n_cases"] == 3 and metrics["n_errors"] == 1
    assert metrics["retrieval"]["recall@1"] == 0.5 and metrics["retrieval"]["mrr@10"] == 0.75
    assert metrics["reply"]["unsupported_fact_rate"] == 0.5
    assert metrics["reply"]["compliance_pass_rate"] == 0.5
    assert metrics["reply"]["handoff_accuracy"] == 0.5  # the failed case counts as wrong
    assert metrics["latency_ms"]["p50"] is not None
    assert metrics["config"]["retriever"] == "hybrid" and metrics["config"]["seconds"] >= 0
    assert set(metrics["per_intent"]) == {"return_request", "shipping_info", "complaint"}

    lines = [json.loads(x) for x in (out / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == ["ret-001", "ship-001", "cmp-001"]
    for r in lines:
        assert set(r) >= CASE_KEYS
    ret, ship, cmp_ = lines
    assert ret["retrieved"] == ["policy-return", "faq-x"]
    assert ret["suggestions"][0]["citations"] == ["policy-return"]
    assert ret["passed"] == {
        "intent": True,
        "emotion": True,
        "doc_ids": True,
        "must_include": True,
        "must_not_include": True,
        "handoff": True,
        "compliance": True,
    }
    assert ret["ok"] and ret["latency_ms"] >= 0
    assert ship["passed"]["must_include"] is False and ship["must_include_missing"] == ["16:00"]
    assert ship["checks"]["passed"] is False
    assert ship["checks"]["violations"][0]["rule"] == "unsupported_facts"
    assert cmp_["error"] == "RuntimeError: classifier exploded" and cmp_["latency_ms"] is None
    assert cmp_["suggestions"] == [] and cmp_["passed"] == {
        "intent": False,
        "emotion": False,
        "handoff": False,
    }

    html = (out / "report.html").read_text(encoding="utf-8")
    assert "ship-001" in html and "cmp-001" in html and "classifier exploded" in html


def test_models_are_loaded_before_the_clock_starts(tmp_path: Path, cases: list[EvalCase]) -> None:
    assistant = _assistant()
    run_eval(assistant, cases, tmp_path / "out")
    assert assistant.warmed_up
    assert assistant.calls == [WARM_UP[-1].text, "尺码偏小能退吗", "什么时候发货", "我要投诉你们"]


def test_an_empty_list_of_cases_still_writes_null_metrics(tmp_path: Path) -> None:
    metrics = run_eval(FakeAssistant({}), [], tmp_path / "out")
    assert metrics["n_cases"] == 0 and metrics["retrieval"]["recall@5"] is None
    assert (tmp_path / "out" / "cases.jsonl").read_text(encoding="utf-8") == ""
    assert (tmp_path / "out" / "report.html").is_file()
