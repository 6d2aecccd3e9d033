"""The fitted handoff model: its signals, its fit, its decision, and how the handoff table and it combine."""

from __future__ import annotations

import random

import numpy as np
import pytest

from assistant.handoff import HandoffPolicy, Signals
from assistant.handoff_model import HandoffModel, choose_threshold, features, fit, repeat_share
from kb.loader import default_rules_data, parse_rules
from kb.rules import HandoffModelWeights, LogisticWeights

RULES = parse_rules(default_rules_data())
CUES = HandoffModel.compile_cues(RULES.handoff.cues)


def model(bias: float, weights: dict[str, float], reasons: dict[str, dict[str, float]], threshold: float = 0.5):  # type: ignore[no-untyped-def]
    return HandoffModelWeights(
        detector=LogisticWeights(bias=bias, weights=weights),
        threshold=threshold,
        reasons={code: LogisticWeights(bias=0.0, weights=w) for code, w in reasons.items()},
    )


def test_repeat_share_finds_a_message_sent_again() -> None:
    assert repeat_share("订单号我已经发过了[订单6]", ["订单号我已经发过了"]) == 1.0
    assert repeat_share("保温杯能装牛奶吗", ["空调多少匹"]) == 0.0
    assert repeat_share("好", ["好的"]) == 0.0  # too short to count


def test_features_read_the_cue_classes_in_the_latest_and_earlier_turns() -> None:
    f = features(
        Signals(latest="师傅说装不了 不给装", earlier=("我的订单什么时候到",), customer_turns=2, stage="after_sale"),
        CUES,
    )
    assert f["third_party@latest"] == 1.0 and f["refusal@latest"] == 1.0
    assert f["own_order@earlier"] == 1.0 and f["own_order@latest"] == 0.0
    assert f["stage=after_sale"] == 1.0 and f["stage=pre_sale"] == 0.0
    assert all(0.0 <= v <= 1.0 for v in f.values())


def test_the_shop_repeating_itself_is_a_signal() -> None:
    same = ("麻烦您提供一下订单号，我马上帮您查询。", "麻烦您提供一下订单号，我马上帮您查询哦")
    assert features(Signals(latest="发了三遍了", agent_said=same), CUES)["agent_repeated"] > 0.8
    assert features(Signals(latest="好的", agent_said=same[:1]), CUES)["agent_repeated"] == 0.0


def test_decide_names_the_most_probable_reason_and_the_signals_that_pushed() -> None:
    weights = model(
        -2.0,
        {"refusal@latest": 3.0, "third_party@latest": 1.0},
        {"dispute": {"refusal@latest": 2.0}, "repeated": {"counting@latest": 2.0}},
    )
    m = HandoffModel(weights, RULES.handoff.cues)
    decision = m.decide(Signals(latest="售后说是人为的，拒绝维修"))
    assert decision is not None and decision.reason == "dispute"
    assert decision.signals[0].startswith("model p=") and "refusal@latest+3.0" in decision.signals
    assert m.decide(Signals(latest="保温杯能装牛奶吗")) is None  # the detector stays below the threshold


def test_the_table_decides_first_and_the_model_only_adds() -> None:
    weights = model(5.0, {}, {"dispute": {}})  # the detector always fires
    policy = HandoffPolicy(RULES.handoff, weights)
    assert policy.run(Signals(latest="转人工")).reason_code == "customer_request"
    added = policy.run(Signals(latest="保温杯能装牛奶吗"))
    assert added.reason_code == "dispute" and added.signals[0].startswith("model p=")
    assert HandoffPolicy(RULES.handoff).run(Signals(latest="保温杯能装牛奶吗")).recommended is False


def test_a_reason_the_table_does_not_define_is_not_reported() -> None:
    weights = model(5.0, {}, {"not_in_table": {}}).only(r.code for r in RULES.handoff.reasons)
    assert HandoffPolicy(RULES.handoff, weights).run(Signals(latest="你好")).recommended is False


def _synthetic(n: int, seed: int) -> tuple[list[dict[str, float]], list[str | None]]:
    """A person is needed when `refusal@latest` is on (dispute) or `counting@latest` (repeated); 10% noise."""
    rng = random.Random(seed)
    rows: list[dict[str, float]] = []
    labels: list[str | None] = []
    for _ in range(n):
        row = {"refusal@latest": float(rng.random() < 0.2), "counting@latest": float(rng.random() < 0.2)}
        row["latest_length"] = rng.random()
        label = "dispute" if row["refusal@latest"] else ("repeated" if row["counting@latest"] else None)
        if rng.random() < 0.1:
            label = None if label else "dispute"
        rows.append(row)
        labels.append(label)
    return rows, labels


def test_fit_learns_the_signals_that_separate_and_the_reason_they_belong_to() -> None:
    rows, labels = _synthetic(400, 1)
    report = fit(rows, labels, reasons=["dispute", "repeated", "safety"], l2=1.0, min_precision=0.8)
    w = report.weights
    assert w.detector.weights["refusal@latest"] > 2 and w.detector.weights["counting@latest"] > 2
    assert abs(w.detector.weights.get("latest_length", 0.0)) < 1  # noise gets a small weight
    assert set(w.reasons) == {"dispute", "repeated"}  # no safety examples: that reason is not fitted
    test_rows, test_labels = _synthetic(300, 2)
    m = HandoffModel(w, {})
    decided = [m.decide_on(r) for r in test_rows]
    right = sum(d is not None and d.reason == lab for d, lab in zip(decided, test_labels, strict=True) if lab)
    assert right / sum(1 for lab in test_labels if lab) > 0.7
    assert report.summary["cv_precision"] >= 0.8


def test_the_threshold_keeps_the_precision_asked_for() -> None:
    p = [0.9, 0.85, 0.8, 0.7, 0.6, 0.55]
    y = [1, 1, 1, 0, 1, 0]
    assert choose_threshold(np.array(p), np.array(y, dtype=float), 0.9) == 0.75  # 0.7 would let the 0 in
    assert choose_threshold(np.array(p), np.array(y, dtype=float), 0.75) == 0.6
    assert choose_threshold(np.array([0.6]), np.array([0.0]), 0.9) == 0.95  # nothing keeps it: hardly ever


def test_the_threshold_counts_the_tables_handoffs_too() -> None:
    # The table's handoffs (all right) leave room for one wrong handoff of the model's at 0.7 …
    p = np.array([0.9, 0.7, 0.6, 0.55, 0.1, 0.1, 0.1, 0.1])
    y = np.array([1, 0, 1, 0, 1, 1, 1, 1], dtype=float)
    table = np.array([False, False, False, False, True, True, True, True])
    assert choose_threshold(p, y, 0.8, given=table) == 0.6  # 6 right of 7; 0.55 would be 6 of 8
    assert choose_threshold(p, y, 0.8) == 0.75  # the model's own: 0.7 would be 2 right of 3
    # … and a wrong handoff of the table's leaves less.
    table_wrong = np.array([0.1, 0.1, 0.1])
    assert choose_threshold(table_wrong, np.zeros(3), 0.5, given=np.ones(3, dtype=bool)) == 0.95


def test_fit_refuses_a_set_without_both_kinds_of_case() -> None:
    with pytest.raises(ValueError, match="need a person"):
        fit([{"x": 1.0}] * 10, [None] * 10, reasons=["dispute"])
