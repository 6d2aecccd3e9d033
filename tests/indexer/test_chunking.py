import pytest

from indexer.chunking import chunk_document, split_sentences
from kb import parse_document

DOC = parse_document(
    "---\nid: d\ntitle: 退货规则\ntype: policy\ncategory: after_sale\n---\n"
    "开头一句。\n## 条件\n第一句。第二句！第三句？第四句；\n### 细则\n细则一句。\n## 时效\n"
    + "很长的句子" * 30
    + "。短句。\n",
    "d.md",
)


def test_sentences_keep_their_end_punctuation() -> None:
    assert split_sentences("第一句。第二句！第三句？第四句；尾巴") == [
        "第一句。",
        "第二句！",
        "第三句？",
        "第四句；",
        "尾巴",
    ]


def test_chunks_follow_headings_and_carry_the_title() -> None:
    chunks = chunk_document(DOC, max_chars=100)
    sections = [c.section for c in chunks]
    assert sections[:3] == ["", "条件", "条件 > 细则"]
    assert all(c.embed_text.startswith("退货规则") for c in chunks)
    assert "条件" in chunks[1].embed_text.splitlines()[0]


@pytest.mark.parametrize("max_chars", [20, 60, 200])
def test_long_sections_split_only_at_sentence_ends(max_chars: int) -> None:
    for c in chunk_document(DOC, max_chars=max_chars):
        assert c.text.endswith(("。", "！", "？", "；")), c.text
        assert len(c.text) <= max_chars or "。" not in c.text[:-1]


def test_chunk_ids_are_stable_and_content_addressed() -> None:
    a = chunk_document(DOC)
    b = chunk_document(DOC)
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]
    edited = parse_document(
        "---\nid: d\ntitle: 退货规则\ntype: policy\ncategory: after_sale\n---\n开头一句。\n## 条件\n改过的句子。\n",
        "d.md",
    )
    ids = {c.chunk_id for c in chunk_document(edited)}
    assert a[0].chunk_id in ids  # the unchanged first section keeps its id
    assert len(ids & {c.chunk_id for c in a}) == 1


def test_product_specs_become_a_chunk() -> None:
    doc = parse_document(
        "---\nid: p\ntitle: 水壶\ntype: product\ncategory: pre_sale\nsku: QM-1\nprice: 129\n"
        "specs:\n  容量: 1.7L\n---\n## 简介\n好用。\n",
        "p.md",
    )
    first = chunk_document(doc)[0]
    assert first.section == "规格参数"
    assert "QM-1" in first.text and "1.7L" in first.text and "129元" in first.text


def test_table_rows_become_sentences() -> None:
    from indexer.chunking import tables_to_sentences

    lines = [
        "尺码表：",
        "| 尺码 | 身高 | 充绒量 |",
        "|---|---|---|",
        "| M | 160-165 | 110g |",
        "| L | 165-172 | 120g |",
        "完。",
    ]
    assert tables_to_sentences(lines) == [
        "尺码表：",
        "尺码M：身高160-165，充绒量110g。",
        "尺码L：身高165-172，充绒量120g。",
        "完。",
    ]


def test_a_table_laid_out_sideways_becomes_one_sentence_per_column() -> None:
    from indexer.chunking import tables_to_sentences

    lines = [
        "| 鞋码 | 38 | 39 | 40 |",
        "|---|---|---|---|",
        "| 脚长（mm） | 240 | 245 | 250 |",
        "| 脚宽 | 88 | 90 |",  # a short row leaves its last column empty
    ]
    assert tables_to_sentences(lines) == [
        "鞋码38：脚长（mm）240，脚宽88。",
        "鞋码39：脚长（mm）245，脚宽90。",
        "鞋码40：脚长（mm）250。",
    ]
    # a header of names (even with a size among them) is an ordinary table
    assert tables_to_sentences(["| 尺码 | 腰围 | 30 |", "|---|---|---|", "| S | 72 | x |"]) == ["尺码S：腰围72，30x。"]
