"""Headless Chromium for the tests marked `browser` (scripts/services.sh installs it; KEFU_TEST_CHROMIUM names
another binary).

>>> pytestmark = BROWSER
>>> with offline_page(tmp_path / "report.html", SCREENSHOTS / "report.png") as page:
...     assert page.locator("svg").count() >= 2
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("KEFU_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"

# The marks of a browser test module: skipped, with the command that fixes it, where there is no Chromium.
BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: run `make services`"),
]


@contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """A launched headless Chromium (Playwright's `Browser`), with `args` beside the usual ones; closed on exit."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *args], headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def offline_page(html: Path, screenshot: Path) -> Iterator[Any]:
    """`html` opened from disk in a 1280×900 page. When the block ends without error, a full-page screenshot is
    written to `screenshot`, and the page must have fetched nothing (only file:, data: and about: URLs)."""
    requests: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html.as_uri())
        yield page
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    assert all(u.startswith(("file:", "data:", "about:")) for u in requests), requests  # nothing fetched
