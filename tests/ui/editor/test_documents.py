import pytest

from kb import DOC_TYPES, parse_document
from ui.editor.documents import join_text, set_fields, split_text, strip_managed, template, validate_text

TEXT = """---
id: faq-x   # stable
title: 标题
type: faq
category: general
specs:
  容量: 1L
version: 2
---

## 问：一

答。
"""


def test_set_fields_replaces_and_appends_keeping_the_rest() -> None:
    out = set_fields(TEXT, version=3, status="draft", specs={"容量": "2L"})
    front, body = split_text(out)
    assert "id: faq-x   # stable" in front  # the person's own lines and comments stay
    assert "version: 3" in front and "version: 2" not in front
    assert "status: draft" in front
    assert "specs: {容量: 2L}" in front and "1L" not in front  # a block value is replaced whole
    assert body.strip() == "## 问：一\n\n答。"
    assert parse_document(out).version == 3


def test_split_and_join_round_trip() -> None:
    front, body = split_text(TEXT)
    assert parse_document(join_text(front, body)) == parse_document(TEXT)
    assert split_text("no front matter") == ("", "no front matter")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("just a body", None),
        ("---\nid: Bad_Id\ntitle: t\ntype: faq\ncategory: general\n---\n正文", "id"),
        ("---\nid: a\ntitle: t\ntype: blog\ncategory: general\n---\n正文", "type"),
        ("---\nid: a\ntitle: t\ntype: faq\n---\n正文", "category"),
        ("---\nid: a\ntitle: t\ntype: faq\ncategory: general\n---\n", "body"),
    ],
)
def test_validation_names_the_field(text: str, field: str | None) -> None:
    doc, problems = validate_text(text)
    assert doc is None
    assert problems[0].blocking and problems[0].field == field


def test_unknown_field_is_a_warning_with_a_suggestion() -> None:
    doc, problems = validate_text("---\nid: a\ntitle: t\ntype: faq\ncategory: general\ntag: [x]\n---\n## 问：a\n答")
    assert doc is not None
    assert [(p.field, p.blocking) for p in problems] == [("tag", False)]
    assert "did you mean 'tags'" in problems[0].message


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_templates_are_valid_once_an_id_is_given(doc_type: str) -> None:
    text = template(doc_type, "after_sale", doc_id=f"{doc_type}-new", title="新文档")
    doc, problems = validate_text(text)
    assert doc is not None and doc.type == doc_type and not any(p.blocking for p in problems)


def test_strip_managed_leaves_what_a_person_wrote() -> None:
    stripped = strip_managed(set_fields(TEXT, status="draft", updated="2026-11-01"))
    assert "version:" not in stripped and "status:" not in stripped and "updated:" not in stripped
    assert "id: faq-x" in stripped
