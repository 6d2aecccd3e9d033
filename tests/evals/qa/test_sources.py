"""Conversations for 质检 from the feedback store (a real SQLite file; PostgreSQL when marked) and from Chatwoot (the
fake)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select, update

from assistant.helpdesk.chatwoot import ChatwootClient
from assistant.service.store import FeedbackRow, FeedbackStore, RequestRow, ServedSuggestion, SuggestionRow
from evals.qa.checks import QualityChecker
from evals.qa.sources import from_chatwoot, from_store, stored_turns
from tests.assistant.service import test_store
from tests.fakes.chatwoot import FakeChatwoot

store_url = test_store.store_url  # the store tests' databases: a SQLite file, and PostgreSQL under `postgres`
T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[FeedbackStore]:
    s = FeedbackStore(store_url)
    s.migrate()
    yield s
    s.close()


def _serve(store: FeedbackStore, request_id: str, conversation: str, key: str | None, sid: str, text: str) -> None:
    store.record_served(
        request_id=request_id,
        conversation_text=conversation,
        principal="agent-key",
        conversation_key=key,
        suggestions=[
            ServedSuggestion(
                sid, 1, "concise", text, ["policy-return-7day"], "return_request", "calm", False, "v", 30.0
            )
        ],
    )


def _at(url: str, request_id: str, asked: datetime, sent: datetime) -> None:
    """Set the recorded times (the store stamps rows with the clock)."""
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(update(RequestRow).where(RequestRow.id == request_id).values(created_at=asked))
        served = select(SuggestionRow.id).where(SuggestionRow.request_id == request_id)
        c.execute(update(FeedbackRow).where(FeedbackRow.suggestion_id.in_(served)).values(created_at=sent))
    engine.dispose()


def test_stored_conversations_keep_the_replies_their_agents_and_times(store: FeedbackStore, store_url: str) -> None:
    url = store_url
    key = "chatwoot:1:42"
    _serve(store, "r1", "客户：衣服偏小能退吗", key, "s1", "您好，签收后7天内可以申请无理由退货。")
    store.record_feedback(suggestion_id="s1", action="accepted", final_text=None, reason=None, agent_id="小栖",
                          principal="agent-key", request_id="e1")  # fmt: skip
    _serve(store, "r2", "客户：衣服偏小能退吗\n客服：您好……\n客户：运费谁出", key, "s2", "退货运费由买家承担。")
    store.record_feedback(suggestion_id="s2", action="ignored", final_text="运费您出，等着吧", reason=None,
                          agent_id="小栖", principal="agent-key", request_id="e2")  # fmt: skip
    _serve(store, "r3", "客户：在吗", None, "s3", "您好，请问有什么可以帮您？")  # never answered: not a reply
    _at(url, "r1", T0, T0 + timedelta(seconds=9))
    _at(url, "r2", T0 + timedelta(seconds=60), T0 + timedelta(seconds=100))
    conversations = from_store(store)
    assert [c.id for c in conversations] == [key]
    conv = conversations[0]
    assert conv.agent_id == "小栖"
    assert [(t.role, t.text) for t in conv.turns] == [
        ("customer", "衣服偏小能退吗"),
        ("agent", "您好，签收后7天内可以申请无理由退货。"),  # accepted without a text: the suggestion sent
        ("customer", "运费谁出"),
        ("agent", "运费您出，等着吧"),
    ]
    assert [(t.at - T0).total_seconds() for t in conv.turns] == [0, 9, 60, 100]
    assert from_store(store, since=T0 + timedelta(seconds=30))[0].turns[0].text == "运费谁出"


def test_a_stored_reply_is_checked_like_a_file_one(
    store: FeedbackStore, store_url: str, checker: QualityChecker
) -> None:
    _serve(store, "r1", "客户：发货了吗", None, "s1", "您好，已经发货了。")
    store.record_feedback(suggestion_id="s1", action="ignored", final_text="发了", reason=None, agent_id=None,
                          principal="agent-key", request_id="e1")  # fmt: skip
    _at(store_url, "r1", T0, T0 + timedelta(seconds=40))
    (conv,) = from_store(store)
    assert conv.agent_id == "agent-key"  # no agent id recorded: the key that asked
    (turn,) = checker.run(conv).turns
    assert set(turn.rules_failed) == {"politeness", "response_time"}


def test_stored_text_lines_become_turns() -> None:
    assert stored_turns("客户：a\n客服：b\nc") == [("customer", "a"), ("agent", "b\nc")]


def test_chatwoot_conversations_with_their_times_and_assignee(checker: QualityChecker) -> None:
    t0 = int(T0.timestamp())
    with FakeChatwoot(token="tok", secret="s") as cw:
        cw.customer_says(42, "内衣拆封了还能退吗？", deliver=False, at=t0)
        cw.agent_says(42, "亲，这不符合七天无理由退货条件哦，请您理解。", deliver=False, at=t0 + 30)
        cw.resolve(42)
        cw.customer_says(43, "还没处理完的会话", deliver=False, at=t0)  # open: not asked for
        for n in range(30):  # 30 resolved conversations: two pages of 25
            cw.customer_says(100 + n, "在吗", deliver=False, at=t0 - 86400 - n)
            cw.agent_says(100 + n, "您好，请问有什么可以帮您？", deliver=False, at=t0 - 86400 - n + 5)
            cw.resolve(100 + n)
        client = ChatwootClient(cw.url, "tok", retries=0)
        everything = from_chatwoot(client, account_id=1)
        recent = from_chatwoot(client, account_id=1, since=T0 - timedelta(hours=1))
        client.close()
        pages = [c.path for c in cw.calls("GET") if "/conversations?" in c.path]
    assert len(everything) == 31 and "chatwoot:1:43" not in {c.id for c in everything}
    assert [c.id for c in recent] == ["chatwoot:1:42"]
    assert pages[:2] == ["/api/v1/accounts/1/conversations?status=resolved&page=1",
                         "/api/v1/accounts/1/conversations?status=resolved&page=2"]  # fmt: skip
    conv = recent[0]
    assert conv.agent_id == "小栖" and [t.at for t in conv.turns] == [T0, T0 + timedelta(seconds=30)]
    (turn,) = checker.run(conv).turns
    assert {"banned_phrases", "response_time"} <= set(turn.rules_failed)


def test_all_messages_reads_past_chatwoots_page_of_100() -> None:
    with FakeChatwoot(token="tok", secret="s") as cw:
        for n in range(130):
            cw.customer_says(7, f"消息{n}", deliver=False)
        client = ChatwootClient(cw.url, "tok", retries=0)
        messages = client.all_messages(account_id=1, conversation_id=7)
        client.close()
        calls = [c.path for c in cw.calls("GET")]
    assert [m["content"] for m in messages] == [f"消息{n}" for n in range(130)]
    assert len(calls) == 2 and calls[1].endswith(f"?after={messages[99]['id']}")
