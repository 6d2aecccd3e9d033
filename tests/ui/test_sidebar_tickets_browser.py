"""The sidebar's ticket line and 回访 button in a real Chromium against a real `kefu serve` app (uvicorn on a
loopback port, the tiny KB plus a follow-up script)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from assistant.service.store import FeedbackStore
from tests.conftest import FOLLOWUP_SCRIPT, write_kb
from tests.helpers.browser import BROWSER
from tests.ui.conftest import API_KEY, open_helpdesk
from tests.ui.test_sidebar_browser import wait_for

RESOLVED = "客户：收到的水壶外壳摔坏了，裂了一道缝\n客服：非常抱歉，已经为您安排补发，今天发出"

pytestmark = BROWSER


@pytest.fixture
def sidebar_kb(tmp_path: Path) -> Path:
    """The tiny KB plus a follow-up script, for the 回访 button."""
    return write_kb(write_kb(tmp_path / "kb"), FOLLOWUP_SCRIPT)


@pytest.fixture
def url(served: tuple[str, FeedbackStore]) -> str:
    return served[0]


def test_a_handoff_shows_its_priority_due_time_and_team(url: str, browser: Any) -> None:
    page = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
    page.goto(f"{url}/sidebar#key={API_KEY}")
    page.fill("#conversation", "客户：不给退我就去法院起诉你们")
    page.click("#suggest")
    ticket = page.locator("#handoff .ticket")
    ticket.wait_for()
    assert ticket.get_attribute("data-priority") == "urgent"
    due = datetime.fromisoformat(str(ticket.get_attribute("data-due")))
    text = ticket.inner_text()
    assert text.startswith("优先级 紧急") and "交由 投诉专员" in text
    # Shown in the browser's time zone (Asia/Shanghai here), whatever the server's.
    local = due.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%m-%d %H:%M")
    assert f"{local} 前处理" in text
    assert "⚠ 建议转人工" in page.inner_text("#handoff")

    page.fill("#conversation", "客户：电热水壶保修多久？")
    page.click("#suggest")
    page.wait_for_function("document.querySelector('#handoff').hidden")
    assert page.locator("#handoff .ticket").is_hidden()


def test_the_followup_button_shows_the_draft_with_its_window(url: str, browser: Any) -> None:
    context = browser.new_context(locale="zh-CN")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    page.goto(f"{url}/sidebar#key={API_KEY}")
    assert page.locator("#followup").is_visible()  # pasted: the agent decides the conversation is resolved
    page.fill("#conversation", RESOLVED)
    page.click("#followup")
    page.locator("#followup-result").wait_for()
    assert "您之前反馈的水壶破损问题已经为您补发" in page.inner_text("#followup-text")
    assert page.locator("#followup-badge .badge").inner_text().startswith("✓")
    assert page.locator("#followup-cites summary").inner_text() == "回访话术"
    due = page.locator("#followup-due")
    assert due.inner_text().endswith("回访") and " 至 " in due.inner_text()
    assert datetime.fromisoformat(str(due.get_attribute("data-due"))).utcoffset() is not None
    page.click("#followup-copy")
    assert page.evaluate("navigator.clipboard.readText()") == page.inner_text("#followup-text")
    assert page.locator("#suggestions .card").count() == 0  # the draft asked for nothing else


def chatwoot_with_status(page: Any, url: str, status: str) -> None:
    """A page like Chatwoot's dashboard-app frame whose conversation has `status` and ends with the agent."""
    open_helpdesk(
        page,
        f"""
        <script>
          window.appContext = () => {{
            const conversation = {{id: 42, status: "{status}", messages: [
              {{id: 101, message_type: 0, content: "收到的水壶外壳摔坏了，裂了一道缝", private: false}},
              {{id: 102, message_type: 1, content: "非常抱歉，已经为您安排补发，今天发出", private: false}}]}};
            document.querySelector("iframe").contentWindow.postMessage(
              JSON.stringify({{event: "appContext", data: {{conversation, currentAgent: {{id: 2}}}}}}), "*");
          }};
        </script>
        <iframe src="{url}/sidebar#key={API_KEY}" width="400" height="860" onload="window.appContext()"></iframe>""",
    )


@pytest.mark.parametrize("status", ["resolved", "open"])
def test_in_chatwoot_the_button_is_on_resolved_conversations(url: str, browser: Any, status: str) -> None:
    page = browser.new_page(viewport={"width": 420, "height": 900})
    chatwoot_with_status(page, url, status)
    frame = page.frame_locator("iframe")
    wait_for(lambda: frame.locator("#source").inner_text() == "来自 Chatwoot 会话 #42")
    button = frame.locator("#followup")
    if status == "open":
        assert button.is_hidden()
        return
    button.click()
    frame.locator("#followup-result").wait_for()
    assert "水壶破损问题已经为您补发" in frame.locator("#followup-text").inner_text()
