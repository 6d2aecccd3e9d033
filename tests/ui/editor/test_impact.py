import json
from pathlib import Path

from tests.ui.editor.conftest import GIFT_TEXT
from ui.editor import handlers as h

CASES = [
    {
        "id": "gift-1",
        "conversation": [{"role": "customer", "text": "可以帮忙礼品包装吗"}],
        "expected": {"doc_ids": ["faq-gift-wrap"]},
    },
    {
        "id": "ship-1",
        "conversation": [{"role": "customer", "text": "运费多少钱，包邮吗"}],
        "expected": {"doc_ids": ["policy-shipping"]},
    },
]


def _set(tmp_path: Path) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in CASES) + "\n", encoding="utf-8")
    return path


def test_impact_shows_metric_deltas_and_changed_cases(ctx: h.EditorContext, tmp_path: Path) -> None:
    ctx.ws.create(GIFT_TEXT, author="甲")
    view = h.impact_preview(ctx, str(_set(ctx.uploads_dir)))
    deltas = {row[0]: row for row in view.deltas}
    assert deltas["retrieval.recall@5"][1:] == ["0.5", "1", "+0.5000", "变好"]
    changed = {row[0]: row for row in view.changed}
    assert "gift-1" in changed and "检索" in changed["gift-1"][2] and "通过/失败" in changed["gift-1"][2]
    assert changed["gift-1"][5] == "引用 +faq-gift-wrap；检索 +faq-draft、+faq-gift-wrap"
    assert "n_cases" not in deltas  # unchanged bookkeeping rows are left out
    assert "2 个用例" in view.summary and "faq-gift-wrap" in view.summary
    assert (ctx.runs_dir.glob("*/draft/metrics.json")) and list(ctx.runs_dir.glob("*/published/cases.jsonl"))


def test_impact_without_drafts_says_there_is_nothing_to_compare(ctx: h.EditorContext, tmp_path: Path) -> None:
    ctx.ws.archive("faq-draft", base=1, author="甲")  # the tiny KB's only pending draft
    view = h.impact_preview(ctx, str(_set(ctx.uploads_dir)))
    assert "没有待发布的草稿" in view.summary and view.deltas == []


def test_a_missing_eval_set_is_reported(ctx: h.EditorContext, tmp_path: Path) -> None:
    ctx.ws.create(GIFT_TEXT, author="甲")
    view = h.impact_preview(ctx, str(ctx.uploads_dir / "nope.jsonl"))
    assert view.summary.startswith("✗") and "nope.jsonl" in view.summary


def test_only_the_projects_and_uploaded_sets_are_read(ctx: h.EditorContext, tmp_path: Path) -> None:
    # Issue 14 (8): the impact tab read any server path as an eval set (/dev/zero never ends).
    ctx.ws.create(GIFT_TEXT, author="甲")
    for path in ("/dev/zero", "/etc/passwd", str(_set(tmp_path)), str(ctx.uploads_dir / ".." / "x.jsonl")):
        view = h.impact_preview(ctx, path)
        assert view.summary.startswith("✗") and "upload" in view.summary and view.deltas == []
    uploaded = h.add_eval_set(ctx, str(_set(tmp_path)))
    assert "2 个用例" in h.impact_preview(ctx, uploaded).summary
