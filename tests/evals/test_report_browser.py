"""The eval report opens in headless Chromium with no network, and its charts render."""

from __future__ import annotations

from pathlib import Path

from assistant.pipeline import Assistant
from evals.cases import load_cases
from evals.runner import run_eval
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import demo_kb_dir, load_kb
from tests.helpers.browser import BROWSER, SCREENSHOTS, offline_page

SETS = Path(__file__).resolve().parents[2] / "evals" / "sets"

pytestmark = BROWSER


def test_report_renders_summary_charts_and_failures(tmp_path: Path) -> None:
    emb = HashingEmbedder()
    kb = load_kb(demo_kb_dir())
    build_index(kb, emb, tmp_path / "idx")
    run_eval(Assistant(Index.open(tmp_path / "idx", emb), kb), load_cases(SETS / "smoke.jsonl"), tmp_path / "run")
    with offline_page(tmp_path / "run" / "report.html", SCREENSHOTS / "report.png") as page:
        svgs = page.locator("svg")
        assert svgs.count() >= 2  # per-intent metrics and the latency histogram
        assert all(svgs.nth(i).bounding_box()["height"] > 50 for i in range(2))  # type: ignore[index]
        assert page.locator("text=recall@5").count() >= 1
