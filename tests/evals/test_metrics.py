from typing import Any

import pytest

from assistant.result import Turn, Violation
from evals.cases import EvalCase, Expected
from evals.metrics import (
    METRICS,
    compute_metrics,
    flatten,
    found_excludes,
    intent_table,
    matches_alternatives,
    mean,
    metric_for,
    metric_keys,
    missing_includes,
    percentile,
    recall_at_k,
    reciprocal_rank_at_k,
    score_case,
    summarize,
)
from tests.evals.fakes import result, suggestion

CONTRACT_KEYS = {
    "retrieval.recall@1",
    "retrieval.recall@5",
    "retrieval.mrr@10",
    "intent.accuracy",
    "emotion.accuracy",
    "reply.must_include_rate",
    "reply.must_not_include_violation_rate",
    "reply.unsupported_fact_rate",
    "reply.compliance_pass_rate",
    "reply.handoff_accuracy",
    "reply.handoff_precision",
    "reply.handoff_recall",
    "reply.citation_precision",
    "reply.must_include_any_rate",
    "reply.polarity_accuracy",
    "intent.macro_f1",
    "latency_ms.p50",
    "latency_ms.p95",
}


@pytest.mark.parametrize(
    ("retrieved", "relevant", "k", "expected"),
    [
        (["a", "b", "c"], {"a"}, 1, 1.0),
        (["a", "b", "c"], {"b"}, 1, 0.0),
        (["a", "b", "c"], {"b"}, 2, 1.0),
        (["a", "b", "c"], {"x", "c"}, 5, 1.0),  # any one of the relevant documents counts
        (["a", "b", "c"], {"x"}, 5, 0.0),
        ([], {"a"}, 5, 0.0),
    ],
)
def test_recall_at_k(retrieved: list[str], relevant: set[str], k: int, expected: float) -> None:
    assert recall_at_k(retrieved, relevant, k) == expected


@pytest.mark.parametrize(
    ("retrieved", "relevant", "k", "expected"),
    [
        (["a", "b", "c"], {"a"}, 10, 1.0),
        (["a", "b", "c"], {"c"}, 10, 1 / 3),
        (["a", "b", "c"], {"c", "b"}, 10, 1 / 2),  # the first relevant one sets the rank
        (["a", "b", "c"], {"c"}, 2, 0.0),  # beyond k
        (["a", "b", "c"], {"x"}, 10, 0.0),
    ],
)
def test_reciprocal_rank_at_k(retrieved: list[str], relevant: set[str], k: int, expected: float) -> None:
    assert reciprocal_rank_at_k(retrieved, relevant, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("entry", "text", "expected"),
    [
        ("7天|七天", "签收后七天内可以退货", True),
        ("7天|七天", "签收后7天内可以退货", True),
        ("7天|七天", "签收后一周内可以退货", False),
        ("七天", "签收后7天内", False),  # literal: no numeral conversion
        (" 7天 | 七天 ", "7天内", True),  # spaces around alternatives are ignored
        ("SF", "默认发sf快递", False),  # case-sensitive
        ("顺丰", "默认发顺丰快递", True),
        ("5元|五元", "运费15元", False),  # a number matches only as a whole number
        ("5元|五元", "运费5元", True),
        ("2小时", "12小时内回复", False),
        ("1-3个工作日", "退款1-3个工作日到账", True),
        ("1-3个工作日", "退款11-3个工作日到账", False),
        ("48小时", "48小时内发货", True),
        ("1500W", "功率11500W", False),
        ("5", "容量5.5L", False),  # nor as the integer part of a decimal
        ("0.5", "误差10.5mm", False),
        ("5.5L", "容量5.5L，4口之家", True),
        ("JJ", "JJJ级", True),  # only numbers are whole-word; other text is a substring
    ],
)
def test_matches_alternatives(entry: str, text: str, expected: bool) -> None:
    assert matches_alternatives(entry, text) is expected


def test_must_include_needs_every_entry_and_must_not_include_any() -> None:
    text = "您好，签收后7天内可以申请退货，运费由买家承担。"
    assert missing_includes(["7天|七天", "运费"], text) == []
    assert missing_includes(["7天|七天", "顺丰"], text) == ["顺丰"]
    assert found_excludes(["不符合", "亲，"], text) == []
    assert found_excludes(["不符合", "买家|卖家"], text) == ["买家|卖家"]


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        (list(range(1, 11)), 50, 5.5),
        (list(range(1, 11)), 95, 9.55),
        ([10.0, 30.0, 20.0], 50, 20.0),
        ([42.0], 95, 42.0),
        ([], 50, None),
    ],
)
def test_percentile_interpolates_like_numpy(values: list[float], q: float, expected: float | None) -> None:
    assert percentile(values, q) == (pytest.approx(expected) if expected is not None else None)


def test_mean_skips_unlabelled_and_is_null_without_labels() -> None:
    assert mean([True, False, None, True]) == pytest.approx(2 / 3)
    assert mean([None, None]) is None


def _case(case_id: str, **expected: Any) -> EvalCase:
    return EvalCase(case_id, (Turn("customer", "能退吗"),), expected=Expected(**expected))


def test_score_case_records_each_labelled_expectation() -> None:
    case = _case(
        "c1",
        intent="return_request",
        emotion="angry",
        doc_ids=("policy-return",),
        must_include=("7天|七天", "运费"),
        must_not_include=("亲，",),
        handoff=False,
    )
    s = score_case(case, result("亲，签收后7天内可以退货。", retrieved=["faq-x", "policy-return"]), latency_ms=5.0)
    assert s.passed == {
        "intent": True,
        "emotion": False,
        "doc_ids": True,
        "must_include": False,
        "must_not_include": False,
        "handoff": True,
        "compliance": True,
    }
    assert (s.recall_at_1, s.recall_at_5, s.rr_at_10) == (0.0, 1.0, 0.5)
    assert s.must_include_missing == ("运费",) and s.must_not_include_found == ("亲，",)
    assert not s.ok


def test_a_failed_run_fails_every_labelled_expectation() -> None:
    case = _case("c1", intent="return_request", must_not_include=("亲，",), handoff=False)
    s = score_case(case, None, error="RuntimeError: boom")
    assert s.passed == {"intent": False, "must_not_include": True, "handoff": False}
    assert s.latency_ms is None and s.compliant is None and not s.ok


def test_unsupported_fact_counts_even_a_warning() -> None:
    warn = Violation("unsupported_facts", "30天", "找不到", severity="warn")
    s = score_case(_case("c1"), result(suggestions=[suggestion("您好，30天内可退。", violations=[warn])]))
    assert s.unsupported_fact is True and s.compliant is True


def test_summarize_on_hand_checked_cases() -> None:
    block = Violation("unsupported_facts", "30天", "找不到")
    scores = [
        score_case(
            _case("a", intent="return_request", doc_ids=("policy-return",), must_include=("7天",)),
            result("您好，7天内可退。", retrieved=["policy-return"]),
            latency_ms=10.0,
            baseline=["x", "x", "policy-return"],  # the baseline found it second (a document counts once)
        ),
        score_case(
            _case("b", intent="return_request", doc_ids=("policy-return",), must_include=("7天",)),
            result(
                intent="exchange",
                retrieved=["x", "y", "policy-return"],
                suggestions=[suggestion("您好，30天内可退。", violations=[block])],
            ),
            latency_ms=30.0,
            baseline=["y"],
        ),
        score_case(
            _case("c", intent="shipping_info", handoff=True, must_not_include=("不归我们管",)),
            result("不归我们管", intent="shipping_info", handoff=True, retrieved=[]),
            latency_ms=20.0,
        ),
        score_case(_case("d", emotion="angry"), None, error="ValueError: bad"),
    ]
    m = compute_metrics(scores)
    assert m["n_cases"] == 4 and m["n_errors"] == 1
    assert m["retrieval"] == {
        "recall@1": 0.5,
        "recall@5": 1.0,
        "mrr@10": pytest.approx((1 + 1 / 3) / 2, abs=1e-4),
        "dense_baseline.recall@5": 0.5,
        "dense_baseline.mrr@10": 0.25,
    }
    assert m["intent"]["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["emotion"]["accuracy"] == 0.0
    assert m["reply"] == {
        "must_include_rate": 0.5,
        "must_include_any_rate": 0.5,
        "must_not_include_violation_rate": 1.0,
        "citation_precision": 1.0,  # a cites policy-return; b cites nothing, so it does not count
        "polarity_accuracy": None,
        "unsupported_fact_rate": pytest.approx(1 / 3, abs=1e-4),
        "compliance_pass_rate": pytest.approx(2 / 3, abs=1e-4),
        "handoff_accuracy": 1.0,
        "handoff_precision": 1.0,
        "handoff_recall": 1.0,
        "handoff_reason_accuracy": None,
        "handoff_recall_by_reason": {},
        "handoff_precision_by_reason": {"customer_request": 1.0},
    }
    assert (m["latency_ms"]["p50"], m["latency_ms"]["p95"]) == (20.0, 29.0)
    assert set(m["per_intent"]) == {"return_request", "shipping_info"}
    assert m["per_intent"]["return_request"]["intent"]["accuracy"] == 0.5
    assert m["per_intent"]["shipping_info"]["retrieval"]["recall@5"] is None


def test_every_metric_is_null_when_no_case_is_labelled_for_it() -> None:
    m = summarize([score_case(_case("a"), result(suggestions=[]), latency_ms=1.0)])
    assert set(m["retrieval"].values()) == {None}
    assert m["intent"]["accuracy"] is None and m["emotion"]["accuracy"] is None
    # nothing was suggested, nothing labelled: the families have no member
    assert all(v in (None, {}) for v in m["reply"].values())
    assert m["intent"]["macro_f1"] is None
    assert m["latency_ms"]["p50"] == 1.0


def test_summary_has_every_contract_key() -> None:
    assert metric_keys() >= CONTRACT_KEYS


def _handoff_scores(said: list[tuple[bool, str | None, bool, str]]) -> list[Any]:
    """(expected, expected reason, recommended, the assistant's reason) per case."""
    return [
        score_case(
            _case(f"c{n}", handoff=exp, **({"handoff_reason": why} if why else {})),
            result(handoff=got, reason=code),
        )
        for n, (exp, why, got, code) in enumerate(said)
    ]


def test_always_no_handoff_has_no_recall_and_no_precision() -> None:
    scores = _handoff_scores([(True, "threat", False, ""), (False, None, False, ""), (False, None, False, "")])
    reply = summarize(scores)["reply"]
    assert reply["handoff_accuracy"] == pytest.approx(2 / 3, abs=1e-4)  # what the old gate looked at
    assert reply["handoff_recall"] == 0.0 and reply["handoff_precision"] is None
    assert reply["handoff_recall_by_reason"] == {"threat": 0.0}


def test_handoff_precision_and_recall_per_reason() -> None:
    scores = _handoff_scores(
        [
            (True, "threat", True, "threat"),
            (True, "threat", True, "abuse"),  # caught, for another reason
            (True, "abuse", False, ""),
            (True, None, True, "no_answer"),
            (False, None, True, "no_answer"),  # a false alarm
            (False, None, False, ""),
        ]
    )
    reply = summarize(scores)["reply"]
    assert reply["handoff_recall"] == 0.75 and reply["handoff_precision"] == 0.75
    assert reply["handoff_recall_by_reason"] == {"abuse": 0.0, "threat": 1.0}
    assert reply["handoff_precision_by_reason"] == {"abuse": 1.0, "no_answer": 0.5, "threat": 1.0}
    assert reply["handoff_reason_accuracy"] == 0.5  # of the two labelled cases handed off, one named its reason
    flat = flatten(summarize(scores))
    assert flat["reply.handoff_recall_by_reason.threat"] == 1.0
    assert metric_for("reply.handoff_recall_by_reason.threat") is metric_for("reply.handoff_recall_by_reason")


def test_citation_precision_is_over_the_top_suggestions_cited_documents() -> None:
    top = suggestion("您好，7天内可退。", cites=["policy-return", "faq-size", "policy-return"])
    s = score_case(_case("a", doc_ids=("policy-return",)), result(suggestions=[top]))
    assert s.citation_precision == 0.5  # cited documents counted once
    nothing = score_case(_case("b", doc_ids=("policy-return",)), result(suggestions=[suggestion("您好")]))
    handoff = score_case(_case("c", doc_ids=("policy-return",), handoff=True), result(suggestions=[top]))
    assert nothing.citation_precision is None and handoff.citation_precision is None


def test_must_include_any_looks_at_every_suggestion() -> None:
    case = _case("a", must_include=("7天", "运费"))
    both = [suggestion("您好，7天内可退。"), suggestion("7天内可退，运费我们出。")]
    s = score_case(case, result(suggestions=both))
    assert s.passed["must_include"] is False and s.must_include_any is True
    none = score_case(case, result(suggestions=[suggestion("您好")]))
    assert none.must_include_any is False


@pytest.mark.parametrize(
    ("text", "want", "passed"),
    [
        ("您好，这款不支持7天无理由退货。", "no", True),
        ("您好，这款支持7天无理由退货。", "no", False),
        ("好的，我帮您查一下。", "yes", False),  # no stance is never right
    ],
)
def test_polarity_is_scored_on_the_top_suggestion(text: str, want: str, passed: bool) -> None:
    s = score_case(_case("a", polarity=want), result(text))
    assert s.passed["polarity"] is passed


def test_intent_table_and_macro_f1_by_hand() -> None:
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "b")]
    rows = {r.intent: r for r in intent_table(pairs)}
    assert (rows["a"].precision, rows["a"].recall, rows["a"].f1) == (1.0, 0.5, pytest.approx(2 / 3))
    assert (rows["b"].precision, rows["b"].recall) == (pytest.approx(1 / 3), 1.0)
    assert rows["c"].f1 == 0.0 and rows["c"].precision is None
    scores = [score_case(_case(f"c{n}", intent=e), result(intent=p)) for n, (e, p) in enumerate(pairs)]
    assert summarize(scores)["intent"]["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 0) / 3, abs=1e-4)


def test_the_metric_table_is_what_a_run_reports() -> None:
    flat = flatten(summarize(_handoff_scores([(True, "threat", True, "threat")])))
    reported = {k for k in flat if not k.startswith("labelled.") and k != "n_cases"}
    assert {k for k in reported if metric_for(k) is None} == set()
    assert {m.key for m in METRICS if not m.per_value} <= reported
