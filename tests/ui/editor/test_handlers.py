"""The editor buttons as plain functions: create, validate, save, diff, rollback, publish, archive."""

from pathlib import Path

from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import load_kb
from tests.ui.editor.conftest import GIFT_BODY, GIFT_FRONT
from ui.editor import handlers as h
from ui.editor.documents import split_text


def _indexed(index_dir: Path) -> set[str]:
    return {c.doc_id for c in Index.open(index_dir, HashingEmbedder()).chunks}


def _create(ctx: h.EditorContext) -> h.Outcome:
    out = h.save_document(ctx, "", None, GIFT_FRONT, GIFT_BODY, author="小王", message="新建")
    assert out.ok, out.message
    return out


def test_create_makes_a_draft_that_is_listed_but_not_retrieved(
    ctx: h.EditorContext, kb_dir: Path, index_dir: Path
) -> None:
    out = _create(ctx)
    assert (out.doc_id, out.base) == ("faq-gift-wrap", 1)
    rows = {r[0]: r for r in h.list_documents(ctx)}
    assert rows["faq-gift-wrap"][5] == "草稿"
    assert not (kb_dir / "docs" / "faq" / "faq-gift-wrap.md").exists()
    assert "faq-gift-wrap" not in _indexed(index_dir)


def test_publish_writes_the_kb_file_and_reindexes(ctx: h.EditorContext, kb_dir: Path, index_dir: Path) -> None:
    created = _create(ctx)
    out = h.publish_document(ctx, created.doc_id, created.base, author="小王")
    assert out.ok, out.message
    assert out.base == 2 and out.seconds is not None
    doc = load_kb(kb_dir, strict=True).get("faq-gift-wrap")
    assert doc is not None and doc.status == "published" and doc.version == 2
    assert "faq-gift-wrap" in _indexed(index_dir)
    assert h.list_documents(ctx, status="published", text="礼盒")[0][0] == "faq-gift-wrap"


def test_invalid_documents_are_not_saved(ctx: h.EditorContext) -> None:
    out = h.save_document(ctx, "", None, GIFT_FRONT.replace("type: faq", "type: blog"), GIFT_BODY, author="小王")
    assert not out.ok and "`type`" in out.message and "blog" in out.message
    assert "faq-gift-wrap" not in {r[0] for r in h.list_documents(ctx)}
    assert "`type`" in h.validate_document(GIFT_FRONT.replace("type: faq", "type: blog"), GIFT_BODY)
    assert h.validate_document(GIFT_FRONT, GIFT_BODY).startswith("✓")


def test_an_author_is_required(ctx: h.EditorContext) -> None:
    out = h.save_document(ctx, "", None, GIFT_FRONT, GIFT_BODY, author="  ")
    assert not out.ok and "作者" in out.message


def test_ids_are_unique_and_stable(ctx: h.EditorContext) -> None:
    taken = h.save_document(
        ctx, "", None, GIFT_FRONT.replace("faq-gift-wrap", "policy-return"), GIFT_BODY, author="小王"
    )
    assert not taken.ok and "already used" in taken.message
    created = _create(ctx)
    renamed = h.save_document(
        ctx,
        created.doc_id,
        created.base,
        GIFT_FRONT.replace("faq-gift-wrap", "faq-other"),
        GIFT_BODY,
        author="小王",
    )
    assert not renamed.ok and "must stay 'faq-gift-wrap'" in renamed.message


def test_a_draft_of_a_published_document_leaves_it_live_until_published(
    ctx: h.EditorContext, kb_dir: Path, index_dir: Path
) -> None:
    view = h.open_document(ctx, "policy-shipping")
    path = kb_dir / "docs" / "policy" / "shipping.md"
    before = path.read_text(encoding="utf-8")
    saved = h.save_document(
        ctx,
        "policy-shipping",
        view.base,
        view.front_matter,
        view.body.replace("满99元包邮", "满59元包邮"),
        author="小李",
        message="降门槛",
    )
    assert saved.ok, saved.message
    assert path.read_text(encoding="utf-8") == before
    assert "（有待发布修改）" in {r[0]: r for r in h.list_documents(ctx)}["policy-shipping"][5]
    live = Index.open(index_dir, HashingEmbedder())
    assert any("满99元包邮" in c.text for c in live.chunks)
    published = h.publish_document(ctx, "policy-shipping", saved.base, author="小李")
    assert published.ok, published.message
    assert "满59元包邮" in path.read_text(encoding="utf-8")
    assert any("满59元包邮" in c.text for c in Index.open(index_dir, HashingEmbedder()).chunks)


def test_two_saves_from_the_same_base_second_is_refused_with_a_diff_and_nothing_lost(
    ctx: h.EditorContext,
) -> None:
    view = h.open_document(ctx, "policy-shipping")
    first = h.save_document(
        ctx,
        "policy-shipping",
        view.base,
        view.front_matter,
        view.body.replace("运费8元", "运费6元"),
        author="甲",
    )
    second = h.save_document(
        ctx,
        "policy-shipping",
        view.base,
        view.front_matter,
        view.body.replace("默认中通快递", "默认顺丰快递"),
        author="乙",
    )
    assert first.ok and not second.ok
    assert "冲突" in second.message and f"v{view.base}" in second.message
    assert "-16:00前付款当天发货，之后次日发货。默认中通快递。" in second.diff
    assert "+16:00前付款当天发货，之后次日发货。默认顺丰快递。" in second.diff
    assert "version:" not in second.diff  # the diff shows what people changed, not the managed fields
    state = ctx.ws.document("policy-shipping")
    assert state.head.n == first.base and state.head.author == "甲"
    conflict = [v for v in state.history if v.status == "conflict"]
    assert [v.author for v in conflict] == ["乙"]
    assert "默认顺丰快递" in ctx.ws.versions.text("policy-shipping", conflict[0].n)
    assert f"v{conflict[0].n}" in h.open_document(ctx, "policy-shipping").summary


def test_publish_of_a_stale_version_is_refused(ctx: h.EditorContext) -> None:
    view = h.open_document(ctx, "policy-shipping")
    h.save_document(ctx, "policy-shipping", view.base, view.front_matter, view.body + "\n补充。", author="甲")
    out = h.publish_document(ctx, "policy-shipping", view.base, author="乙")
    assert not out.ok and "冲突" in out.message and "+补充。" in out.diff


def test_diff_between_any_two_versions(ctx: h.EditorContext) -> None:
    created = _create(ctx)
    front, body = split_text(ctx.ws.document(created.doc_id).text)
    saved = h.save_document(ctx, created.doc_id, created.base, front, body.replace("免费", "免费精美"), author="甲")
    diff = h.diff_versions(ctx, created.doc_id, created.base, saved.base)
    assert "-可以，下单时备注“礼品包装”，我们免费提供礼盒和贺卡。" in diff
    assert "+可以，下单时备注“礼品包装”，我们免费精美提供礼盒和贺卡。" in diff
    assert "相同" in h.diff_versions(ctx, created.doc_id, 1, 1)


def test_rollback_restores_an_old_version_and_can_publish_it(
    ctx: h.EditorContext, kb_dir: Path, index_dir: Path
) -> None:
    view = h.open_document(ctx, "policy-shipping")
    saved = h.save_document(
        ctx,
        "policy-shipping",
        view.base,
        view.front_matter,
        view.body.replace("运费8元", "运费12元"),
        author="甲",
    )
    published = h.publish_document(ctx, "policy-shipping", saved.base, author="甲")
    assert "运费12元" in (kb_dir / "docs" / "policy" / "shipping.md").read_text(encoding="utf-8")
    draft = h.rollback_document(ctx, "policy-shipping", view.base, published.base, author="乙")
    assert draft.ok and "草稿" in draft.message
    assert "运费12元" in (kb_dir / "docs" / "policy" / "shipping.md").read_text(encoding="utf-8")
    live = h.rollback_document(ctx, "policy-shipping", view.base, draft.base, author="乙", publish=True)
    assert live.ok, live.message
    doc = load_kb(kb_dir).get("policy-shipping")
    assert doc is not None and "运费8元" in doc.body and doc.version == live.base
    assert any(
        "运费8元" in c.text for c in Index.open(index_dir, HashingEmbedder()).chunks if c.doc_id == "policy-shipping"
    )
    assert [r[4] for r in h.open_document(ctx, "policy-shipping").history][:2] == [
        f"回滚到 v{view.base} 并发布",
        f"回滚到 v{view.base}",
    ]


def test_rollback_to_a_conflict_version_adopts_that_text(ctx: h.EditorContext) -> None:
    view = h.open_document(ctx, "policy-shipping")
    h.save_document(ctx, "policy-shipping", view.base, view.front_matter, view.body + "\n甲的补充。", author="甲")
    refused = h.save_document(
        ctx, "policy-shipping", view.base, view.front_matter, view.body + "\n乙的补充。", author="乙"
    )
    conflict_n = max(h.open_document(ctx, "policy-shipping").versions)
    out = h.rollback_document(ctx, "policy-shipping", conflict_n, refused.base, author="乙")
    assert out.ok, out.message
    assert "乙的补充" in h.open_document(ctx, "policy-shipping").body


def test_archive_removes_the_document_from_retrieval(ctx: h.EditorContext, kb_dir: Path, index_dir: Path) -> None:
    view = h.open_document(ctx, "product-kettle")
    out = h.archive_document(ctx, "product-kettle", view.base, author="甲")
    assert out.ok, out.message
    doc = load_kb(kb_dir, strict=True).get("product-kettle")
    assert doc is not None and doc.status == "archived"
    assert "product-kettle" not in _indexed(index_dir)
    assert {r[0]: r for r in h.list_documents(ctx, status="archived")}.keys() == {"product-kettle"}


def test_filters(ctx: h.EditorContext) -> None:
    ids = lambda **f: {r[0] for r in h.list_documents(ctx, **f)}  # noqa: E731
    assert ids(doc_type="product") == {"product-kettle"}
    assert ids(category="pre_sale") == {"policy-shipping", "product-kettle"}
    assert ids(status="draft") == {"faq-draft"}
    assert ids(tag="退货") == {"policy-return"}
    assert ids(text="中通") == {"policy-shipping"}
    assert h.all_tags(ctx) == sorted(["退货", "电热水壶", "水壶"])


def test_new_document_template_validates_once_filled(ctx: h.EditorContext) -> None:
    front, body = h.new_document("policy", "after_sale")
    assert "type: policy" in front and "category: after_sale" in front
    missing = h.save_document(ctx, "", None, front, body, author="甲")
    assert not missing.ok and "lacks 'id'" in missing.message  # the id still needs writing
    front = "\n".join("id: policy-gift" if x.startswith("id:") else x for x in front.splitlines())
    out = h.save_document(ctx, "", None, front, body, author="甲")
    assert out.ok and out.doc_id == "policy-gift"


def test_rules_and_intents_are_validated_before_save(ctx: h.EditorContext, kb_dir: Path) -> None:
    view = h.open_config(ctx, "rules")
    assert "banned_phrases" in view.text and not (kb_dir / "rules.yaml").exists()
    bad = h.save_config_text(ctx, "rules", "banned_phrases: 亲\n", view.base, author="甲")
    assert not bad.ok and "banned_phrases" in bad.message and not (kb_dir / "rules.yaml").exists()
    good_text = view.text.replace(
        "  - phrase: 好评返现", "  - phrase: 差评删除\n    message: 不当承诺\n  - phrase: 好评返现"
    )
    good = h.save_config_text(ctx, "rules", good_text, view.base, author="甲", message="加禁用语")
    assert good.ok, good.message
    assert any(i.phrase == "差评删除" for i in load_kb(kb_dir).rules.banned_phrases or ())
    stale = h.save_config_text(ctx, "rules", good_text + "\n# 乙\n", view.base, author="乙")
    assert not stale.ok and "冲突" in stale.message
    intents = h.open_config(ctx, "intents")
    assert "✓" in h.validate_config_text("intents", intents.text)
    assert "stage" in h.validate_config_text("intents", "intents:\n  - name: x\n    stage: later\n")
