"""A screenshot of each editor tab in headless Chromium, after doing what the tab is for.

Written to out/screenshots/editor-<tab>.png.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.pipeline import Assistant
from evals.qa.checks import QualityChecker
from evals.qa.conversations import read_conversations
from evals.qa.runner import run_qa
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import load_kb
from tests.evals.qa.conftest import CONVERSATIONS
from tests.helpers.browser import BROWSER, SCREENSHOTS, chromium
from tests.helpers.server import free_port
from tests.ui.editor.conftest import GIFT_TEXT, FakeFeedbackStore, feedback, suggestion
from ui.editor.app import TABS, build_blocks, editor_context

pytestmark = [*BROWSER, pytest.mark.slow]


def _feedback() -> FakeFeedbackStore:
    rows, events = [], []
    questions = ["可以开发票吗", "能开发票吗？", "可以开增值税发票吗", "羽绒服可以机洗吗", "退货运费谁出？"]
    for day in range(2, 9):
        for n, intent in enumerate(("return_request", "shipping_info", "invoice")):
            sid = f"s{day}{n}"
            cites = () if intent == "invoice" else ("policy-return",) if n == 0 else ("policy-shipping",)
            rows.append(suggestion(sid, day=day, intent=intent, citations=cites, question=questions[(day + n) % 5]))
            action = ("accepted", "edited", "rejected")[(day + n) % 3]
            final = "您好，签收后7天内、商品完好即可申请无理由退货，退货运费由您承担。" if action == "edited" else None
            events.append(feedback(sid, action, day=day, final_text=final))
    return FakeFeedbackStore(rows, events)


def _qa_report(kb_dir: Path, index_dir: Path, out: Path) -> None:
    """A `kefu qa run` report of the 质检 fixture, for the 质检 tab."""
    kb = load_kb(kb_dir)
    bot = Assistant(Index.open(index_dir, HashingEmbedder()), kb)
    run_qa(QualityChecker(bot, kb.rules.qa, kb.rules.emotion), read_conversations(CONVERSATIONS), out)


@pytest.fixture
def editor_url(kb_dir: Path, index_dir: Path, tmp_path: Path) -> Iterator[str]:
    eval_set = tmp_path / "set.jsonl"
    eval_set.write_text(
        json.dumps(
            {
                "id": "gift-1",
                "conversation": [{"role": "customer", "text": "可以礼品包装吗"}],
                "expected": {"doc_ids": ["faq-gift-wrap"]},
            },
            ensure_ascii=False,
        )
        + "\n"
        + json.dumps(
            {
                "id": "ship-1",
                "conversation": [{"role": "customer", "text": "运费多少"}],
                "expected": {"doc_ids": ["policy-shipping"]},
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    _qa_report(kb_dir, index_dir, tmp_path / "qa" / "2026-12-02")
    ctx = editor_context(
        kb_dir, index_dir, HashingEmbedder(), feedback=_feedback(), eval_set=eval_set, qa_dir=tmp_path / "qa"
    )
    ctx.ws.create(GIFT_TEXT, author="小王", message="新建礼品包装")
    demo = build_blocks(ctx).queue()
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


def _tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=TABS[name]).click()
    page.wait_for_timeout(300)


def _settle(page: Any) -> None:
    """Wait for Gradio's pending events (progress overlays) to finish."""
    page.wait_for_function("() => !document.querySelector('.eta-bar, .progress-text')", timeout=60_000)
    page.wait_for_timeout(800)


def test_each_tab_renders(editor_url: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1440, "height": 1100}, device_scale_factor=1)
        page.goto(editor_url, wait_until="domcontentloaded")
        page.get_by_text("faq-gift-wrap").first.wait_for(timeout=60_000)
        page.locator("#author input, #author textarea").first.fill("小王")
        page.get_by_text("faq-gift-wrap").first.click()
        page.get_by_text("当前 v1（草稿，小王）").wait_for(timeout=30_000)
        _settle(page)
        page.screenshot(path=str(SCREENSHOTS / "editor-docs.png"), full_page=True)

        _tab(page, "rules")
        page.get_by_text("banned_phrases").first.wait_for(timeout=30_000)
        _settle(page)
        page.screenshot(path=str(SCREENSHOTS / "editor-rules.png"), full_page=True)

        _tab(page, "preview")
        page.locator("#preview-message textarea").fill("可以帮忙礼品包装吗？")
        page.get_by_role("button", name="预览").click()
        page.get_by_text("草稿知识库").wait_for(timeout=60_000)
        _settle(page)
        page.screenshot(path=str(SCREENSHOTS / "editor-preview.png"), full_page=True)

        _tab(page, "impact")
        page.get_by_role("button", name="运行影响评估").click()
        page.get_by_text("个用例的建议或引用有变化").wait_for(timeout=120_000)
        _settle(page)
        page.screenshot(path=str(SCREENSHOTS / "editor-impact.png"), full_page=True)

        _tab(page, "feedback")
        page.get_by_text("return_request").filter(visible=True).first.wait_for(timeout=60_000)
        _settle(page)
        page.screenshot(path=str(SCREENSHOTS / "editor-feedback.png"), full_page=True)

        _tab(page, "qa")
        page.get_by_text("全队合格率").first.wait_for(timeout=30_000)
        page.locator("iframe[title='质检报告']").wait_for(timeout=30_000)
        report = page.frame_locator("iframe[title='质检报告']")
        report.locator("text=合格线 95%").first.wait_for(timeout=30_000)
        _settle(page)
        page.screenshot(path=str(SCREENSHOTS / "editor-qa.png"), full_page=True)
    for tab in TABS:
        assert (SCREENSHOTS / f"editor-{tab}.png").stat().st_size > 20_000, tab
