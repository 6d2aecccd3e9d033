"""The sidebar's browser tests: `kefu serve`'s app on a loopback port and a Chromium to drive it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.service.store import FeedbackStore
from assistant.settings import AssistantSettings
from tests.conftest import write_kb
from tests.helpers.browser import chromium
from tests.helpers.server import serving

API_KEY = "browser-test-key"
HELPDESK = "http://helpdesk.example"  # served by Playwright's router: another origin than the service


def open_helpdesk(page: Any, html: str) -> None:
    """Serve `html` at HELPDESK (Playwright's router) and open it in `page`."""
    page.route(f"{HELPDESK}/**", lambda route: route.fulfill(content_type="text/html; charset=utf-8", body=html))
    page.goto(f"{HELPDESK}/")


@pytest.fixture
def sidebar_kb(tmp_path: Path) -> Path:
    """The KB the sidebar's service answers from (the tiny KB; a module overrides it to add documents)."""
    return write_kb(tmp_path / "kb")


@pytest.fixture
def served(sidebar_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, FeedbackStore]]:
    """`kefu serve`'s app on `sidebar_kb` (fake embedder), a sqlite store in tmp_path; yields (url, store)."""
    from ui.serve_cli import build_app

    monkeypatch.setenv("KEFU_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("KEFU_HOME", str(tmp_path / "home"))
    store = FeedbackStore(f"sqlite:///{tmp_path / 'kefu.db'}")
    store.migrate()
    settings = AssistantSettings(api_keys={API_KEY: "agent"}, rate_limit_per_minute=0, helpdesk_origins=[HELPDESK])
    app = build_app(sidebar_kb, tmp_path / "index", settings=settings, store=store)
    with serving(app) as url:
        yield url, store


@pytest.fixture
def browser() -> Iterator[Any]:
    # The helpdesk page is served by Playwright's router, which Chromium takes for a public page; Local Network
    # Access would then block it from framing the service on loopback.
    with chromium("--disable-features=LocalNetworkAccessChecks") as b:
        yield b
