"""What the workspace keeps true of the KB folder: files valid for load_kb, history in sync with them."""

from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import load_kb
from tests.ui.editor.conftest import GIFT_TEXT
from ui.editor.errors import ConflictError, EditorError, InvalidTextError, ReindexError
from ui.editor.workspace import Workspace


def test_existing_files_are_imported_once(ws: Workspace, kb_dir: Path) -> None:
    first = {d.id: d.head for d in ws.documents()}
    assert first == {"faq-draft": 1, "policy-return": 1, "policy-shipping": 1, "product-kettle": 1}
    ws.documents()
    assert len(ws.versions.log("policy-return")) == 1
    assert ws.document("faq-draft").head.status == "draft"  # a draft on file stays a draft
    assert (kb_dir / ".kefu" / "history" / "policy-return" / "1.txt").is_file()
    load_kb(kb_dir, strict=True)  # the history beside the docs does not disturb the KB


def test_a_file_changed_outside_the_editor_becomes_a_version_and_stale_editors_conflict(
    ws: Workspace, kb_dir: Path
) -> None:
    state = ws.document("policy-return")
    path = kb_dir / "docs" / "policy" / "return.md"
    path.write_text(path.read_text(encoding="utf-8").replace("7天内", "15天内"), encoding="utf-8")
    after = ws.document("policy-return")
    assert after.head.n == 2 and after.head.message.startswith("KB 文件在编辑器外被修改")
    assert "15天内" in after.text
    with pytest.raises(ConflictError) as err:
        ws.save("policy-return", state.text.replace("48小时", "24小时"), base=state.head.n, author="甲")
    assert "-签收后15天内" in err.value.diff and "+签收后7天内" in err.value.diff  # theirs lacks the outside edit


def test_publishing_into_a_kb_with_a_broken_file_is_refused(ws: Workspace, kb_dir: Path) -> None:
    _, v = ws.create(GIFT_TEXT, author="甲")
    (kb_dir / "docs" / "faq" / "broken.md").write_text("no front matter", encoding="utf-8")
    with pytest.raises(EditorError, match=r"broken\.md"):
        ws.publish("faq-gift-wrap", base=v.n, author="甲")
    assert not (kb_dir / "docs" / "faq" / "faq-gift-wrap.md").exists()


def test_publish_and_config_saves_tell_the_service(kb_dir: Path, index_dir: Path) -> None:
    calls: list[str] = []
    ws = Workspace(kb_dir, index_dir, HashingEmbedder(), on_change=lambda: calls.append("reload"))
    _, v = ws.create(GIFT_TEXT, author="甲")
    result = ws.publish("faq-gift-wrap", base=v.n, author="甲")
    assert calls == ["reload"]
    assert result.report.added == ["faq-gift-wrap"]
    assert result.report.embedded == 1  # only the new document was embedded
    text, head = ws.config("rules")
    ws.save_config("rules", text + "\n# 改\n", base=head.n, author="甲")
    assert calls == ["reload", "reload"]


def test_a_failing_service_callback_does_not_fail_the_publish(kb_dir: Path, index_dir: Path) -> None:
    def broken() -> None:
        raise RuntimeError("down")

    ws = Workspace(kb_dir, index_dir, HashingEmbedder(), on_change=broken)
    _, v = ws.create(GIFT_TEXT, author="甲")
    result = ws.publish("faq-gift-wrap", base=v.n, author="甲")
    assert "not told to reload" in result.notice and load_kb(kb_dir).get("faq-gift-wrap") is not None


def test_a_draft_id_is_taken_too(ws: Workspace) -> None:
    ws.create(GIFT_TEXT, author="甲")
    with pytest.raises(InvalidTextError, match="already used by a draft"):
        ws.create(GIFT_TEXT, author="乙")


def test_publishing_twice_is_harmless(ws: Workspace) -> None:
    _, v = ws.create(GIFT_TEXT, author="甲")
    first = ws.publish("faq-gift-wrap", base=v.n, author="甲")
    again = ws.publish("faq-gift-wrap", base=first.version.n, author="甲")
    assert again.version == first.version and again.report.embedded == 0


# -- issue 14 (12): durability and publishing from two processes --------------------------------------------


def test_the_index_lock_is_held_across_processes(ws: Workspace) -> None:
    # A thread lock let `kefu editor` and `kefu serve` on one KB update the index at once.
    import multiprocessing

    other = FileLock(ws._index_lock.lock_file)
    with ws._index_lock:
        ctx = multiprocessing.get_context("spawn")
        probe = ctx.Process(target=_try_lock, args=(ws._index_lock.lock_file,))
        probe.start()
        probe.join(30)
        assert probe.exitcode == 3  # the other process could not take it
    with other.acquire(timeout=1):
        pass


def _try_lock(path: str) -> None:
    import sys

    try:
        FileLock(path).acquire(timeout=0.2)
    except Timeout:
        sys.exit(3)
    sys.exit(0)


def test_a_failed_reindex_is_reported_and_retried(ws: Workspace, kb_dir: Path, index_dir: Path) -> None:
    doc_id, v = ws.create(GIFT_TEXT, author="小王")
    index_dir.rename(index_dir.with_name("moved"))
    index_dir.write_text("not a directory", encoding="utf-8")  # the index cannot be written
    with pytest.raises(ReindexError, match="not served yet"):
        ws.publish(doc_id, base=v.n, author="小王")
    assert ws.reindex_pending is not None
    assert ws.retry_reindex() is not None  # still failing: said again
    index_dir.unlink()
    index_dir.with_name("moved").rename(index_dir)
    assert ws.retry_reindex() is None and ws.reindex_pending is None
    assert doc_id in Index.open(index_dir, HashingEmbedder()).manifest.documents


# -- issue 16: editors on several replicas publish into one KB ------------------------------------------------

REPLICA_DOCS = {
    "a": "---\nid: faq-gift-card\ntitle: 礼品卡\ntype: faq\ncategory: general\n---\n## 问：有礼品卡吗？\n\n有，面值100元和200元。\n",
    "b": "---\nid: faq-night-ship\ntitle: 夜间发货\ntype: faq\ncategory: pre_sale\n---\n## 问：晚上发货吗？\n\n22点前付款当晚发出。\n",
}


def _publish_in_another_process(kb_dir: str, index_dir: str, who: str, start: float) -> None:
    import time

    from indexer.embedding import HashingEmbedder
    from ui.editor.workspace import Workspace

    ws = Workspace(Path(kb_dir), Path(index_dir), HashingEmbedder())
    doc_id, v = ws.create(REPLICA_DOCS[who], author=who)
    time.sleep(max(0.0, start - time.time()))  # both publish at the same moment
    ws.publish(doc_id, base=v.n, author=who)


def test_two_processes_publishing_at_once_both_land(kb_dir: Path, index_dir: Path) -> None:
    import multiprocessing
    import time

    ctx = multiprocessing.get_context("spawn")
    start = time.time() + 4  # after both processes have imported and created their drafts
    procs = [
        ctx.Process(target=_publish_in_another_process, args=(str(kb_dir), str(index_dir), who, start))
        for who in ("a", "b")
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    served = Index.open(index_dir, HashingEmbedder()).manifest.documents
    assert {"faq-gift-card", "faq-night-ship"} <= set(served)  # neither update dropped the other's document
    ws = Workspace(kb_dir, index_dir, HashingEmbedder())
    for doc_id in ("faq-gift-card", "faq-night-ship"):
        assert [(v.n, v.status) for v in ws.versions.log(doc_id)] == [(1, "draft"), (2, "published")]


def test_two_processes_publishing_one_document_land_in_order(ws: Workspace, kb_dir: Path, index_dir: Path) -> None:
    # The second publish of the same head is refused, not silently merged: its editor sees what changed.
    doc_id, v = ws.create(GIFT_TEXT, author="小王")
    other = Workspace(kb_dir, index_dir, HashingEmbedder())
    ws.publish(doc_id, base=v.n, author="小王")
    with pytest.raises(ConflictError):
        other.publish(doc_id, base=v.n, author="小李")
    assert [x.status for x in ws.versions.log(doc_id)] == ["draft", "published"]
