"""qa.html opens in headless Chromium with no network: the chart, the figures and the worst replies render."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evals.qa.checks import QualityChecker
from evals.qa.conversations import read_conversations
from evals.qa.runner import run_qa
from tests.evals.qa.conftest import CONVERSATIONS

CHROMIUM = Path(os.environ.get("KEFU_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = Path(__file__).resolve().parents[3] / "out" / "screenshots" / "qa-report.png"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make services`"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def test_qa_report_renders_with_no_network(checker: QualityChecker, tmp_path: Path) -> None:
    run_qa(checker, read_conversations(CONVERSATIONS), tmp_path, config={"source": "fixture"})
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto((tmp_path / "qa.html").as_uri())
        chart = page.locator("svg[aria-label='pass rate per agent and day']")
        box = chart.bounding_box()
        assert box is not None and box["height"] > 200 and box["width"] > 400
        # One point per agent and day (2 × 2) and the dashed target line.
        assert chart.locator("circle").count() == 4
        assert chart.locator("line[stroke-dasharray]").count() == 1
        assert page.locator("text=合格线 95%").count() >= 1
        cards = page.locator("article.qa-turn")
        assert cards.count() == 12  # every failed reply of the fixture (fewer than the 30 shown at most)
        assert cards.first.locator(".model").inner_text().strip()  # Kefu's own answer beside the fault
        assert page.locator("mark").count() >= 5  # offending spans highlighted
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        browser.close()
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests  # nothing fetched
