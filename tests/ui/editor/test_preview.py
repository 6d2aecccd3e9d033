from pathlib import Path

from indexer.embedding import HashingEmbedder
from indexer.index import Index
from tests.ui.editor.conftest import GIFT_TEXT
from ui.editor import handlers as h
from ui.editor.workspace import Workspace

QUESTION = "可以帮忙礼品包装吗"


def test_preview_against_published_and_draft(ctx: h.EditorContext, index_dir: Path) -> None:
    ctx.ws.create(GIFT_TEXT, author="甲")
    published, draft = h.preview_message(ctx, QUESTION, "both")
    assert published.title == "已发布知识库" and draft.title == "草稿知识库"
    assert "faq-gift-wrap" not in [row[1] for row in published.hits]
    assert draft.hits[0][1] == "faq-gift-wrap" and draft.hits[0][3] > 0  # doc id, fused score
    assert "faq-gift-wrap" in draft.suggestions and "faq-gift-wrap v1" in draft.summary
    assert "faq-gift-wrap" not in {c.doc_id for c in Index.open(index_dir, HashingEmbedder()).chunks}


def test_the_draft_index_is_reused_until_something_changes(ws: Workspace) -> None:
    previewer = h.Previewer(ws)
    _, v = ws.create(GIFT_TEXT, author="甲")
    first = previewer.drafts.prepare()
    # The tiny KB's faq-draft file is a draft too: every pending draft is in the draft KB.
    assert first.seconds > 0 and first.drafts == (("faq-draft", 1), ("faq-gift-wrap", 1))
    assert previewer.drafts.prepare().seconds == 0.0
    ws.save("faq-gift-wrap", GIFT_TEXT.replace("贺卡", "手写贺卡"), base=v.n, author="甲")
    rebuilt = previewer.drafts.prepare()
    assert rebuilt.seconds > 0 and dict(rebuilt.drafts)["faq-gift-wrap"] == 2
    index = Index.open(rebuilt.index_dir, ws.embedder)
    assert any("手写贺卡" in c.text for c in index.chunks)
    assert not first.kb_dir.exists()  # the previous draft KB is cleaned up


def test_preview_of_an_empty_message_explains(ctx: h.EditorContext) -> None:
    (view,) = h.preview_message(ctx, "  ", "published")
    assert view.title == "预览失败" and "type a customer message" in view.summary
