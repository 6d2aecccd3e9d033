import json
from pathlib import Path
from typing import Any

import pytest

from assistant.result import Turn
from evals.cases import load_cases, parse_cases, read_cases, split_alternatives
from evals.errors import EvalError, EvalSetError
from tests.evals.fakes import case, write_set

GOOD = {
    "id": "ret-001",
    "conversation": [
        {"role": "customer", "text": "衣服收到了，尺码偏小，能退吗？"},
        {"role": "agent", "text": "您好，请问订单号是多少呢？"},
        {"role": "customer", "text": "20261101xxxx，3天前签收的"},
    ],
    "context": {"order": {"order_id": "20261101xxxx", "status": "delivered", "days_since_delivery": 3}},
    "expected": {
        "intent": "return_request",
        "emotion": "calm",
        "doc_ids": ["policy-return-7day"],
        "must_include": ["7天|七天"],
        "must_not_include": ["不符合", "亲，"],
        "handoff": False,
    },
}


def test_loads_the_contract_example(tmp_path: Path) -> None:
    [c] = load_cases(write_set(tmp_path / "s.jsonl", [GOOD]))
    assert c.id == "ret-001" and c.line == 1
    assert c.conversation[-1] == Turn("customer", "20261101xxxx，3天前签收的")
    assert c.context == GOOD["context"]
    assert c.expected.to_dict() == GOOD["expected"]
    assert c.expected.doc_ids == ("policy-return-7day",) and c.expected.handoff is False


def test_expected_and_id_are_optional_and_blank_lines_keep_numbering(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(
        "\ufeff\n" + json.dumps({"conversation": [{"role": "customer", "text": "在吗"}]}) + "\n",
        encoding="utf-8",
    )
    [c] = load_cases(path)
    assert (c.id, c.line) == ("line-2", 2)
    assert c.expected.to_dict() == {} and c.context is None


ASK = [{"role": "customer", "text": "在吗"}]


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"id": "x", "conversation": [', "not valid JSON"),
        ('["not", "an", "object"]', "must be a JSON object"),
        ({"id": "x"}, "missing 'conversation'"),
        ({"id": "x", "conversation": []}, "non-empty list"),
        ({"id": "x", "conversation": [{"role": "bot", "text": "hi"}]}, 'role "bot" is not one of customer'),
        (
            {"id": "x", "conversation": [{"role": "customer", "text": ""}]},
            "'text' must be a non-empty string",
        ),
        (
            {"id": "x", "conversation": [*ASK, {"role": "agent", "text": "在"}]},
            "last turn must be the customer's",
        ),
        ({"id": 7, "conversation": ASK}, "'id' must be a non-empty string"),
        ({"id": "x", "conversation": ASK, "context": [1]}, "'context' must be an object"),
        (
            {"id": "x", "conversation": ASK, "expected": {"emotion": "mad"}},
            'expected.emotion "mad" is not one of calm, anxious, angry',
        ),
        (
            {"id": "x", "conversation": ASK, "expected": {"handoff": "no"}},
            "expected.handoff must be true or false",
        ),
        (
            {"id": "x", "conversation": ASK, "expected": {"doc_ids": "a"}},
            "expected.doc_ids must be a list of strings",
        ),
        (
            {"id": "x", "conversation": ASK, "expected": {"must_include": [7]}},
            "expected.must_include must be a list of strings",
        ),
        (
            {"id": "x", "conversation": ASK, "expected": {"must_include": ["|"]}},
            "expected.must_include has an empty entry",
        ),
        (
            {"id": "x", "conversation": ASK, "expected": {"intent": 3}},
            "expected.intent must be an intent name",
        ),
        (
            {"id": "x", "conversation": ASK, "expected": {"polarity": "maybe"}},
            'expected.polarity "maybe" is not one of yes, no',
        ),
        (
            {"id": "x", "conversation": ASK, "expected": {"handoff": False, "handoff_reason": "threat"}},
            'handoff_reason needs "handoff": true',
        ),
    ],
)
def test_malformed_lines_are_rejected_with_their_line_number(tmp_path: Path, line: Any, fragment: str) -> None:
    path = write_set(tmp_path / "s.jsonl", [case("ok-1", "能退吗"), line])
    with pytest.raises(EvalSetError) as err:
        load_cases(path)
    [problem] = err.value.problems
    assert problem.startswith("line 2")
    assert fragment in problem
    assert str(path) in str(err.value)


def test_every_bad_line_is_reported_at_once(tmp_path: Path) -> None:
    path = write_set(
        tmp_path / "s.jsonl",
        [
            case("a", "能退吗"),
            "{oops",
            case("a", "又来了"),
            {"id": "b", "conversation": [{"role": "agent", "text": "您好"}]},
        ],
    )
    cases, problems = parse_cases(path)
    assert [c.id for c in cases] == ["a"]
    assert [str(p).split(":")[0] for p in problems] == ["line 2", "line 3 (a)", "line 4 (b)"]
    assert "already used on line 1" in str(problems[1])


@pytest.mark.parametrize(("content", "fragment"), [("", "no cases"), ("\n\n", "no cases")])
def test_an_empty_set_is_an_error(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(EvalSetError, match=fragment):
        load_cases(path)


def test_a_missing_file_says_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="no such eval set"):
        load_cases(tmp_path / "nope.jsonl")


@pytest.mark.parametrize(
    ("entry", "alternatives"), [("7天|七天", ["7天", "七天"]), (" a | |b", ["a", "b"]), ("顺丰", ["顺丰"])]
)
def test_split_alternatives(entry: str, alternatives: list[str]) -> None:
    assert split_alternatives(entry) == alternatives


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ({"id": "x", "conversation": ASK, "expected": {"must_includes": ["7天"]}}, "did you mean 'must_include'?"),
        ({"id": "x", "conversation": ASK, "expect": {}}, "did you mean 'expected'?"),
        ({"id": "x", "conversation": ASK, "label_note": "二审改过"}, "unknown key 'label_note' is ignored"),
        (
            {"id": "x", "conversation": ASK, "expected": {"handoff": True, "handoff_reason": "threats"}},
            "did you mean 'threat'?",
        ),
    ],
)
def test_unknown_keys_load_with_a_warning_naming_them(tmp_path: Path, line: Any, fragment: str) -> None:
    path = write_set(tmp_path / "s.jsonl", [case("ok-1", "能退吗"), line])
    cases, warnings = read_cases(path)
    assert [c.id for c in cases] == ["ok-1", "x"]
    [warning] = warnings
    assert warning.warning and str(warning).startswith("line 2 (x): warning:") and fragment in str(warning)


def test_an_outside_sets_own_annotations_are_kept_on_the_case(tmp_path: Path) -> None:
    raw = {**GOOD, "source": "客服群导出 2026-11", "label_note": "两人标注一致"}
    [c] = load_cases(write_set(tmp_path / "s.jsonl", [raw]))
    assert c.extra == {"source": "客服群导出 2026-11", "label_note": "两人标注一致"}
    assert c.expected.to_dict() == GOOD["expected"]


def test_polarity_and_handoff_reason_are_read(tmp_path: Path) -> None:
    raw = {
        "id": "h",
        "conversation": ASK,
        "expected": {"handoff": True, "handoff_reason": "vip_only", "polarity": "no"},
    }
    [c] = load_cases(write_set(tmp_path / "s.jsonl", [raw]))
    assert (c.expected.handoff_reason, c.expected.polarity) == ("vip_only", "no")  # any reason string is accepted
