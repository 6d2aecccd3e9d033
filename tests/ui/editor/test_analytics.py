from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant.service.store import FeedbackStore
from tests.ui.editor.conftest import FakeFeedbackStore, feedback, suggestion
from ui.editor import handlers as h
from ui.editor.analytics import char_diff_html, load_feedback, most_edited, rate_rows, rates_over_time


@pytest.fixture
def store() -> FakeFeedbackStore:
    return FakeFeedbackStore(
        [
            suggestion("s1", day=2),
            suggestion("s2", day=2),
            suggestion("s3", day=3),
            suggestion("s4", day=3, intent="invoice", citations=("policy-invoice",)),
            suggestion("s5", day=10, intent="invoice", citations=("policy-invoice", "faq-invoice")),
        ],
        [
            feedback("s1", "shown", day=2),
            feedback("s1", "accepted", day=2),
            feedback(
                "s2",
                "edited",
                day=2,
                final_text="您好，签收后7天内可以申请无理由退货，运费由您承担。",
                distance=9,
            ),
            feedback("s3", "rejected", day=3),
            feedback("s4", "edited", day=3, final_text="您好，发票会在确认收货后开具。"),
            feedback("s5", "accepted", day=10),
        ],
    )


def test_rates_by_intent_and_by_document(store: FakeFeedbackStore) -> None:
    by_intent = {r["key"]: r for r in rate_rows(store.stats(), "intent")}
    ret = by_intent["return_request"]
    assert (ret["served"], ret["accepted"], ret["edited"], ret["rejected"]) == (3, 1, 1, 1)
    assert ret["accepted_rate"] == pytest.approx(1 / 3, abs=1e-4)
    by_doc = {r["key"]: r for r in rate_rows(store.stats(), "doc")}
    assert by_doc["policy-invoice"]["served"] == 2 and by_doc["faq-invoice"]["accepted_rate"] == 1.0


def test_rates_over_time_per_day_and_week(store: FakeFeedbackStore) -> None:
    data = load_feedback(store)
    daily = {(r["period"], r["key"]): r for r in rates_over_time(data, by="intent", period="day")}
    assert daily[("2026-11-02", "return_request")]["served"] == 2
    assert daily[("2026-11-02", "return_request")]["edited_rate"] == 0.5
    assert daily[("2026-11-03", "return_request")]["rejected_rate"] == 1.0
    weekly = {(r["period"], r["key"]): r for r in rates_over_time(data, by="doc", period="week")}
    # 2026-11-02 is a Monday: the 2nd and 3rd fall in one week, the 10th in the next.
    assert weekly[("2026-11-02", "policy-return")]["served"] == 3
    assert weekly[("2026-11-09", "faq-invoice")]["accepted"] == 1


def test_since_limits_suggestions_and_their_feedback(store: FakeFeedbackStore) -> None:
    data = load_feedback(store, since=datetime(2026, 11, 3, tzinfo=UTC))
    assert {s["id"] for s in data.suggestions} == {"s3", "s4", "s5"}
    assert {f["suggestion_id"] for f in data.feedback} == {"s3", "s4", "s5"}


def test_most_edited_suggestions_show_what_agents_changed(store: FakeFeedbackStore) -> None:
    edited = most_edited(load_feedback(store))
    assert [e.id for e in edited] == ["s4", "s2"]  # most changed first
    s4, s2 = edited
    assert s4.distance > s2.distance  # s4 has no stored distance: it is computed
    assert s2.distance == 9 and "<ins" in s2.diff_html and "运费由您承担" in s2.diff_html
    assert char_diff_html("可以退", "可以换") == (
        '可以<del style="background:#fde2e1;color:#a40000">退</del>'
        '<ins style="background:#dff5e1;color:#0a5d1a">换</ins>'
    )


def test_feedback_handlers_on_the_fake_store(ctx: h.EditorContext, store: FakeFeedbackStore) -> None:
    ctx.feedback = store
    rates = h.feedback_rates(ctx, "intent", None)
    assert rates[0][:5] == ["return_request", 3, 1, 1, 1] and rates[0][5] == "33%"
    trend = h.feedback_trend(ctx, "intent", "day", None)
    assert {"日期": "2026-11-10", "对象": "invoice", "指标": "采纳率", "比例": 1.0} in trend
    html = h.edited_suggestions_html(ctx, None)
    assert html.startswith("<ol>") and "运费由您承担" in html


def test_without_a_store_the_tab_says_so(ctx: h.EditorContext) -> None:
    with pytest.raises(h.EditorError, match="没有连接反馈库"):
        h.feedback_rates(ctx)


def test_the_real_store_answers_what_analytics_asks(ctx: h.EditorContext, tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'kefu.db'}")
    store.migrate()
    for sid, cites in (("a1", ["policy-return"]), ("a2", [])):
        store.record_suggestion(
            request_id=f"r{sid}",
            suggestion_id=sid,
            rank=1,
            style="concise",
            text="您好，可以退。",
            citations=cites,
            intent="return_request",
            emotion="calm",
            handoff=False,
            kb_version="k",
            latency_ms=10.0,
            conversation_text="客户：能退吗？",
            agent_id=None,
        )
    store.record_feedback(
        suggestion_id="a1", action="edited", final_text="您好，可以退货。", reason=None, agent_id=None
    )
    store.record_feedback(suggestion_id="a2", action="rejected", final_text=None, reason=None, agent_id=None)
    ctx.feedback = store
    assert h.feedback_rates(ctx, "intent", 7)[0][:5] == ["return_request", 2, 0, 1, 1]
    assert "可以退<ins" in h.edited_suggestions_html(ctx, 7)
    assert h.knowledge_gaps(ctx, 7)[0][1] == "能退吗？"


def test_a_date_range_keeps_its_feedback_behind_newer_events(tmp_path: Path) -> None:
    # Issue 14 (9): analytics read the newest feedback rows whatever the range, then filtered them.
    store = FeedbackStore(f"sqlite:///{tmp_path / 'kefu.db'}")
    store.migrate()
    fields = {"rank": 1, "style": "concise", "text": "您好，可以退。", "citations": [], "intent": "return_request",
              "emotion": "calm", "handoff": False, "kb_version": "k", "latency_ms": 1.0,
              "conversation_text": "客户：能退吗？", "agent_id": None}  # fmt: skip
    store.record_suggestion(request_id="r-old", suggestion_id="old", **fields)
    cutoff = datetime.now(UTC)
    store.record_suggestion(request_id="r-new", suggestion_id="new", **fields)
    store.record_feedback(suggestion_id="new", action="accepted", final_text=None, reason=None, agent_id=None)
    for _ in range(5):  # newer events, on a suggestion served before the range
        store.record_feedback(suggestion_id="old", action="shown", final_text=None, reason=None, agent_id=None)
    data = load_feedback(store, since=cutoff, limit=5)
    assert [s["id"] for s in data.suggestions] == ["new"]
    assert [(f["suggestion_id"], f["action"]) for f in data.feedback] == [("new", "accepted")]
