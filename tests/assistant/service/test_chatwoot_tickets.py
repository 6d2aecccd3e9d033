"""Chatwoot beyond the suggestion note: a resolved conversation gets its 回访 draft as a private note, and a
handoff files the conversation as a ticket (priority, label, team). A real `kefu serve` app (uvicorn on
loopback) and the fake Chatwoot (tests/fakes/chatwoot.py), which serves those APIs as Chatwoot publishes them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from assistant.helpdesk.chatwoot import ChatwootClient, parse_message_created, parse_status_changed
from assistant.service.app import create_app
from assistant.service.holder import AssistantHolder
from assistant.service.store import FeedbackStore
from assistant.settings import AssistantSettings, ChatwootSettings
from tests.assistant.service.test_chatwoot import SECRET, TOKEN, WEBHOOK, _free_port, settle, wait_for
from tests.conftest import FOLLOWUP_SCRIPT, write_kb
from tests.fakes.chatwoot import FakeChatwoot

THREAT = "不给退我就去法院起诉你们"
TEAM = "投诉专员"


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return write_kb(write_kb(tmp_path / "kb"), FOLLOWUP_SCRIPT)


@pytest.fixture
def start(holder: AssistantHolder, store: FeedbackStore) -> Iterator[Callable[..., FakeChatwoot]]:
    """`start(admin=..., teams=..., labels=...)`: a fake Chatwoot whose webhook points at a running service."""
    stops: list[Callable[[], None]] = []

    def run(**fake_options: Any) -> FakeChatwoot:
        import uvicorn

        port = _free_port()
        fake = FakeChatwoot(
            token=TOKEN, secret=SECRET, webhook_url=f"http://127.0.0.1:{port}{WEBHOOK}", **fake_options
        ).__enter__()
        settings = AssistantSettings(
            api_keys={},
            rate_limit_per_minute=0,
            chatwoot=ChatwootSettings(
                url=fake.url, api_token=SecretStr(TOKEN), webhook_secret=SecretStr(SECRET), backoff_s=0.05
            ),
        )
        server = uvicorn.Server(
            uvicorn.Config(create_app(holder, store, settings), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for(lambda: server.started, timeout=30)

        def stop() -> None:
            server.should_exit = True
            thread.join(10)
            fake.__exit__(None, None, None)

        stops.append(stop)
        return fake

    yield run
    for stop in stops:
        stop()


def _calls(fake: FakeChatwoot, suffix: str) -> list[dict[str, object] | None]:
    return [c.body for c in fake.calls("POST") if c.path.rstrip("/").endswith(suffix)]


# -- 回访 on resolution --------------------------------------------------------------------------------------


def test_a_resolved_conversation_gets_its_followup_draft_with_the_due_time(start: Callable[..., FakeChatwoot]) -> None:
    fake = start()
    fake.customer_says(42, "收到的水壶外壳摔坏了，裂了一道缝", deliver=False)
    fake.agent_says(42, "非常抱歉，已经为您安排补发，今天发出", deliver=False)
    delivery = fake.resolve(42)
    assert delivery is not None and delivery.status == 200
    note = wait_for(lambda: fake.notes(42))[0]["content"]
    resolved = datetime.fromtimestamp(fake.conversation(42).updated_at, ZoneInfo("Asia/Shanghai"))
    window = f"{resolved + timedelta(hours=24):%m-%d %H:%M} 至 {resolved + timedelta(hours=48):%m-%d %H:%M}"
    assert note.startswith(f"📞 Kefu 回访草稿 · 请在 {window} 之间回访")
    assert "您之前反馈的水壶破损问题已经为您补发，想确认一下新的商品收到了吗？" in note
    assert "依据：《回访话术》" in note
    assert fake.send(delivery).status == 200  # the same delivery again: no second note
    settle()
    assert len(fake.notes(42)) == 1


def test_other_status_changes_post_nothing(start: Callable[..., FakeChatwoot]) -> None:
    fake = start()
    fake.customer_says(42, "收到的水壶外壳摔坏了", deliver=False)
    payload = {
        **fake.conversation_data(42),
        "event": "conversation_status_changed",
        "changed_attributes": [{"status": {"previous_value": "resolved", "current_value": "open"}}],
    }
    assert fake.post_webhook(payload, 0).status == 200
    settle()
    assert fake.notes(42) == [] and fake.calls() == []


# -- a handoff as a ticket -------------------------------------------------------------------------------


def test_a_handoff_raises_the_priority_labels_the_conversation_and_assigns_the_team(
    start: Callable[..., FakeChatwoot],
) -> None:
    fake = start(teams=("售后组", TEAM))
    fake.customer_says(42, THREAT)
    note = wait_for(lambda: fake.notes(42))[0]["content"]
    wait_for(lambda: fake.conversation(42).team_id is not None)
    state = fake.conversation(42)
    assert (state.priority, state.labels, state.team_id) == ("urgent", ["kefu-threat"], 21)
    assert _calls(fake, "toggle_priority") == [{"priority": "urgent"}]
    assert _calls(fake, "/conversations/42/assignments") == [{"team_id": 21}]
    assert [b["title"] for b in _calls(fake, "/accounts/1/labels") if b] == ["kefu-threat"]  # created once
    assert "优先级 紧急" in note and f"交由 {TEAM}" in note


def test_a_ticket_never_lowers_what_an_agent_set_and_keeps_their_labels(start: Callable[..., FakeChatwoot]) -> None:
    fake = start(teams=(TEAM,), labels=("vip", "kefu-threat"))
    fake.customer_says(42, "你好", deliver=False)
    state = fake.conversation(42)
    state.priority, state.labels, state.team_id = "urgent", ["vip"], 20
    fake.customer_says(42, "退款被拒了，这不合理")  # a dispute: high, no team
    wait_for(lambda: fake.notes(42))
    wait_for(lambda: "kefu-dispute" in fake.conversation(42).labels or _calls(fake, "/conversations/42/labels"))
    settle()
    # kefu-dispute is not an account label and this token may create it: it is created, then added beside vip.
    assert fake.conversation(42).labels == ["vip", "kefu-dispute"]
    assert fake.conversation(42).priority == "urgent" and _calls(fake, "toggle_priority") == []
    assert _calls(fake, "assignments") == []


def test_with_an_agents_token_a_missing_label_is_skipped_and_the_rest_is_done(
    start: Callable[..., FakeChatwoot], caplog: pytest.LogCaptureFixture
) -> None:
    fake = start(admin=False, teams=(TEAM,))
    with caplog.at_level(logging.WARNING, logger="kefu.chatwoot"):
        fake.customer_says(42, THREAT)
        wait_for(lambda: fake.conversation(42).team_id is not None)
    state = fake.conversation(42)
    assert (state.priority, state.labels, state.team_id) == ("urgent", [], 20)
    assert "create it in Chatwoot (Settings → Labels)" in caplog.text


def test_an_ordinary_answer_files_no_ticket(start: Callable[..., FakeChatwoot]) -> None:
    fake = start(teams=(TEAM,))
    fake.customer_says(42, "电热水壶保修多久？")
    wait_for(lambda: fake.notes(42))
    settle()
    assert [c.path.split("/")[-1] for c in fake.calls("POST")] == ["messages"]
    assert fake.conversation(42).priority is None


def test_a_normal_handoff_is_chatwoots_medium(start: Callable[..., FakeChatwoot]) -> None:
    fake = start()
    fake.customer_says(42, "我要转人工")
    wait_for(lambda: fake.conversation(42).priority is not None)
    assert fake.conversation(42).priority == "medium"


# -- the payloads ------------------------------------------------------------------------------------------


def test_status_payloads_as_chatwoot_sends_them() -> None:
    with FakeChatwoot(token=TOKEN, secret=SECRET) as fake:
        fake.customer_says(42, "在吗", deliver=False)
        payload = {
            **fake.conversation_data(42),
            "status": "resolved",
            "event": "conversation_status_changed",
            "changed_attributes": [{"status": {"previous_value": "open", "current_value": "resolved"}}],
        }
        event = parse_status_changed(payload)
        assert event is not None and event.resolved and event.conversation_key == "chatwoot:1:42"
        assert parse_status_changed({**payload, "messages": [], "account": {"id": 5}}).account_id == 5  # type: ignore[union-attr]
        assert parse_status_changed({**payload, "messages": []}) is None  # no account anywhere: not usable
        assert parse_status_changed({**payload, "event": "conversation_updated"}) is None
        message = parse_message_created({**fake.webhook_data(fake.state.conversations[42][-1])})
        assert message is not None and (message.priority, message.labels, message.has_team) == (None, (), False)


def test_the_client_refuses_a_team_that_does_not_exist(caplog: pytest.LogCaptureFixture) -> None:
    with FakeChatwoot(token=TOKEN, secret=SECRET, teams=("售后组",)) as fake:
        fake.customer_says(42, THREAT, deliver=False)
        event = parse_message_created(fake.webhook_data(fake.state.conversations[42][-1]))
        assert event is not None
        client = ChatwootClient(fake.url, TOKEN, backoff_s=0)
        with caplog.at_level(logging.WARNING, logger="kefu.chatwoot"):
            done = client.file_ticket(event, priority="high", label="kefu-dispute", team=TEAM, why="争议")
        client.close()
    assert done == ["priority=high", "label=kefu-dispute"]
    assert f"no team named '{TEAM}'" in caplog.text
