from pathlib import Path
from typing import Any

import pytest

from evals.cases import EvalCase, Expected, load_cases
from evals.errors import EvalSetError
from evals.validate import check_case, document_text, validate_set
from kb import KnowledgeBase, load_kb
from tests.evals.fakes import case, write_set


@pytest.fixture
def kb(tiny_kb: Path) -> KnowledgeBase:
    return load_kb(tiny_kb)


def _check(
    kb: KnowledgeBase, tmp_path: Path, message: str = "能退吗", context: Any = None, **expected: Any
) -> list[str]:
    raw = case("c1", message, **expected)
    if context is not None:
        raw["context"] = context
    [c] = load_cases(write_set(tmp_path / "s.jsonl", [raw]))
    return check_case(c, kb)


@pytest.mark.parametrize(
    ("expected", "fragment"),
    [
        ({"intent": "retrun_request"}, "unknown intent 'retrun_request' (did you mean 'return_request'?)"),
        (
            {"doc_ids": ["policy-retrun"]},
            "doc id 'policy-retrun' is not in the knowledge base (did you mean 'policy-return'?)",
        ),
        ({"doc_ids": ["faq-draft"]}, "'faq-draft' is draft; only published documents are retrieved"),
        ({"doc_ids": ["policy-return"], "must_include": ["15天"]}, "must_include '15天' appears in none"),
        ({"doc_ids": ["policy-return"], "must_include": ["七天"]}, "must_include '七天' appears in none"),
        ({"doc_ids": ["policy-shipping"], "must_include": ["7天"]}, "must_include '7天' appears in none"),
        # numbers are whole numbers here too: the document's 48小时 does not ground 8小时
        ({"doc_ids": ["policy-return"], "must_include": ["8小时"]}, "must_include '8小时' appears in none"),
    ],
)
def test_problems_against_the_kb(kb: KnowledgeBase, tmp_path: Path, expected: dict[str, Any], fragment: str) -> None:
    [problem] = _check(kb, tmp_path, **expected)
    assert fragment in problem


@pytest.mark.parametrize(
    "expected",
    [
        {"intent": "return_request", "doc_ids": ["policy-return"], "must_include": ["7天|七天", "48小时"]},
        {
            "doc_ids": ["policy-shipping", "policy-return"],
            "must_include": ["7天", "中通"],
        },  # any expected doc
        {
            "doc_ids": ["product-kettle"],
            "must_include": ["1800W", "不锈钢电热水壶", "QM-HA-0042", "129"],
        },  # specs
        {"must_include": ["完全不在知识库里的话"]},  # no expected documents: nothing to check against
    ],
)
def test_grounded_cases_pass(kb: KnowledgeBase, tmp_path: Path, expected: dict[str, Any]) -> None:
    assert _check(kb, tmp_path, **expected) == []


def test_must_include_may_come_from_the_conversation_or_order_context(kb: KnowledgeBase, tmp_path: Path) -> None:
    assert _check(kb, tmp_path, "订单2026110188能退吗", doc_ids=["policy-return"], must_include=["2026110188"]) == []
    assert (
        _check(
            kb,
            tmp_path,
            context={"order": {"order_id": "A-77"}},
            doc_ids=["policy-return"],
            must_include=["A-77"],
        )
        == []
    )


def test_document_text_covers_title_body_specs(kb: KnowledgeBase) -> None:
    doc = kb.get("product-kettle")
    assert doc is not None
    text = document_text(doc)
    assert "不锈钢电热水壶" in text and "304不锈钢内胆" in text and "容量: 1.7L" in text and "129" in text


def test_validate_set_lists_format_and_kb_problems_in_line_order(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = write_set(
        tmp_path / "s.jsonl",
        [
            case("a", "能退吗", intent="nope"),
            "{broken",
            case("c", "能退吗", doc_ids=["policy-return"]),
            case("d", "能退吗", doc_ids=["missing-doc"]),
        ],
    )
    with pytest.raises(EvalSetError) as err:
        validate_set(path, kb)
    assert [p.split(":")[0] for p in err.value.problems] == ["line 1 (a)", "line 2", "line 4 (d)"]


def test_a_valid_set_returns_its_cases(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = write_set(tmp_path / "s.jsonl", [case("a", "能退吗", intent="return_request", doc_ids=["policy-return"])])
    cases, warnings = validate_set(path, kb)
    assert warnings == []
    assert cases == [
        EvalCase("a", cases[0].conversation, None, Expected(intent="return_request", doc_ids=("policy-return",)), 1)
    ]


def test_a_set_with_its_own_annotations_validates_with_warnings(kb: KnowledgeBase, tmp_path: Path) -> None:
    raw = {**case("a", "能退吗", intent="return_request"), "source": "外部标注", "label_note": "复核过"}
    cases, warnings = validate_set(write_set(tmp_path / "s.jsonl", [raw]), kb)
    assert [c.id for c in cases] == ["a"]
    assert [w.message.split(" is ignored")[0] for w in warnings] == ["unknown key 'source'", "unknown key 'label_note'"]
