import json
from pathlib import Path
from typing import Any

import pytest

from evals.cases import load_cases
from evals.errors import EvalError
from evals.gate import Threshold, check_gate, dump_thresholds, load_thresholds, parse_thresholds, ratchet
from evals.metrics import compute_metrics, score_case
from tests.evals.fakes import result

METRICS: dict[str, Any] = {
    "n_cases": 30,
    "n_errors": 0,
    "retrieval": {"recall@1": 0.7, "recall@5": 0.9333, "mrr@10": 0.8},
    "intent": {"accuracy": 0.85},
    "emotion": {"accuracy": None},
    "reply": {
        "must_include_rate": 0.8,
        "must_not_include_violation_rate": 0.0,
        "unsupported_fact_rate": 0.0333,
        "compliance_pass_rate": 1.0,
        "handoff_accuracy": 0.9,
    },
    "latency_ms": {"p50": 40.0, "p95": 120.0, "max": 300.0},
    "per_intent": {"exchange": {"intent": {"accuracy": 0.5}}},
    "config": {"k": 5},
}


def test_a_run_that_meets_every_threshold_passes() -> None:
    t = parse_thresholds(
        {
            "retrieval.recall@5": {"min": 0.9},
            "reply.unsupported_fact_rate": {"max": 0.05},
            "latency_ms.p95": {"max": 500, "ratchet": False},
            "n_errors": {"max": 0},
        }
    )
    assert check_gate(METRICS, t) == []


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"retrieval.recall@5": {"min": 0.95}}, "retrieval.recall@5 = 0.9333, below the minimum 0.95"),
        (
            {"reply.unsupported_fact_rate": {"max": 0.0}},
            "reply.unsupported_fact_rate = 0.0333, above the maximum 0",
        ),
        ({"intent.accuracy": {"min": 0.8, "max": 0.84}}, "intent.accuracy = 0.85, above the maximum 0.84"),
        (
            {"emotion.accuracy": {"min": 0.5}},
            "emotion.accuracy is null: no case of the set is labelled for it",
        ),
        (
            {"per_intent.exchange.intent.accuracy": {"min": 0.6}},
            "per_intent.exchange.intent.accuracy = 0.5, below the minimum 0.6",
        ),
        ({"per_intent.invoice.intent.accuracy": {"min": 0.6}}, "per_intent.invoice.intent.accuracy is null"),
    ],
)
def test_missed_thresholds_are_listed_with_clear_messages(thresholds: dict[str, Any], message: str) -> None:
    [failure] = check_gate(METRICS, parse_thresholds(thresholds))
    assert failure.message.startswith(message)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([], "expected an object"),
        ({"retrieval.recal@5": {"min": 0.8}}, "'retrieval.recal@5' is not a metric"),
        ({"retrieval.recall@5": 0.8}, 'must be an object with "min" and/or "max"'),
        ({"retrieval.recall@5": {"minimum": 0.8}}, 'must be an object with "min"'),
        ({"retrieval.recall@5": {"min": "0.8"}}, '"min" must be a number'),
        ({"retrieval.recall@5": {"min": 0.8, "why": "x"}}, "unknown field(s) why"),
        ({"retrieval.recall@5": {"min": 0.8, "ratchet": "no"}}, '"ratchet" must be true or false'),
    ],
)
def test_bad_threshold_files_are_rejected_before_the_run(data: Any, fragment: str) -> None:
    with pytest.raises(EvalError) as err:
        parse_thresholds(data, "t.json")
    assert str(err.value).startswith("t.json: ") and fragment in str(err.value)


def test_ratchet_tightens_to_what_the_run_reached_and_never_loosens() -> None:
    t = parse_thresholds(
        {
            "retrieval.recall@5": {"min": 0.8, "note": "start"},
            "intent.accuracy": {"min": 0.9},  # the run is below: stays
            "reply.unsupported_fact_rate": {"max": 0.1},
            "latency_ms.p95": {"max": 500, "ratchet": False},
            "emotion.accuracy": {"min": 0.5},  # null in the run: stays
        }
    )
    new = ratchet(METRICS, t)
    assert new["retrieval.recall@5"] == Threshold("retrieval.recall@5", min=0.93, note="start")
    assert new["intent.accuracy"].min == 0.9
    assert new["reply.unsupported_fact_rate"].max == 0.04
    assert new["latency_ms.p95"].max == 500
    assert new["emotion.accuracy"].min == 0.5


def test_thresholds_round_trip_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    data = {"retrieval.recall@5": {"min": 0.8, "note": "x"}, "latency_ms.p95": {"max": 900, "ratchet": False}}
    path.write_text(json.dumps(data), encoding="utf-8")
    t = load_thresholds(path)
    assert json.loads(dump_thresholds(t)) == data


GATES = Path(__file__).parents[2] / "evals" / "gates"


@pytest.mark.parametrize("name", ["smoke.json", "test.json"])
def test_the_shipped_gate_files_are_valid(name: str) -> None:
    t = load_thresholds(GATES / name)
    assert "retrieval.recall@5" in t and "reply.handoff_recall" in t and "reply.handoff_precision" in t
    assert "reply.handoff_accuracy" not in t  # always answering "no handoff" passed it


def test_always_no_handoff_fails_the_smoke_gate() -> None:
    cases = load_cases(GATES.parent / "sets" / "smoke.jsonl")
    assert any(c.expected.handoff for c in cases)
    metrics = compute_metrics([score_case(c, result(handoff=False)) for c in cases])
    handoff = {k: t for k, t in load_thresholds(GATES / "smoke.json").items() if k.startswith("reply.handoff")}
    assert {f.key for f in check_gate(metrics, handoff)} == {"reply.handoff_recall", "reply.handoff_precision"}


def test_a_missing_or_broken_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="no such thresholds file"):
        load_thresholds(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(EvalError, match="cannot read the thresholds"):
        load_thresholds(tmp_path / "bad.json")


def test_a_lowered_threshold_must_carry_its_reason() -> None:
    with pytest.raises(EvalError, match='"lowered" must record a "reason"'):
        parse_thresholds({"retrieval.recall@1": {"min": 0.5, "lowered": {"from": ">= 0.58"}}})
    t = parse_thresholds({"retrieval.recall@1": {"min": 0.5, "lowered": {"from": ">= 0.58", "reason": "新集"}}})
    assert t["retrieval.recall@1"].lowered == {"from": ">= 0.58", "reason": "新集"}


def test_per_reason_and_per_intent_members_can_have_thresholds() -> None:
    t = parse_thresholds(
        {"reply.handoff_recall_by_reason.threat": {"min": 1.0}, "per_intent.exchange.intent.accuracy": {"min": 0.5}}
    )
    assert set(t) == {"reply.handoff_recall_by_reason.threat", "per_intent.exchange.intent.accuracy"}
