from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indexer.embedding import HashingEmbedder
from kb import load_kb, parse_document
from tests.ui.editor.conftest import FakeFeedbackStore, feedback, suggestion
from ui.editor import handlers as h
from ui.editor.analytics import load_feedback
from ui.editor.gaps import (
    MAX_GAP_QUESTIONS,
    GapQuestion,
    cluster_questions,
    faq_draft,
    gap_questions,
    last_customer_text,
)

INVOICE = ("可以开发票吗", "能开发票吗？", "可以开增值税发票吗")


def _store() -> FakeFeedbackStore:
    rows = [suggestion(f"i{n}", day=2, intent="invoice", citations=(), question=q) for n, q in enumerate(INVOICE)]
    rows += [
        suggestion("w1", day=3, intent="usage_help", citations=(), question="羽绒服可以机洗吗"),
        suggestion("ok", day=3, question="衣服能退吗？"),  # answered from a document: no gap
        suggestion("hi", day=3, intent="other", citations=(), question="你好"),  # small talk: no gap
        suggestion("rj", day=4, question="退货运费谁出？"),
        suggestion("rj2", day=4, question="退货运费谁出？", request="r-rj"),
    ]  # same request, 2nd suggestion
    return FakeFeedbackStore(rows, [feedback("rj", "rejected", day=4)])


def test_last_customer_text() -> None:
    assert last_customer_text("客户：在吗\n客服：在的\n客户：能退吗\n第二行") == "能退吗\n第二行"
    assert last_customer_text("没有角色的文本") == "没有角色的文本"


def test_gap_questions_are_uncited_or_rejected_questions() -> None:
    questions = {q.text: q for q in gap_questions(load_feedback(_store()))}
    assert set(questions) == {*INVOICE, "羽绒服可以机洗吗", "退货运费谁出？"}
    assert questions["退货运费谁出？"].reasons == ("被拒绝",) and questions["退货运费谁出？"].count == 1
    assert questions["可以开发票吗"].reasons == ("低置信",)


def test_questions_whose_suggestions_the_agent_ignored_are_gaps() -> None:
    rows = [suggestion("a1", day=2, question="羽绒服能干洗吗", request="r-a"),
            suggestion("a2", day=2, question="羽绒服能干洗吗", request="r-a"),
            suggestion("b1", day=2, question="衣服能退吗？", request="r-b"),
            suggestion("b2", day=2, question="衣服能退吗？", request="r-b")]  # fmt: skip
    events = [feedback("a1", "ignored", day=2), feedback("a2", "ignored", day=2), feedback("b1", "accepted", day=2)]
    questions = gap_questions(load_feedback(FakeFeedbackStore(rows, events)))
    assert [(q.text, q.reasons) for q in questions] == [("羽绒服能干洗吗", ("坐席另写回复",))]


def test_a_recorded_low_confidence_counts_even_with_citations() -> None:
    row = {**suggestion("c", day=2, question="积分怎么用"), "confidence": 0.4}
    data = load_feedback(FakeFeedbackStore([row], []))
    assert [q.text for q in gap_questions(data, confidence_threshold=0.8)] == ["积分怎么用"]
    assert gap_questions(data, confidence_threshold=0.3) == []


def test_similar_questions_cluster_together() -> None:
    questions = gap_questions(load_feedback(_store()))
    clusters = cluster_questions(questions, HashingEmbedder(), threshold=0.5)
    groups = sorted(sorted(q.text for q in c.questions) for c in clusters)
    assert sorted(INVOICE) in groups
    assert ["羽绒服可以机洗吗"] in groups and ["退货运费谁出？"] in groups
    assert clusters[0].size == 3 and clusters[0].intent == "invoice"


def test_leader_is_the_most_asked_question() -> None:
    qs = [
        GapQuestion("能开发票吗", "invoice", ("低置信",), 1, "b"),
        GapQuestion("可以开发票吗", "invoice", ("低置信",), 5, "a"),
    ]
    qs.sort(key=lambda q: -q.count)
    (cluster,) = cluster_questions(qs, HashingEmbedder(), threshold=0.3)
    assert cluster.representative == "可以开发票吗" and cluster.size == 6


def test_faq_draft_is_a_valid_document_in_the_intents_stage(kb_dir: Path) -> None:
    cluster = cluster_questions(gap_questions(load_feedback(_store())), HashingEmbedder(), threshold=0.5)[0]
    doc = parse_document(faq_draft(cluster, load_kb(kb_dir).intents))
    assert doc.type == "faq" and doc.category == "general" and doc.id == f"faq-gap-{cluster.id}"
    assert doc.title == cluster.representative and f"## 问：{cluster.representative}" in doc.body
    assert all(q.text in doc.body for q in cluster.questions)


def test_one_click_draft_faq_from_a_gap(ctx: h.EditorContext) -> None:
    ctx.feedback = _store()
    rows = h.knowledge_gaps(ctx, None, threshold=0.5)
    assert rows[0][2] == 3 and "低置信×3" in rows[0][3]
    out = h.draft_faq_from_gap(ctx, rows[0][0], author="小王")
    assert out.ok, out.message
    view = h.open_document(ctx, out.doc_id)
    assert view.body.startswith(f"## 问：{rows[0][1]}") and "草稿" in view.summary
    assert not h.draft_faq_from_gap(ctx, "nope", author="小王").ok


class CountingEmbedder(HashingEmbedder):
    """The fake embedder, counting the questions it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed_query(self, text: str) -> Any:
        self.embedded += 1
        return super().embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> Any:
        self.embedded += len(texts)
        return super().embed_queries(texts)


def test_clustering_is_bounded_however_many_questions() -> None:
    # Issue 14 (9): every editor page load embedded and compared every gap question (O(n²)).
    questions = [GapQuestion(f"问题{n}号：" + "字" * 5000, "other", ("被拒绝",), 1, "") for n in range(2000)]
    embedder = CountingEmbedder()
    clusters = cluster_questions(questions, embedder, threshold=1.01)  # nothing similar enough: all leaders
    assert embedder.embedded == MAX_GAP_QUESTIONS
    assert sum(c.size for c in clusters) == MAX_GAP_QUESTIONS
