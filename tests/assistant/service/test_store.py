"""The feedback store against a real SQLite file and a real PostgreSQL server (one schema per test)."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect, make_url, text

from assistant.service import store as store_module
from assistant.service.store import (
    MAX_FEEDBACK_PER_SUGGESTION,
    Base,
    FeedbackLimitError,
    FeedbackStore,
    Retention,
    ServedSuggestion,
    StoreError,
    UnknownSuggestionError,
    edit_distance,
)

POSTGRES_URL = os.environ.get("KEFU_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'kefu.db'}"  # the store creates the missing directory
        return
    if not POSTGRES_URL:
        pytest.skip(
            "KEFU_TEST_POSTGRES_URL is not set; `make services` starts PostgreSQL and writes the URL "
            "to .kefu/services.env"
        )
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[FeedbackStore]:
    store = FeedbackStore(store_url)
    store.migrate()
    yield store
    store.close()


HEAD = ScriptDirectory(str(store_module._MIGRATIONS)).get_current_head()  # the newest migration


def raw_rows(url: str, sql: str) -> list[dict[str, Any]]:
    """Rows exactly as stored, read around the store."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def suggest(store: FeedbackStore, suggestion_id: str, **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "request_id": "req-1",
        "suggestion_id": suggestion_id,
        "rank": 1,
        "style": "concise",
        "text": "亲，签收后7天内商品完好可以申请无理由退货哦",
        "citations": ["policy-return"],
        "intent": "return_request",
        "emotion": "calm",
        "handoff": False,
        "kb_version": "kb-2026.11.23-3f2a",
        "latency_ms": 41.5,
        "conversation_text": "customer: 尺码不对能退吗",
        "agent_id": "agent-7",
    }
    store.record_suggestion(**(fields | overrides))


def test_migrate_twice_keeps_schema_and_rows(store: FeedbackStore, store_url: str) -> None:
    suggest(store, "s1")
    store.migrate()
    assert raw_rows(store_url, "SELECT version_num FROM alembic_version") == [{"version_num": HEAD}]
    assert [row["id"] for row in store.suggestion_rows()] == ["s1"]
    engine = create_engine(store_url)
    try:
        tables = inspect(engine)
        assert {"suggestions", "feedback"} <= set(tables.get_table_names())
        indexed = {ix["name"] for t in ("suggestions", "feedback") for ix in tables.get_indexes(t)}
        assert {"ix_suggestions_created_at", "ix_suggestions_intent", "ix_feedback_created_at"} <= indexed
    finally:
        engine.dispose()


def test_migrations_match_the_models(store: FeedbackStore, store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        engine.dispose()


def test_sqlite_file_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a' / 'b' / 'kefu.db'}"
    store = FeedbackStore(url)
    store.migrate()
    assert (tmp_path / "a" / "b" / "kefu.db").is_file()
    engine = store._engine
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    store.close()


def test_in_memory_sqlite_is_shared_by_all_calls() -> None:
    store = FeedbackStore("sqlite://")
    store.migrate()
    suggest(store, "s1")
    done = threading.Thread(
        target=store.record_feedback,
        kwargs={"suggestion_id": "s1", "action": "shown", "final_text": None, "reason": None, "agent_id": None},
    )
    done.start()
    done.join()
    assert [row["action"] for row in store.feedback_rows()] == ["shown"]
    store.close()


def test_suggestion_and_feedback_roundtrip(store: FeedbackStore) -> None:
    suggest(store, "s1", citations=["policy-return", "policy-shipping"], handoff=True, agent_id=None)
    before = datetime.now(UTC)
    row = store.record_feedback(
        suggestion_id="s1",
        action="edited",
        final_text="亲，签收后7天内商品完好可以申请无理由退货的哦",
        reason="语气更自然",
        agent_id="agent-7",
    )
    assert row["suggestion_id"] == "s1"
    assert row["action"] == "edited"
    assert row["edit_distance"] == 1
    assert row["reason"] == "语气更自然"
    assert isinstance(row["id"], int)
    created = datetime.fromisoformat(row["created_at"])
    assert created.tzinfo is not None and before - timedelta(seconds=5) <= created <= datetime.now(UTC)
    assert store.feedback_rows(suggestion_id="s1") == [row]

    [stored] = store.suggestion_rows()
    assert stored["id"] == "s1"
    assert stored["citations"] == ["policy-return", "policy-shipping"]
    assert stored["handoff"] is True
    assert stored["latency_ms"] == 41.5
    assert stored["kb_version"] == "kb-2026.11.23-3f2a"
    assert stored["intent"] == "return_request"
    assert stored["agent_id"] is None
    assert datetime.fromisoformat(stored["created_at"]).utcoffset() == timedelta(0)


def test_feedback_without_final_text_has_no_edit_distance(store: FeedbackStore) -> None:
    suggest(store, "s1")
    shown = store.record_feedback(suggestion_id="s1", action="shown", final_text=None, reason=None, agent_id=None)
    accepted = store.record_feedback(
        suggestion_id="s1",
        action="accepted",
        final_text="亲，签收后7天内商品完好可以申请无理由退货哦",
        reason=None,
        agent_id=None,
    )
    assert shown["edit_distance"] is None
    assert accepted["edit_distance"] == 0
    assert [r["action"] for r in store.feedback_rows()] == ["accepted", "shown"]


def test_personal_data_is_masked_in_the_stored_rows(store: FeedbackStore, store_url: str) -> None:
    suggest(
        store,
        "s1",
        text="好的，已为您把电话改为13812345678",
        conversation_text="customer: 我的新手机号是13812345678，地址浙江省杭州市西湖区文三路123号4栋501室",
    )
    store.record_feedback(
        suggestion_id="s1",
        action="edited",
        final_text="好的，已为您把电话改为13812345678，身份证110101199003071234已核对",
        reason="客户邮箱zhangsan@163.com也要记下",
        agent_id="工号7 电话13912345678",
    )
    suggestion = raw_rows(store_url, "SELECT text FROM suggestions")
    conversation = raw_rows(store_url, "SELECT conversation_text FROM requests")
    feedback = raw_rows(store_url, "SELECT final_text, reason, agent_id, edit_distance FROM feedback")
    assert suggestion == [{"text": "好的，已为您把电话改为[手机号]"}]
    assert conversation == [{"conversation_text": "customer: 我的新手机号是[手机号]，地址[地址]"}]
    assert feedback == [
        {
            "final_text": "好的，已为您把电话改为[手机号]，身份证[身份证号]已核对",
            "reason": "客户邮箱[邮箱]也要记下",
            "agent_id": "工号7 电话[手机号]",  # issue 14 (11): agent ids were stored as given
            "edit_distance": len("，身份证[身份证号]已核对"),  # distance between the masked texts
        }
    ]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("退货", "", 2),
        ("", "退货", 2),
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("ab", "ba", 2),  # a transposition is two edits
        ("您好，已为您退款", "您好，已为您退款", 0),
        ("您好，已为您退款", "您好，已经为您退款", 1),
        ("亲，7天无理由退货", "亲，七天无理由退货", 1),
        ("退货运费由买家承担", "运费由买家承担", 2),
        ("满99元包邮", "满199元包邮哦", 2),
        ("亲，非常抱歉", "很抱歉", 4),  # delete three, substitute one
    ],
)
def test_edit_distance_on_hand_checked_pairs(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


def test_edit_distance_caps_inputs_and_stays_fast() -> None:
    assert edit_distance("退" * 5000, "") == 4000
    start = time.perf_counter()
    assert edit_distance("退货" * 2000, "换货" * 2000) == 2000
    assert time.perf_counter() - start < 1


def _reference_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@given(st.text(alphabet="退换货亲ab", max_size=80), st.text(alphabet="退换货亲ab", max_size=80))
def test_edit_distance_agrees_with_the_textbook_recurrence(a: str, b: str) -> None:
    assert edit_distance(a, b) == _reference_distance(a, b)


def test_unknown_suggestion_is_an_error_and_writes_nothing(store: FeedbackStore) -> None:
    with pytest.raises(UnknownSuggestionError, match="'nope'") as error:
        store.record_feedback(suggestion_id="nope", action="accepted", final_text="好的", reason=None, agent_id=None)
    assert isinstance(error.value, StoreError)
    assert store.feedback_rows() == []


@pytest.mark.parametrize("action", ["liked", "", "Accepted"])
def test_invalid_action_is_a_value_error_and_writes_nothing(store: FeedbackStore, action: str) -> None:
    suggest(store, "s1")
    with pytest.raises(ValueError, match="shown, accepted, edited, rejected"):
        store.record_feedback(suggestion_id="s1", action=action, final_text=None, reason=None, agent_id=None)
    assert store.feedback_rows() == []


def test_recording_a_suggestion_id_twice_is_an_error(store: FeedbackStore) -> None:
    suggest(store, "s1")
    with pytest.raises(StoreError, match="'s1' is already recorded"):
        suggest(store, "s1", text="另一条")
    assert [row["text"] for row in store.suggestion_rows()] == ["亲，签收后7天内商品完好可以申请无理由退货哦"]


def test_rows_are_newest_first_and_filtered(store: FeedbackStore) -> None:
    suggest(store, "old")
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    for sid in ("s1", "s2", "s3"):
        suggest(store, sid)
    assert [r["id"] for r in store.suggestion_rows()] == ["s3", "s2", "s1", "old"]
    assert [r["id"] for r in store.suggestion_rows(limit=2)] == ["s3", "s2"]
    assert [r["id"] for r in store.suggestion_rows(since=cutoff)] == ["s3", "s2", "s1"]
    naive_utc = cutoff.replace(tzinfo=None)
    assert [r["id"] for r in store.suggestion_rows(since=naive_utc)] == ["s3", "s2", "s1"]
    # The same instant in Beijing time selects the same rows.
    beijing = cutoff.astimezone(ZoneInfo("Asia/Shanghai"))
    assert [r["id"] for r in store.suggestion_rows(since=beijing)] == ["s3", "s2", "s1"]

    for sid in ("s1", "s2"):
        store.record_feedback(suggestion_id=sid, action="shown", final_text=None, reason=None, agent_id=None)
    assert [r["suggestion_id"] for r in store.feedback_rows()] == ["s2", "s1"]
    assert [r["suggestion_id"] for r in store.feedback_rows(suggestion_id="s1")] == ["s1"]
    assert len(store.feedback_rows(limit=1)) == 1
    with pytest.raises(ValueError, match="limit must be at least 1, got 0"):
        store.feedback_rows(limit=0)


def test_stats_per_intent_and_cited_document(store: FeedbackStore) -> None:
    suggest(store, "old", intent="return_request", citations=["policy-return"])
    store.record_feedback(suggestion_id="old", action="rejected", final_text=None, reason=None, agent_id=None)
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    suggest(store, "r1", intent="return_request", citations=["policy-return", "policy-shipping"])
    suggest(store, "r2", intent="return_request", citations=["policy-return"])
    suggest(store, "w1", intent="warranty", citations=["product-kettle"])
    suggest(store, "w2", intent="warranty", citations=[])
    events = [("r1", "shown"), ("r1", "shown"), ("r1", "accepted"), ("r2", "shown"), ("r2", "edited"),
              ("w1", "shown"), ("w1", "rejected"), ("w2", "ignored")]  # fmt: skip
    for sid, action in events:
        store.record_feedback(suggestion_id=sid, action=action, final_text=None, reason=None, agent_id=None)

    def counts(by: str, key: str, *numbers: int) -> dict[str, Any]:
        names = ("served", "shown", "accepted", "edited", "rejected", "ignored")
        return {"by": by, "key": key, **dict(zip(names, numbers, strict=True))}

    assert store.stats(since=cutoff) == [
        counts("intent", "return_request", 2, 2, 1, 1, 0, 0),
        counts("intent", "warranty", 2, 1, 0, 0, 1, 1),
        counts("doc", "policy-return", 2, 2, 1, 1, 0, 0),
        counts("doc", "policy-shipping", 1, 1, 1, 0, 0, 0),
        counts("doc", "product-kettle", 1, 1, 0, 0, 1, 0),
    ]
    everything = store.stats()
    assert everything[0] == counts("intent", "return_request", 3, 2, 1, 1, 1, 0)
    assert counts("doc", "policy-return", 3, 2, 1, 1, 1, 0) in everything
    assert store.stats(since=datetime.now(UTC) + timedelta(hours=1)) == []


def test_concurrent_writes_from_eight_threads(store: FeedbackStore) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(25):
                sid = f"w{worker}-{i}"
                suggest(store, sid, request_id=f"req-{worker}-{i}")
                store.record_feedback(
                    suggestion_id=sid, action="edited", final_text="好的亲", reason=None, agent_id=None
                )
                store.stats()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.suggestion_rows(limit=1000)) == 200
    assert len(store.feedback_rows(limit=1000)) == 200


def test_concurrent_migrations_do_not_collide(store_url: str) -> None:
    stores = [FeedbackStore(store_url) for _ in range(8)]
    errors: list[BaseException] = []

    def migrate(store: FeedbackStore) -> None:
        try:
            store.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert errors == []
    assert raw_rows(store_url, "SELECT version_num FROM alembic_version") == [{"version_num": HEAD}]


def test_unreachable_database_fails_with_an_actionable_message() -> None:
    store = FeedbackStore("postgresql+psycopg://kefu:secret@127.0.0.1:1/kefu?connect_timeout=2")
    assert store.ping() is False
    with pytest.raises(StoreError, match=r"feedback store postgresql\+psycopg://kefu:\*\*\*@127.0.0.1:1") as error:
        store.feedback_rows()
    assert "secret" not in str(error.value)
    store.close()


def test_unmigrated_store_says_to_migrate(tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'kefu.db'}")
    assert store.ping() is True
    with pytest.raises(StoreError, match=r"no such table.*FeedbackStore.migrate"):
        store.suggestion_rows()
    store.close()


@pytest.mark.parametrize("url", ["not a url", "mysql+nodriver://kefu:secret@db/kefu"])
def test_unusable_url_is_a_store_error_without_the_password(url: str) -> None:
    with pytest.raises(StoreError, match="is not usable") as error:
        FeedbackStore(url)
    assert "secret" not in str(error.value)


def test_schema_from_a_newer_version_is_refused(store: FeedbackStore, store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"cannot migrate.*9999"):
        store.migrate()


# -- issue 14 (9): one conversation per request, feedback bound to the key, bounded growth -------------------


def served(sid: str, rank: int = 1) -> ServedSuggestion:
    return ServedSuggestion(sid, rank, "concise", "您好，可以退。", ["policy-return"], "return_request", "calm",
                            False, "k1", 12.0, "a1")  # fmt: skip


def test_a_request_stores_its_conversation_once(store: FeedbackStore, store_url: str) -> None:
    conversation = "客户：" + "尺码偏小能退吗" * 1000
    store.record_served(
        request_id="r1", conversation_text=conversation, principal="key:a", suggestions=[served(f"s{n}", n)
                                                                                         for n in (1, 2, 3)]
    )  # fmt: skip
    assert raw_rows(store_url, "SELECT COUNT(*) AS n FROM requests") == [{"n": 1}]
    assert {r["conversation_text"] for r in store.suggestion_rows()} == {conversation}
    assert len(store.suggestion_rows()) == 3


def test_feedback_only_from_the_key_that_received_the_suggestion(store: FeedbackStore) -> None:
    store.record_served(
        request_id="r1", conversation_text="客户：能退吗", principal="key:a", suggestions=[served("s1")]
    )
    with pytest.raises(UnknownSuggestionError, match="for this key"):
        store.record_feedback(
            suggestion_id="s1", action="rejected", final_text=None, reason=None, agent_id=None, principal="key:b"
        )
    row = store.record_feedback(
        suggestion_id="s1", action="accepted", final_text=None, reason=None, agent_id=None, principal="key:a"
    )
    assert row["action"] == "accepted"


def test_a_retried_feedback_event_is_stored_once(store: FeedbackStore) -> None:
    suggest(store, "s1")
    event: dict[str, Any] = {"suggestion_id": "s1", "final_text": None, "reason": None, "agent_id": None}
    first = store.record_feedback(action="accepted", request_id="fb-1", **event)
    again = store.record_feedback(action="accepted", request_id="fb-1", **event)  # the response was lost
    other = store.record_feedback(action="shown", request_id="fb-2", **event)
    unnamed = [store.record_feedback(action="shown", **event) for _ in range(2)]
    assert again == first and first["request_id"] == "fb-1"
    assert other["id"] != first["id"] and unnamed[0]["id"] != unnamed[1]["id"]
    assert len(store.feedback_rows(limit=100)) == 4


def test_a_retry_racing_its_original_is_stored_once(store: FeedbackStore) -> None:
    # Two replicas handling the same retried event at the same moment: the unique index admits one.
    suggest(store, "s1")
    barrier = threading.Barrier(4)

    def send() -> dict[str, object]:
        barrier.wait()
        return store.record_feedback(
            suggestion_id="s1", action="accepted", final_text=None, reason=None, agent_id=None, request_id="fb-9"
        )

    with ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda _: send(), range(4)))
    assert len({r["id"] for r in rows}) == 1
    assert len(store.feedback_rows(limit=100)) == 1


def test_feedback_per_suggestion_is_capped(store: FeedbackStore) -> None:
    suggest(store, "s1")
    for _ in range(MAX_FEEDBACK_PER_SUGGESTION):
        store.record_feedback(suggestion_id="s1", action="shown", final_text=None, reason=None, agent_id=None)
    with pytest.raises(FeedbackLimitError, match="already has"):
        store.record_feedback(suggestion_id="s1", action="shown", final_text=None, reason=None, agent_id=None)
    assert len(store.feedback_rows(limit=1000)) == MAX_FEEDBACK_PER_SUGGESTION


def test_purge_deletes_old_requests_with_their_suggestions_and_feedback(store: FeedbackStore) -> None:
    suggest(store, "old", request_id="r-old")
    store.record_feedback(suggestion_id="old", action="shown", final_text=None, reason=None, agent_id=None)
    time.sleep(0.01)
    cutoff = datetime.now(UTC)
    suggest(store, "new", request_id="r-new")
    assert store.purge(before=cutoff) == 1
    assert [r["id"] for r in store.suggestion_rows()] == ["new"]
    assert store.feedback_rows() == []


def test_feedback_rows_by_the_date_range_of_their_suggestions(store: FeedbackStore) -> None:
    suggest(store, "old", request_id="r-old")
    time.sleep(0.01)
    middle = datetime.now(UTC)
    suggest(store, "new", request_id="r-new")
    for sid in ("new", "old"):  # the old suggestion's feedback is the newest event
        store.record_feedback(suggestion_id=sid, action="shown", final_text=None, reason=None, agent_id=None)
    assert [r["suggestion_id"] for r in store.feedback_rows(since=middle)] == ["new"]
    assert [r["suggestion_id"] for r in store.feedback_rows(until=middle)] == ["old"]
    assert [r["id"] for r in store.suggestion_rows(until=middle)] == ["old"]


def test_migration_moves_conversations_of_existing_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(Path(store_module.__file__).with_name("migrations")))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        for sid in ("s1", "s2"):
            connection.execute(
                text(
                    "INSERT INTO suggestions VALUES (:id, 'r1', 1, 'concise', '好的', '[]', 'other', 'calm', 0, 'k',"
                    " 1.0, '客户：你好', NULL, '2026-11-30 10:00:00')"
                ),
                {"id": sid},
            )
    engine.dispose()
    store = FeedbackStore(url)
    store.migrate()
    assert [r["conversation_text"] for r in store.suggestion_rows()] == ["客户：你好", "客户：你好"]
    store.record_feedback(suggestion_id="s1", action="shown", final_text=None, reason=None, agent_id=None,
                          principal="key:any")  # fmt: skip
    store.close()


def test_retention_purges_at_most_once_per_period(store: FeedbackStore, store_url: str) -> None:
    suggest(store, "old", request_id="r-old")
    suggest(store, "new", request_id="r-new")
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE requests SET created_at = '2020-01-01 00:00:00' WHERE id = 'r-old'"))
    engine.dispose()
    now = [0.0]
    retention = Retention(store, days=30, every_s=3600, clock=lambda: now[0])
    assert retention.run_if_due() == 1
    assert [r["id"] for r in store.suggestion_rows()] == ["new"]
    suggest(store, "old2", request_id="r-old")
    assert retention.run_if_due() == 0  # not due yet
    now[0] = 3601.0
    assert Retention(store, days=0).run_if_due() == 0  # 0 days: keep everything


def test_helpdesk_events_are_taken_once_and_newer_customer_messages_supersede(store: FeedbackStore) -> None:
    def claim(message_id: int, delivery: str | None, role: str = "customer") -> bool:
        return store.claim_event(
            message_key=f"chatwoot:1:42:{message_id}",
            delivery_key=delivery,
            conversation_key="chatwoot:1:42",
            message_id=message_id,
            role=role,
        )

    assert claim(10, "d1") is True
    assert claim(10, "d2") is False  # the same message again, under another delivery
    assert claim(11, "d1") is False  # the same delivery replayed
    assert claim(11, None, role="agent") is True
    assert store.superseded(conversation_key="chatwoot:1:42", message_id=10) is False  # an agent's is not newer
    assert claim(12, None) is True
    assert store.superseded(conversation_key="chatwoot:1:42", message_id=10) is True
    assert store.superseded(conversation_key="chatwoot:1:43", message_id=10) is False
    store.purge(before=datetime.now(UTC) + timedelta(seconds=1))
    assert claim(10, "d1") is True  # retention deleted the old events too
