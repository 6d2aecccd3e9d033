"""The agent sidebar in a real Chromium against a real `kefu serve` app (uvicorn on a loopback port)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from assistant.service.store import FeedbackStore
from tests.helpers.browser import BROWSER, SCREENSHOTS
from tests.ui.conftest import API_KEY, open_helpdesk

SCREENSHOT = SCREENSHOTS / "sidebar.png"
CONVERSATION = "客户：衣服收到了，尺码偏小，能退吗？\n客服：您好，请问是哪天签收的呢？\n客户：3天前签收的，还没穿过"

pytestmark = BROWSER


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the condition")


def actions_of(store: FeedbackStore, suggestion_id: str) -> set[str]:
    return {r["action"] for r in store.feedback_rows(suggestion_id=suggestion_id)}


def test_pasted_conversation_gets_suggestions_and_accepting_records_feedback(
    served: tuple[str, FeedbackStore], browser: Any
) -> None:
    url, store = served
    context = browser.new_context(viewport={"width": 380, "height": 900}, locale="zh-CN")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    page.goto(f"{url}/sidebar?key=ignored-query-key-0000#key={API_KEY}&agent=kf-test")
    assert "#" not in page.url  # the key is remembered, not left in the address bar
    assert page.evaluate("localStorage.getItem('kefu.apiKey')") == API_KEY  # never the query string's

    page.fill("#conversation", CONVERSATION)
    page.click("#suggest")
    cards = page.locator("#suggestions .card")
    cards.first.wait_for()
    assert 2 <= cards.count() <= 3
    assert "意图：" in page.inner_text("#chips") and "情绪：平静" in page.inner_text("#chips")
    ids = [str(cards.nth(i).get_attribute("data-id")) for i in range(cards.count())]
    # every rendered suggestion is reported as shown
    wait_for(lambda: all("shown" in actions_of(store, str(sid)) for sid in ids))

    first = cards.nth(0)
    first.locator("details summary").first.click()
    assert first.locator("blockquote").first.is_visible()
    assert first.locator(".badge").inner_text().startswith("✓")

    first.locator("button.accept").click()
    wait_for(lambda: "accepted" in actions_of(store, ids[0]))
    row = next(r for r in store.feedback_rows(suggestion_id=ids[0]) if r["action"] == "accepted")
    assert row["agent_id"] == "kf-test"
    assert page.evaluate("navigator.clipboard.readText()") == first.locator(".text").inner_text()

    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("2")  # shortcut: accept the second suggestion
    wait_for(lambda: "accepted" in actions_of(store, ids[1]))
    assert "accepted" in (cards.nth(1).get_attribute("class") or "")

    second = cards.nth(1)
    second.locator("button.edit").click()
    second.locator("textarea.text").fill("您好，签收后7天内商品完好可以申请无理由退货，请您在订单页提交申请。")
    second.locator("button.save-edit").click()
    wait_for(lambda: "edited" in actions_of(store, ids[1]))

    last = cards.nth(cards.count() - 1)
    last.locator("button.reject").click()
    last.locator("select.reason").select_option("语气不合适")
    last.locator("input.note").fill("太长")
    last.locator("button.confirm-reject").click()
    rejected = wait_for(lambda: [r for r in store.feedback_rows(suggestion_id=ids[-1]) if r["action"] == "rejected"])
    assert rejected[0]["reason"] == "语气不合适：太长"

    page.fill("#own-text", "亲，这不符合退货条件")  # the live check of the agent's own reply
    page.wait_for_selector("#own-findings li")
    assert "禁用语" in page.inner_text("#own-findings")
    assert page.inner_text("#own-status") == "需要修改"

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    context.close()


def helpdesk(page: Any, url: str) -> None:
    """Open a helpdesk page at HELPDESK framing the sidebar; it sends a conversation when the sidebar is ready."""
    open_helpdesk(
        page,
        f"""
        <script>
          window.received = [];
          addEventListener("message", (ev) => {{
            window.received.push(ev.data);
            if (ev.data.type === "kefu:ready") {{
              ev.source.postMessage({{type: "kefu:conversation",
                conversation: [{{role: "customer", text: "电热水壶保修多久？"}}],
                context: {{order: {{order_id: "20261101xxxx", status: "delivered"}}}}}}, "*");
            }}
          }});
        </script>
        <iframe src="{url}/sidebar#key={API_KEY}" width="400" height="860"></iframe>""",
    )


def test_a_helpdesk_embeds_the_sidebar_and_receives_inserted_replies(
    served: tuple[str, FeedbackStore], browser: Any
) -> None:
    url, store = served
    page = browser.new_page(viewport={"width": 420, "height": 900})
    helpdesk(page, url)
    frame = page.frame_locator("iframe")
    card = frame.locator("#suggestions .card").first
    card.wait_for()
    assert frame.locator("#source").inner_text() == "来自坐席系统"
    card.locator("button.accept").click()  # embedded: the main button inserts into the helpdesk's reply box
    inserted = wait_for(lambda: [m for m in page.evaluate("window.received") if m.get("type") == "kefu:insert"])
    assert inserted[0]["text"] == card.locator(".text").inner_text()
    sid = inserted[0]["suggestion_id"]
    wait_for(lambda: "accepted" in actions_of(store, sid))


def test_conversations_from_other_origins_are_ignored(served: tuple[str, FeedbackStore], browser: Any) -> None:
    # Issue 14 (14): the sidebar accepted a conversation from any parent frame and posted back to "*".
    url, _ = served
    page = browser.new_page(viewport={"width": 420, "height": 900})
    page.set_content(f"""
        <script>
          window.received = [];
          addEventListener("message", (ev) => {{
            window.received.push(ev.data);
            ev.source.postMessage({{type: "kefu:conversation",
              conversation: [{{role: "customer", text: "电热水壶保修多久？"}}]}}, "*");
          }});
          setTimeout(() => window.timedOut = true, 3000);
        </script>
        <iframe src="{url}/sidebar#key={API_KEY}" width="400" height="860"></iframe>""")
    wait_for(lambda: page.evaluate("window.timedOut === true"))
    assert page.evaluate("window.received") == []  # not even kefu:ready reaches an unknown origin
    assert page.frame_locator("iframe").locator("#suggestions .card").count() == 0


def chatwoot(page: Any, url: str) -> None:
    """A page at HELPDESK that behaves like Chatwoot's dashboard-app frame (Frame.vue): it frames the sidebar and
    answers "chatwoot-dashboard-app:fetch-info" with a JSON string {event: "appContext", data} posted to "*"."""
    open_helpdesk(
        page,
        f"""
        <script>
          window.asked = 0;
          window.chat = {{id: 42, inbox_id: 3, status: "open", meta: {{sender: {{id: 7, name: "王女士"}}}},
            messages: [
              {{id: 101, message_type: 0, content: "你好", private: false, created_at: 1}},
              {{id: 102, message_type: 1, content: "您好，请问有什么可以帮您？", private: false, created_at: 2}},
              {{id: 103, message_type: 2, content: "小栖 self-assigned this conversation", private: false}},
              {{id: 104, message_type: 1, content: "VIP 客户，注意语气", private: true, created_at: 3}},
              {{id: 105, message_type: 0, content: "电热水壶保修多久？", private: false, created_at: 4}}]}};
          window.say = (type, content) => {{
            const id = Math.max(...window.chat.messages.map((m) => m.id)) + 1;
            window.chat.messages.push({{id, message_type: type, content, private: false, created_at: id}});
          }};
          window.appContext = () => {{
            const data = {{conversation: window.chat, contact: {{id: 7, name: "王女士"}},
                           currentAgent: {{id: 2, name: "小栖", email: "agent@example.com"}}}};
            document.querySelector("iframe").contentWindow.postMessage(
              JSON.stringify({{event: "appContext", data}}), "*");
          }};
          addEventListener("message", (ev) => {{
            if (ev.data !== "chatwoot-dashboard-app:fetch-info") return;
            window.asked += 1;
            window.appContext();
          }});
        </script>
        <iframe src="{url}/sidebar#key={API_KEY}" width="400" height="860" onload="window.appContext()"></iframe>""",
    )


def test_chatwoot_dashboard_app_gets_the_conversation_and_learns_from_what_the_agent_sends(
    served: tuple[str, FeedbackStore], browser: Any
) -> None:
    url, store = served
    page = browser.new_page(viewport={"width": 420, "height": 900})
    chatwoot(page, url)
    frame = page.frame_locator("iframe")
    cards = frame.locator("#suggestions .card")
    cards.first.wait_for()
    assert frame.locator("#source").inner_text() == "来自 Chatwoot 会话 #42"
    # incoming → customer, outgoing → agent; the activity message and the private note are left out
    assert frame.locator("#conversation").input_value() == (
        "客户：你好\n客服：您好，请问有什么可以帮您？\n客户：电热水壶保修多久？"
    )
    first_id = str(cards.first.get_attribute("data-id"))
    wait_for(lambda: "shown" in actions_of(store, first_id))
    assert cards.first.locator("button.accept").inner_text() == "复制"  # Chatwoot has no way to fill its box

    # The agent sends the first suggestion as it is: recorded as accepted, without a click.
    page.evaluate("(text) => window.say(1, text)", cards.first.locator(".text").inner_text())
    wait_for(lambda: "accepted" in actions_of(store, first_id), timeout=15)
    row = next(r for r in store.feedback_rows(suggestion_id=first_id) if r["action"] == "accepted")
    assert row["agent_id"] == "chatwoot-2"

    # A new customer message refreshes the suggestions; an edited reply is recorded with its distance.
    page.evaluate("window.say(0, '衣服收到了，尺码偏小，能退吗？')")
    wait_for(lambda: str(cards.first.get_attribute("data-id")) != first_id, timeout=15)
    second_id = str(cards.first.get_attribute("data-id"))
    text = cards.first.locator(".text").inner_text()
    edited = text[: len(text) * 2 // 3] + "我这边马上帮您登记~"
    page.evaluate("(text) => window.say(1, text)", edited)
    rows = wait_for(
        lambda: [r for r in store.feedback_rows(suggestion_id=second_id) if r["action"] == "edited"], timeout=15
    )
    assert rows[0]["final_text"] == edited and rows[0]["edit_distance"] > 0
    assert page.evaluate("window.asked") >= 2  # after the first appContext, it keeps asking while visible


def test_chatwoot_context_from_another_origin_is_ignored(served: tuple[str, FeedbackStore], browser: Any) -> None:
    url, _ = served
    page = browser.new_page(viewport={"width": 420, "height": 900})
    page.set_content(f"""
        <script>
          window.asked = 0;
          addEventListener("message", (ev) => {{ window.asked += 1; }});
          setTimeout(() => {{
            const data = {{conversation: {{id: 1, messages: [{{id: 1, message_type: 0, content: "能退吗？"}}]}}}};
            document.querySelector("iframe").contentWindow.postMessage(
              JSON.stringify({{event: "appContext", data}}), "*");
            setTimeout(() => window.timedOut = true, 2000);
          }}, 1500);
        </script>
        <iframe src="{url}/sidebar#key={API_KEY}" width="400" height="860"></iframe>""")
    wait_for(lambda: page.evaluate("window.timedOut === true"))
    assert page.evaluate("window.asked") == 0  # nothing is sent to an unknown origin
    assert page.frame_locator("iframe").locator("#suggestions .card").count() == 0


def test_feedback_whose_answer_was_lost_is_retried_and_stored_once(
    served: tuple[str, FeedbackStore], browser: Any
) -> None:
    # Behind a load balancer a replica may store an event and die before answering (the client sees a 502):
    # the page sends it again with the same X-Request-ID, and the service keeps one.
    url, store = served
    page = browser.new_context(locale="zh-CN").new_page()
    sent: list[str] = []

    def lose_the_first_answer(route: Any) -> None:
        request = route.request
        if (request.post_data_json or {}).get("action") != "accepted":
            route.continue_()
            return
        sent.append(request.headers.get("x-request-id", ""))
        if len(sent) == 1:
            route.fetch()  # the server stores it
            route.fulfill(status=502, body="bad gateway")
        else:
            route.continue_()

    page.route("**/v1/feedback", lose_the_first_answer)
    page.goto(f"{url}/sidebar#key={API_KEY}")
    page.fill("#conversation", CONVERSATION)
    page.click("#suggest")
    card = page.locator("#suggestions .card").first
    card.wait_for()
    sid = str(card.get_attribute("data-id"))
    card.locator("button.accept").click()
    deadline = time.monotonic() + 10
    while len(sent) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # lets Playwright run the route handler (time.sleep would not)
    assert len(sent) == 2 and sent[0] and sent[0] == sent[1]
    page.wait_for_timeout(500)
    assert [r["action"] for r in store.feedback_rows(suggestion_id=sid)].count("accepted") == 1
    assert not page.locator("#notice").is_visible()  # the agent is not told of a failure that was recovered
