"""qa.html opens in headless Chromium with no network: the chart, the figures and the worst replies render."""

from __future__ import annotations

from pathlib import Path

from evals.qa.checks import QualityChecker
from evals.qa.conversations import read_conversations
from evals.qa.runner import run_qa
from tests.evals.qa.conftest import CONVERSATIONS
from tests.helpers.browser import BROWSER, SCREENSHOTS, offline_page

pytestmark = BROWSER


def test_qa_report_renders_with_no_network(checker: QualityChecker, tmp_path: Path) -> None:
    run_qa(checker, read_conversations(CONVERSATIONS), tmp_path, config={"source": "fixture"})
    with offline_page(tmp_path / "qa.html", SCREENSHOTS / "qa-report.png") as page:
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
