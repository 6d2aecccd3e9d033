"""The eval report opens in headless Chromium with no network, and its charts render."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.pipeline import Assistant
from evals.cases import load_cases
from evals.runner import run_eval
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import demo_kb_dir, load_kb

CHROMIUM = Path(os.environ.get("KEFU_TEST_CHROMIUM", "/usr/bin/chromium"))
SETS = Path(__file__).resolve().parents[2] / "evals" / "sets"
SCREENSHOT = Path(__file__).resolve().parents[2] / "out" / "screenshots" / "report.png"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make services`"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def test_report_renders_summary_charts_and_failures(tmp_path: Path) -> None:
    emb = HashingEmbedder()
    kb = load_kb(demo_kb_dir())
    build_index(kb, emb, tmp_path / "idx")
    run_eval(Assistant(Index.open(tmp_path / "idx", emb), kb), load_cases(SETS / "smoke.jsonl"), tmp_path / "run")
    report = tmp_path / "run" / "report.html"
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        svgs = page.locator("svg")
        assert svgs.count() >= 2  # per-intent metrics and the latency histogram
        assert all(svgs.nth(i).bounding_box()["height"] > 50 for i in range(2))  # type: ignore[index]
        assert page.locator("text=recall@5").count() >= 1
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        browser.close()
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests  # nothing fetched
