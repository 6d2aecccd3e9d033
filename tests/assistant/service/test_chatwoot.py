"""The Chatwoot webhook end to end: a real `kefu serve` app (uvicorn on loopback, tiny KB, fake embedder) and a
fake Chatwoot (tests/fakes/chatwoot.py) that signs webhooks and serves the messages API as Chatwoot does."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.helpdesk.chatwoot import parse_message_created, turns_of
from assistant.service.app import create_app
from assistant.service.holder import AssistantHolder
from assistant.service.relay import PRINCIPAL
from assistant.service.store import FeedbackStore, edit_distance
from assistant.settings import AssistantSettings, ChatwootSettings
from tests.fakes.chatwoot import FakeChatwoot

TOKEN = "chatwoot-user-token-0123"
SECRET = "webhook-secret-0123456789"
WEBHOOK = "/v1/integrations/chatwoot/webhook"
BACKOFF_S = 0.1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the condition")


@pytest.fixture
def chatwoot(holder: AssistantHolder, store: FeedbackStore) -> Iterator[FakeChatwoot]:
    """A fake Chatwoot whose account webhook points at a running service configured for it."""
    import uvicorn

    port = _free_port()
    with FakeChatwoot(token=TOKEN, secret=SECRET, webhook_url=f"http://127.0.0.1:{port}{WEBHOOK}") as fake:
        settings = AssistantSettings(
            api_keys={},
            rate_limit_per_minute=0,
            chatwoot=ChatwootSettings(
                url=fake.url, api_token=SecretStr(TOKEN), webhook_secret=SecretStr(SECRET), backoff_s=BACKOFF_S
            ),
        )
        server = uvicorn.Server(
            uvicorn.Config(create_app(holder, store, settings), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for(lambda: server.started, timeout=30)
        yield fake
        server.should_exit = True
        thread.join(10)


def settle() -> None:
    """Long enough for background work that should not happen to have happened (it takes ~0.05 s here)."""
    time.sleep(0.5)


def served_texts(store: FeedbackStore) -> list[tuple[str, str]]:
    return [(r["id"], r["text"]) for r in sorted(store.suggestion_rows(), key=lambda r: r["rank"])]


# -- the webhook → private note --------------------------------------------------------------------------


def test_a_signed_customer_message_gets_its_suggestions_as_one_private_note(
    chatwoot: FakeChatwoot, store: FeedbackStore
) -> None:
    delivery = chatwoot.customer_says(42, "衣服收到了，尺码偏小，能退吗？")
    assert delivery is not None and delivery.status == 200
    note = wait_for(lambda: chatwoot.notes(42))[0]
    posted = chatwoot.calls("POST")[0].body
    assert posted == {"content": note["content"], "message_type": "outgoing", "private": True}
    rows = store.suggestion_rows()
    assert 1 <= len(rows) <= 3
    for row in rows:
        assert row["text"].strip() in note["content"]
    assert "《无理由退货》" in note["content"]  # citations as short titles
    settle()
    assert len(chatwoot.notes(42)) == 1  # the note's own webhook (private) starts nothing


def test_the_whole_conversation_is_read_from_chatwoot(chatwoot: FakeChatwoot, store: FeedbackStore) -> None:
    chatwoot.customer_says(42, "你好", deliver=False)
    chatwoot.agent_says(42, "您好，请问有什么可以帮您？")
    chatwoot.customer_says(42, "电热水壶保修多久？")
    wait_for(lambda: chatwoot.notes(42))
    assert (
        store.suggestion_rows()[0]["conversation_text"]
        == "客户：你好\n客服：您好，请问有什么可以帮您？\n客户：电热水壶保修多久？"
    )


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"secret": "someone-elses-secret"}, id="wrong secret"),
        pytest.param({"timestamp": int(time.time()) - 3600}, id="stale timestamp"),
    ],
)
def test_a_forged_webhook_is_refused_and_nothing_is_posted(
    chatwoot: FakeChatwoot, store: FeedbackStore, tamper: dict[str, Any]
) -> None:
    chatwoot.customer_says(42, "衣服收到了，尺码偏小，能退吗？", deliver=False)
    message = chatwoot.state.conversations[42][-1]
    assert chatwoot.deliver(message, **tamper).status == 401
    settle()
    assert chatwoot.calls() == [] and chatwoot.notes(42) == [] and store.suggestion_rows() == []


def test_a_webhook_without_a_signature_is_refused(chatwoot: FakeChatwoot) -> None:
    chatwoot.customer_says(42, "能退吗？", deliver=False)
    delivery = chatwoot.deliver(chatwoot.state.conversations[42][-1])
    for dropped in ("X-Chatwoot-Signature", "X-Chatwoot-Timestamp"):
        headers = {k: v for k, v in delivery.headers.items() if k != dropped}
        resp = chatwoot.send(type(delivery)(delivery.id, headers, delivery.body, 0, delivery.message_id))
        assert resp.status == 401


def test_a_replayed_delivery_posts_once(chatwoot: FakeChatwoot) -> None:
    first = chatwoot.customer_says(42, "衣服收到了，尺码偏小，能退吗？")
    assert first is not None
    again = chatwoot.send(first)  # the same bytes and headers
    redelivered = chatwoot.deliver(chatwoot.message(42, first.message_id))  # same message, new delivery id
    assert (again.status, redelivered.status) == (200, 200)
    wait_for(lambda: chatwoot.notes(42))
    settle()
    assert len(chatwoot.notes(42)) == 1
    assert len(chatwoot.calls("GET")) == 1


def test_an_api_failing_twice_is_retried_with_backoff(chatwoot: FakeChatwoot) -> None:
    chatwoot.customer_says(42, "电热水壶保修多久？", deliver=False)
    chatwoot.fail_next(2, status=503)
    chatwoot.deliver(chatwoot.state.conversations[42][-1])
    wait_for(lambda: chatwoot.notes(42))
    gets = chatwoot.calls("GET")
    assert [c.status for c in gets] == [503, 503, 200]
    waits = [b.at - a.at for a, b in itertools.pairwise(gets)]
    assert waits[0] >= BACKOFF_S and waits[1] >= 2 * BACKOFF_S  # doubled each time


def test_an_api_that_keeps_failing_posts_nothing(chatwoot: FakeChatwoot) -> None:
    chatwoot.customer_says(42, "电热水壶保修多久？", deliver=False)
    chatwoot.fail_next(10, status=500)
    chatwoot.deliver(chatwoot.state.conversations[42][-1])
    wait_for(lambda: len(chatwoot.calls("GET")) == 4)  # the call and its three retries
    settle()
    assert chatwoot.notes(42) == [] and len(chatwoot.calls("GET")) == 4


def test_a_newer_customer_message_supersedes_an_older_one(chatwoot: FakeChatwoot, store: FeedbackStore) -> None:
    # The customer wrote twice before the first webhook was handled: the conversation already has the newer one.
    chatwoot.customer_says(42, "衣服收到了，尺码偏小，能退吗？", deliver=False)
    older = chatwoot.state.conversations[42][-1]
    chatwoot.customer_says(42, "电热水壶保修多久？", deliver=False)
    newer = chatwoot.state.conversations[42][-1]
    chatwoot.deliver(older)
    settle()
    assert chatwoot.notes(42) == []
    chatwoot.deliver(newer)
    note = wait_for(lambda: chatwoot.notes(42))[0]
    assert "保修" in note["content"]
    # Webhooks out of order: the older message arrives after the newer one was taken.
    chatwoot.customer_says(43, "衣服收到了，尺码偏小，能退吗？", deliver=False)
    late = chatwoot.state.conversations[43][-1]
    chatwoot.customer_says(43, "电热水壶保修多久？")
    wait_for(lambda: chatwoot.notes(43))
    chatwoot.deliver(late)
    settle()
    assert len(chatwoot.notes(43)) == 1 and len(chatwoot.notes(42)) == 1


# -- feedback without clicks -----------------------------------------------------------------------------


def _reply_like(suggestion: str, kind: str) -> str:
    if kind == "accepted":
        return suggestion
    if kind == "edited":
        return suggestion[: len(suggestion) * 2 // 3] + "我这边马上帮您登记~"
    return "好的，稍等，我帮您看一下物流信息"


@pytest.mark.parametrize("kind", ["accepted", "edited", "ignored"])
def test_the_agents_reply_is_recorded_against_the_note(chatwoot: FakeChatwoot, store: FeedbackStore, kind: str) -> None:
    chatwoot.customer_says(42, "衣服收到了，尺码偏小，能退吗？")
    wait_for(lambda: chatwoot.notes(42))
    shown = served_texts(store)
    reply = _reply_like(shown[0][1], kind)
    chatwoot.agent_says(42, reply)
    rows = wait_for(lambda: [r for sid, _ in shown for r in store.feedback_rows(suggestion_id=sid)])
    settle()
    rows = [r for sid, _ in shown for r in store.feedback_rows(suggestion_id=sid)]
    if kind == "ignored":
        assert sorted(r["suggestion_id"] for r in rows) == sorted(sid for sid, _ in shown)
        assert {r["action"] for r in rows} == {"ignored"} and {r["final_text"] for r in rows} == {reply}
    else:
        assert [(r["suggestion_id"], r["action"]) for r in rows] == [(shown[0][0], kind)]
        if kind == "edited":  # the edit and its distance are stored
            assert rows[0]["final_text"] == reply
            assert rows[0]["edit_distance"] == edit_distance(shown[0][1], reply) > 0
        else:
            assert rows[0]["final_text"] is None
        assert rows[0]["agent_id"] == "chatwoot-user-2"
    chatwoot.agent_says(42, "还有其他可以帮您的吗？")  # a second reply is not matched again
    settle()
    assert len([r for sid, _ in shown for r in store.feedback_rows(suggestion_id=sid)]) == len(rows)


def test_webhook_feedback_is_bound_to_the_chatwoot_principal(chatwoot: FakeChatwoot, store: FeedbackStore) -> None:
    chatwoot.customer_says(42, "衣服收到了，尺码偏小，能退吗？")
    wait_for(lambda: chatwoot.notes(42))
    sid = served_texts(store)[0][0]
    with pytest.raises(Exception, match="no suggestion"):
        store.record_feedback(
            suggestion_id=sid, action="accepted", final_text=None, reason=None, agent_id=None, principal="key:x"
        )
    store.record_feedback(
        suggestion_id=sid, action="shown", final_text=None, reason=None, agent_id=None, principal=PRINCIPAL
    )


# -- without a running server ----------------------------------------------------------------------------


@pytest.fixture
def configured(make_app: Callable[..., Any]) -> Iterator[TestClient]:
    with TestClient(make_app(chatwoot=ChatwootSettings(webhook_secret=SecretStr(SECRET)))) as c:
        yield c


def test_an_unconfigured_webhook_says_what_to_set(client_without_chatwoot: TestClient) -> None:
    resp = client_without_chatwoot.post(WEBHOOK, content=b"{}")
    assert resp.status_code == 503 and "KEFU_CHATWOOT__WEBHOOK_SECRET" in resp.json()["error"]["message"]


@pytest.fixture
def client_without_chatwoot(make_app: Callable[..., Any]) -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


def test_other_events_are_acknowledged_and_ignored(configured: TestClient) -> None:
    import hashlib
    import hmac

    body = b'{"event": "conversation_status_changed", "id": 42}'
    ts = str(int(time.time()))
    sig = "sha256=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    resp = configured.post(WEBHOOK, content=body, headers={"X-Chatwoot-Timestamp": ts, "X-Chatwoot-Signature": sig})
    assert resp.status_code == 200 and resp.json() == {"status": "ignored"}


def test_chatwoot_messages_map_to_turns() -> None:
    messages = [
        {"id": 5, "message_type": 0, "content": "能退吗？", "private": False},
        {"id": 3, "message_type": 0, "content": "你好", "private": False},
        {"id": 4, "message_type": 1, "content": "您好", "private": False},
        {"id": 6, "message_type": 2, "content": "Conversation was assigned", "private": False},
        {"id": 7, "message_type": 1, "content": "内部备注", "private": True},
        {"id": 8, "message_type": 0, "content": "  ", "private": False},
        {"id": 9, "message_type": 3, "content": "模板", "private": False},
    ]
    assert turns_of(messages) == [
        {"role": "customer", "text": "你好"},
        {"role": "agent", "text": "您好"},
        {"role": "customer", "text": "能退吗？"},
    ]


def test_only_message_created_with_a_person_behind_it_is_taken() -> None:
    base = {"event": "message_created", "id": 1, "content": "hi", "account": {"id": 1}, "conversation": {"id": 2}}
    customer = parse_message_created({**base, "message_type": "incoming", "sender": {"id": 7, "type": "contact"}})
    agent = parse_message_created({**base, "message_type": "outgoing", "sender": {"id": 2, "type": "user"}})
    bot = parse_message_created({**base, "message_type": "outgoing", "sender": {"id": 1, "type": "agent_bot"}})
    note = parse_message_created(
        {**base, "message_type": "outgoing", "private": True, "sender": {"id": 2, "type": "user"}}
    )
    assert customer is not None and customer.from_customer and not customer.from_agent
    assert agent is not None and agent.from_agent and agent.conversation_key == "chatwoot:1:2"
    assert bot is not None and not bot.from_agent
    assert note is not None and not note.from_agent and not note.from_customer
    assert parse_message_created({**base, "event": "message_updated", "message_type": "incoming"}) is None
    assert parse_message_created({"event": "message_created", "id": "x"}) is None
