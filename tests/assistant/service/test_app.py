"""The HTTP API end to end with FastAPI's TestClient, the fake embedder and the tiny KB."""

from __future__ import annotations

import logging
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.guard import MAX_SPAN
from assistant.service.app import OPEN_MODE_WARNING
from assistant.service.holder import AssistantHolder
from assistant.service.recording import MAX_STORED_CONVERSATION
from assistant.service.schemas import SuggestResponse
from assistant.service.store import MAX_FEEDBACK_PER_SUGGESTION, FeedbackStore, StoreError
from indexer.builder import update_index
from indexer.embedding import HashingEmbedder
from kb import load_kb

RETURN_QUESTION = [{"role": "customer", "text": "衣服收到了，尺码偏小，能退吗？"}]
KEYS = {"agent-key-0123456789": "agent", "editor-key-0123456789": "editor", "admin-key-0123456789": "admin"}


@pytest.fixture
def client(make_app: Callable[..., Any]) -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


def suggest(client: TestClient, conversation: list[dict[str, str]] | None = None, **body: Any) -> Any:
    return client.post("/v1/suggest", json={"conversation": conversation or RETURN_QUESTION, **body})


def error_of(resp: Any, status: int, code: str) -> str:
    """The error message of a JSON error response, after checking its shape."""
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code and err["request_id"] == resp.headers["x-request-id"]
    assert "Traceback" not in resp.text
    return str(err["message"])


# -- /v1/suggest -----------------------------------------------------------------------------------


def test_suggest_returns_the_assistant_result_with_a_request_id(client: TestClient) -> None:
    resp = suggest(client, context={"order": {"order_id": "20261101xxxx", "days_since_delivery": 3}})
    assert resp.status_code == 200, resp.text
    data = SuggestResponse.model_validate(resp.json())
    assert data.request_id == resp.headers["x-request-id"]
    assert data.intent.name == "return_request" and data.emotion == "calm"
    assert 2 <= len(data.suggestions) <= 3
    assert "policy-return" in [c.doc_id for s in data.suggestions for c in s.citations]
    assert data.kb_version and data.latency_ms["total"] > 0


def test_every_suggestion_is_recorded_with_personal_data_masked(client: TestClient, store: FeedbackStore) -> None:
    conversation = [{"role": "customer", "text": "尺码偏小能退吗？我电话13812345678"}]
    resp = suggest(client, conversation, options={"agent_id": "kf-007"})
    assert resp.status_code == 200
    data = resp.json()
    rows = sorted(store.suggestion_rows(), key=lambda r: r["rank"])
    assert [r["id"] for r in rows] == [s["id"] for s in data["suggestions"]]
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    first = rows[0]
    assert first["request_id"] == data["request_id"] and first["agent_id"] == "kf-007"
    assert first["intent"] == data["intent"]["name"] and first["kb_version"] == data["kb_version"]
    assert first["citations"] == [c["doc_id"] for c in data["suggestions"][0]["citations"]]
    assert first["conversation_text"] == "客户：尺码偏小能退吗？我电话[手机号]"


def test_suggest_options_choose_retrieval_depth_and_mode(client: TestClient) -> None:
    one = suggest(client, options={"k": 1}).json()
    assert len(one["retrieved"]) == 1
    bm25 = suggest(client, options={"retriever": "bm25", "k": 3})
    assert bm25.status_code == 200 and len(bm25.json()["retrieved"]) <= 3


def test_suggest_still_answers_when_the_store_is_down(
    make_app: Callable[..., Any], store: FeedbackStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: Any) -> None:
        raise OSError("database is locked")

    monkeypatch.setattr(store, "record_suggestion", broken)
    with TestClient(make_app()) as c:
        assert suggest(c).status_code == 200


# -- /v1/feedback ----------------------------------------------------------------------------------


def test_feedback_is_stored_and_returned(client: TestClient, store: FeedbackStore) -> None:
    sid = suggest(client).json()["suggestions"][0]["id"]
    resp = client.post(
        "/v1/feedback",
        json={
            "suggestion_id": sid,
            "action": "edited",
            "agent_id": "kf-007",
            "final_text": "您好，可以退的，请您留个电话13812345678",
        },
    )
    assert resp.status_code == 200, resp.text
    row = resp.json()
    assert row["suggestion_id"] == sid and row["action"] == "edited" and row["agent_id"] == "kf-007"
    assert row["id"] and row["created_at"] and row["edit_distance"] > 0
    assert "13812345678" not in row["final_text"]
    rows = store.feedback_rows(suggestion_id=sid)
    assert [r["action"] for r in rows] == ["edited"]


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"action": "edited"}, 422, "invalid_request", "final_text"),
        ({"action": "liked"}, 422, "invalid_request", "action"),
        ({"action": "accepted", "suggestion_id": "nope"}, 404, "unknown_suggestion", "nope"),
        ({"action": "accepted", "rating": 5}, 422, "invalid_request", "rating"),
    ],
)
def test_bad_feedback_is_refused_with_the_reason(
    client: TestClient, body: dict[str, Any], status: int, code: str, words: str
) -> None:
    sid = suggest(client).json()["suggestions"][0]["id"]
    resp = client.post("/v1/feedback", json={"suggestion_id": sid, **body})
    assert words in error_of(resp, status, code)


def test_feedback_while_the_store_is_down_is_a_503(
    client: TestClient, store: FeedbackStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = suggest(client).json()["suggestions"][0]["id"]

    def broken(**_: Any) -> None:
        raise StoreError("feedback store sqlite:///x: disk I/O error")

    monkeypatch.setattr(store, "record_feedback", broken)
    resp = client.post("/v1/feedback", json={"suggestion_id": sid, "action": "accepted"})
    assert "unavailable" in error_of(resp, 503, "store_unavailable")
    assert "disk I/O" not in resp.text


# -- /v1/search and /v1/check ----------------------------------------------------------------------


def test_search_lists_chunks_with_scores(client: TestClient) -> None:
    resp = client.get("/v1/search", params={"q": "电热水壶保修多久", "k": 2})
    assert resp.status_code == 200
    hits = resp.json()
    assert len(hits) == 2 and hits[0]["doc_id"] == "product-kettle"
    assert set(hits[0]) == {"doc_id", "chunk_id", "title", "text", "score"}


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "q"), ({"q": "   "}, "q"), ({"q": "退货", "k": 0}, "k"), ({"q": "退货", "k": "many"}, "k")],
)
def test_bad_search_names_the_parameter(client: TestClient, params: dict[str, Any], field: str) -> None:
    assert error_of(client.get("/v1/search", params=params), 422, "invalid_request").startswith(f"{field}:")


def test_check_flags_rule_violations_of_an_agents_reply(client: TestClient) -> None:
    bad = client.post("/v1/check", json={"text": "亲，这不符合七天无理由退货条件哦", "conversation": RETURN_QUESTION})
    assert bad.status_code == 200
    assert bad.json()["passed"] is False
    assert "banned_phrases" in {v["rule"] for v in bad.json()["violations"]}
    good = client.post(
        "/v1/check",
        json={"text": "您好，签收后7天内商品完好可以申请无理由退货。", "conversation": RETURN_QUESTION},
    )
    assert good.json() == {"passed": True, "violations": []}


def test_check_uses_the_given_sources_for_numbers(client: TestClient) -> None:
    text = "您好，退款3个工作日到账。"
    unsupported = client.post("/v1/check", json={"text": text, "sources": []}).json()
    assert "unsupported_facts" in {v["rule"] for v in unsupported["violations"]}
    supported = client.post("/v1/check", json={"text": text, "sources": ["退款3个工作日到账"]}).json()
    assert supported["passed"] is True


# -- /healthz --------------------------------------------------------------------------------------


def test_healthz_describes_what_is_served_without_a_key(make_app: Callable[..., Any], index_dir: Path) -> None:
    with TestClient(make_app(api_keys=KEYS)) as c:
        resp = c.get("/healthz")
    assert resp.status_code == 200
    h = resp.json()
    assert h["status"] == "ok" and h["store"] == {"ok": True} and h["auth"] == "keys"
    assert h["model"] == {"name": "hashing-fake", "id": "hashing-fake:384", "query_encoder": None}
    assert h["index"]["generation"] == (index_dir / "CURRENT").read_text().strip()
    assert h["index"]["n_chunks"] > 0 and h["index"]["n_docs"] == 3 and h["index"]["created"]
    assert h["kb"]["version"] == h["index"]["kb_fingerprint"]


def test_healthz_reports_a_broken_store(
    make_app: Callable[..., Any], store: FeedbackStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "ping", lambda: False)
    with TestClient(make_app()) as c:
        resp = c.get("/healthz")
    assert resp.status_code == 503 and resp.json()["status"] == "degraded"


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"conversation": []}, "bad_conversation", "empty"),
        (
            {"conversation": [{"role": "customer", "text": "能退吗"}, {"role": "agent", "text": "您好"}]},
            "bad_conversation",
            "last turn must be the customer's",
        ),
        ({"conversation": [{"role": "bot", "text": "能退吗"}]}, "invalid_request", "conversation.0.role:"),
        (
            {"conversation": [{"role": "customer", "text": ["能退吗"]}]},
            "invalid_request",
            "conversation.0.text:",
        ),
        ({"conversation": [{"role": "customer", "text": ""}]}, "invalid_request", "conversation.0.text:"),
        ({"conversation": "能退吗"}, "invalid_request", "conversation:"),
        ({}, "invalid_request", "conversation: required field is missing"),
        ({"conversation": RETURN_QUESTION, "options": {"k": "five"}}, "invalid_request", "options.k:"),
        (
            {"conversation": RETURN_QUESTION, "options": {"retriever": "magic"}},
            "invalid_request",
            "options.retriever:",
        ),
        ({"conversation": RETURN_QUESTION, "convo": []}, "invalid_request", "convo: unknown field"),
        (
            {"conversation": RETURN_QUESTION, "options": {"topk": 3}},
            "invalid_request",
            "options.topk: unknown field",
        ),
    ],
)
def test_bad_suggest_requests_get_an_actionable_4xx(
    client: TestClient, body: dict[str, Any], code: str, words: str
) -> None:
    assert words in error_of(client.post("/v1/suggest", json=body), 422, code)


def test_a_huge_message_is_refused_with_413(client: TestClient) -> None:
    huge = [{"role": "customer", "text": "能退吗" * 70_000}]  # about 200 KB of UTF-8
    assert "limit is 65536 bytes" in error_of(suggest(client, huge), 413, "payload_too_large")


def test_a_chunked_body_over_the_limit_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"conversation": [{"role": "customer", "text": "'
        for _ in range(100):
            yield "能退吗".encode() * 300
        yield b'"}]}'

    resp = client.post("/v1/suggest", content=chunks(), headers={"content-type": "application/json"})
    error_of(resp, 413, "payload_too_large")


def test_mounted_apps_set_their_own_body_limit(holder: AssistantHolder, store: FeedbackStore) -> None:
    from assistant.service.app import create_app
    from assistant.settings import AssistantSettings

    async def upload(scope: Any, receive: Any, send: Any) -> None:
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})

    app = create_app(holder, store, AssistantSettings(api_keys={}), mounts=[("/editor", upload)])
    with TestClient(app) as c:
        assert c.post("/editor/upload", content=b"x" * 200_000).text == "200000"
        assert c.post("/v1/check", content=b"x" * 200_000).status_code == 413


@pytest.mark.parametrize(
    ("content", "ctype"),
    [
        (b"{not json", "application/json"),
        ('{"conversation": [{"role": "customer", "text": "能退吗"}'.encode(), "application/json"),
    ],
)
def test_malformed_json_is_a_400(client: TestClient, content: bytes, ctype: str) -> None:
    resp = client.post("/v1/suggest", content=content, headers={"content-type": ctype})
    assert "not valid JSON" in error_of(resp, 400, "invalid_json")


def test_unknown_paths_and_methods_get_json_errors(client: TestClient) -> None:
    assert "/openapi.json" in error_of(client.get("/v1/nothing"), 404, "not_found")
    assert "GET" in error_of(client.get("/v1/suggest"), 405, "method_not_allowed")


def test_an_internal_error_is_a_json_500_with_the_request_id(
    make_app: Callable[..., Any],
    holder: AssistantHolder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(**_: Any) -> None:
        raise RuntimeError("secret internals")

    with TestClient(make_app(), raise_server_exceptions=False) as c:
        monkeypatch.setattr(holder.get(), "run", explode)
        resp = c.post("/v1/suggest", json={"conversation": RETURN_QUESTION}, headers={"X-Request-ID": "trace-42"})
    message = error_of(resp, 500, "internal_error")
    assert "trace-42" in message and "secret internals" not in resp.text
    assert any("trace-42" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_sane_request_id_from_the_caller_is_kept(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"] != "bad id\n"


# -- keys, roles, rate limits ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-API-Key": "wrong"}, 401),
        ({"Authorization": "Basic YWdlbnQta2V5"}, 401),
        ({"X-API-Key": "editor-key-0123456789"}, 403),
        ({"X-API-Key": "agent-key-0123456789"}, 200),
        ({"Authorization": "Bearer agent-key-0123456789"}, 200),
        ({"X-API-Key": "admin-key-0123456789"}, 200),
    ],
)
def test_api_keys_and_roles(make_app: Callable[..., Any], headers: dict[str, str], status: int) -> None:
    with TestClient(make_app(api_keys=KEYS)) as c:
        resp = c.get("/v1/search", params={"q": "退货"}, headers=headers)
        assert resp.status_code == status, resp.text
        if status == 401:
            assert "X-API-Key" in resp.json()["error"]["message"]
        if status == 403:
            assert "role 'editor'" in resp.json()["error"]["message"]
        assert c.get("/healthz").status_code == 200


def test_open_mode_logs_a_loud_warning(make_app: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kefu.service"), TestClient(make_app()):
        pass
    assert any(r.levelno == logging.WARNING and r.getMessage() == OPEN_MODE_WARNING for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kefu.service"), TestClient(make_app(api_keys=KEYS)):
        pass
    assert not any("OPEN" in r.getMessage() for r in caplog.records)


def test_rate_limit_per_key_answers_429_with_retry_after(make_app: Callable[..., Any]) -> None:
    with TestClient(make_app(api_keys=KEYS, rate_limit_per_minute=2)) as c:
        agent = {"X-API-Key": "agent-key-0123456789"}
        assert [c.get("/v1/search", params={"q": "退货"}, headers=agent).status_code for _ in range(2)] == [
            200,
            200,
        ]
        resp = c.get("/v1/search", params={"q": "退货"}, headers=agent)
        assert "per minute" in error_of(resp, 429, "rate_limited")
        assert int(resp.headers["retry-after"]) >= 1
        assert (
            c.get("/v1/search", params={"q": "退货"}, headers={"X-API-Key": "admin-key-0123456789"}).status_code == 200
        )
        assert c.get("/healthz").status_code == 200


def test_rate_limit_in_open_mode_is_per_client(make_app: Callable[..., Any]) -> None:
    with TestClient(make_app(rate_limit_per_minute=1)) as c:
        assert c.get("/v1/search", params={"q": "退货"}).status_code == 200
        assert c.get("/v1/search", params={"q": "退货"}).status_code == 429


def test_the_openapi_schema_documents_chinese_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/v1/suggest", "/v1/feedback", "/v1/search", "/v1/check", "/healthz"} <= set(schema["paths"])
    examples = schema["components"]["schemas"]["SuggestRequest"]["examples"]
    assert "尺码偏小" in examples[0]["conversation"][0]["text"]
    assert schema["components"]["schemas"]["SuggestRequest"]["additionalProperties"] is False


# -- the assistant is loaded once and swapped when the index changes -------------------------------

NEW_DOC = """\
    ---
    id: policy-invoice
    title: 发票说明
    type: policy
    category: general
    tags: [发票]
    ---
    ## 开发票
    下单后在订单详情页申请电子发票，开票后24小时内发送到您的邮箱。
    """


def test_the_assistant_is_loaded_once_at_startup(kb_dir: Path, index_dir: Path, store: FeedbackStore) -> None:
    from assistant.service.app import create_app
    from assistant.service.holder import assistant_factory
    from assistant.settings import AssistantSettings

    calls = []
    make = assistant_factory(kb_dir, index_dir, HashingEmbedder())
    holder = AssistantHolder(lambda: calls.append(1) or make(), index_dir=index_dir)  # type: ignore[func-returns-value]
    with TestClient(create_app(holder, store, AssistantSettings(api_keys={}))) as c:
        assert calls == [1]
        for _ in range(3):
            assert suggest(c).status_code == 200
    assert calls == [1]


def test_a_new_index_is_swapped_in_without_a_failed_request(
    client: TestClient, holder: AssistantHolder, kb_dir: Path, index_dir: Path
) -> None:
    question = [{"role": "customer", "text": "发票怎么开？多久能收到"}]
    before = holder.get()
    assert "policy-invoice" not in [r["doc_id"] for r in suggest(client, question).json()["retrieved"]]

    def publish() -> None:
        time.sleep(0.2)
        (kb_dir / "docs" / "policy" / "invoice.md").write_text(textwrap.dedent(NEW_DOC), encoding="utf-8")
        update_index(load_kb(kb_dir), HashingEmbedder(), index_dir)

    writer = threading.Thread(target=publish)
    writer.start()
    statuses, cited = [], False
    deadline = time.monotonic() + 20
    while not cited and time.monotonic() < deadline:
        resp = suggest(client, question)
        statuses.append(resp.status_code)
        cited = "policy-invoice" in {c["doc_id"] for s in resp.json().get("suggestions", ()) for c in s["citations"]}
    writer.join()
    assert cited, "the new document was never cited"
    assert set(statuses) == {200} and len(statuses) > 1
    assert holder.get() is not before and holder.status().reloads == 1
    assert client.get("/healthz").json()["index"]["n_docs"] == 4


def test_reload_now_swaps_synchronously_and_a_broken_index_keeps_the_old_one(kb_dir: Path, index_dir: Path) -> None:
    from assistant.service.holder import assistant_factory

    holder = AssistantHolder(
        assistant_factory(kb_dir, index_dir, HashingEmbedder()), index_dir=index_dir, check_interval_s=0
    )
    first = holder.start()
    (kb_dir / "docs" / "policy" / "invoice.md").write_text(textwrap.dedent(NEW_DOC), encoding="utf-8")
    update_index(load_kb(kb_dir), HashingEmbedder(), index_dir)
    second = holder.reload_now()
    assert second is not first and second is holder.get()
    assert "policy-invoice" in second.index.manifest.documents

    gen = (index_dir / "CURRENT").read_text().strip()
    (index_dir / "CURRENT").write_text("gen-missing")  # a broken marker: reloading fails in the background
    assert holder.get() is second
    holder.wait_idle()
    assert holder.get() is second and "IndexNotFoundError" in (holder.status().last_error or "")
    (index_dir / "CURRENT").write_text(gen)


def test_a_watching_holder_loads_a_new_index_without_any_request(kb_dir: Path, index_dir: Path) -> None:
    # A replica that gets no traffic must still serve the new generation when traffic comes back.
    from assistant.service.holder import assistant_factory

    holder = AssistantHolder(
        assistant_factory(kb_dir, index_dir, HashingEmbedder()), index_dir=index_dir, check_interval_s=0.1
    )
    holder.start()
    holder.watch()
    try:
        (kb_dir / "docs" / "policy" / "invoice.md").write_text(textwrap.dedent(NEW_DOC), encoding="utf-8")
        update_index(load_kb(kb_dir), HashingEmbedder(), index_dir)
        deadline = time.monotonic() + 5
        while holder.status().reloads == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert holder.status().reloads == 1
    finally:
        holder.stop_watching()
    holder.wait_idle()
    assert "policy-invoice" in holder.get().index.manifest.documents


# -- issue 14: regressions ------------------------------------------------------------------------------------


def test_wrong_keys_are_throttled_per_client(make_app: Callable[..., Any]) -> None:
    # (6) 401 came before the rate limiter: 300 wrong keys in a row never saw a 429.
    with TestClient(make_app(api_keys=KEYS, rate_limit_per_minute=0, failed_auth_per_minute=10)) as c:
        codes = [c.get("/v1/search", params={"q": "退货"}, headers={"X-API-Key": f"guess-{n:016d}"}).status_code
                 for n in range(30)]  # fmt: skip
        assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
        throttled = c.get("/v1/search", params={"q": "退货"}, headers={"X-API-Key": "agent-key-0123456789"})
        assert "wrong or missing API key" in error_of(throttled, 429, "rate_limited")


def test_short_keys_are_refused_at_start_up(make_app: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        make_app(api_keys={"short-key": "agent"})


@pytest.mark.parametrize("text", ["9" * 400 + "天内能退吗", "一" * 4301 + "天内能退吗", "退货" + "1" * 15000])
def test_huge_numbers_in_a_turn_are_answered(client: TestClient, text: str) -> None:
    # (3) int(inf) on a number of 309 digits made every suggest of the conversation fail with 500.
    assert suggest(client, [{"role": "customer", "text": text}]).status_code == 200


def test_check_response_is_bounded(client: TestClient) -> None:
    # (4) one violation per distinct number, each spanning the whole clause: 20 KB in, 80 MB out.
    text = "，".join(str(n) for n in range(1000, 5000))[:19_000]
    resp = client.post("/v1/check", json={"text": text, "sources": []})
    assert resp.status_code == 200
    assert len(resp.content) < 20_000
    assert all(len(v["span"]) <= MAX_SPAN for v in resp.json()["violations"])


@pytest.mark.parametrize("path", ["/v1/suggest", "/v1/feedback"])
def test_a_lone_surrogate_is_replaced_not_refused(client: TestClient, path: str) -> None:
    # (10) an emoji cut in half by a client was a 422.
    sid = suggest(client).json()["suggestions"][0]["id"]
    bodies = {
        "/v1/suggest": '{"conversation": [{"role": "customer", "text": "衣服能退吗\\ud83d"}]}',
        "/v1/feedback": f'{{"suggestion_id": "{sid}", "action": "edited", "final_text": "好的\\ud83d"}}',
    }
    resp = client.post(path, content=bodies[path].encode(), headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text


def test_feedback_only_from_the_key_that_got_the_suggestion(make_app: Callable[..., Any]) -> None:
    # (9) any agent key could post unlimited feedback on any suggestion id.
    keys = {**KEYS, "other-agent-key-0123": "agent"}
    with TestClient(make_app(api_keys=keys)) as c:
        served = c.post(
            "/v1/suggest", json={"conversation": RETURN_QUESTION}, headers={"X-API-Key": "agent-key-0123456789"}
        )
        sid = served.json()["suggestions"][0]["id"]
        body = {"suggestion_id": sid, "action": "rejected"}
        other = c.post("/v1/feedback", json=body, headers={"X-API-Key": "other-agent-key-0123"})
        assert "for this key" in error_of(other, 404, "unknown_suggestion")
        own = [c.post("/v1/feedback", json=body, headers={"X-API-Key": "agent-key-0123456789"}).status_code
               for _ in range(MAX_FEEDBACK_PER_SUGGESTION + 1)]  # fmt: skip
        assert own[:-1] == [200] * MAX_FEEDBACK_PER_SUGGESTION and own[-1] == 429


def test_feedback_sent_again_with_its_request_id_is_stored_once(client: TestClient, store: FeedbackStore) -> None:
    sid = suggest(client, RETURN_QUESTION).json()["suggestions"][0]["id"]
    body = {"suggestion_id": sid, "action": "accepted"}
    sent = [client.post("/v1/feedback", json=body, headers={"X-Request-ID": "fb-7f3a"}) for _ in range(3)]
    assert [r.status_code for r in sent] == [200] * 3
    assert len({r.json()["id"] for r in sent}) == 1 and sent[0].json()["request_id"] == "fb-7f3a"
    assert client.post("/v1/feedback", json=body).status_code == 200  # without an id: a new event each time
    assert len(store.feedback_rows(limit=100)) == 2


def test_readyz_names_each_dependency(make_app: Callable[..., Any]) -> None:
    with TestClient(make_app()) as c:
        resp = c.get("/readyz")
    assert resp.status_code == 200
    assert resp.json() == {"ready": True, "checks": {"index": True, "database": True, "redis": None}}


def test_without_redis_a_replica_is_not_ready_but_still_serves_within_its_own_limit(
    make_app: Callable[..., Any],
) -> None:
    # Nothing listens on port 1: the shared store is down. Requests are limited per process, never refused
    # with a 500 and never let through unlimited.
    with TestClient(make_app(api_keys=KEYS, rate_limit_per_minute=3, redis_url="redis://127.0.0.1:1/0")) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["redis"] is False
        agent = {"X-API-Key": "agent-key-0123456789"}
        codes = [c.get("/v1/search", params={"q": "退货"}, headers=agent).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]


def test_each_request_gets_one_access_record_without_its_query(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="kefu.access"):
        resp = client.get("/v1/search", params={"q": "我的手机13812345678"}, headers={"X-Request-ID": "req-42"})
    records = [r for r in caplog.records if r.name == "kefu.access"]
    assert len(records) == 1
    rec = records[0].__dict__
    assert (rec["request_id"], rec["method"], rec["path"], rec["status"]) == ("req-42", "GET", "/v1/search", 200)
    assert resp.headers["x-request-id"] == "req-42" and rec["ms"] >= 0
    assert "13812345678" not in records[0].getMessage() + str(rec)


def test_a_request_stores_one_bounded_conversation(client: TestClient, store: FeedbackStore) -> None:
    # (2, 9) the ~64 KB conversation was masked and stored once per suggestion.
    turns = [{"role": "customer", "text": "尺码偏小能退吗？" * 750} for _ in range(3)]  # ~54 KB
    data = suggest(client, turns).json()
    rows = store.suggestion_rows()
    assert len(rows) == len(data["suggestions"]) >= 1
    assert len(rows[0]["conversation_text"]) <= MAX_STORED_CONVERSATION
    assert store.suggestion_rows()[0]["conversation_text"].endswith("尺码偏小能退吗？")  # the newest words kept


def test_the_worst_inputs_cost_little_cpu(client: TestClient) -> None:
    # (2) 60 KB of letters or digits cost seconds of CPU under the GIL (quadratic patterns, masking thrice).
    # CPU time, not wall time, with a wide margin over the measured worst (~0.1 s; scripts/worst_case.py).
    for unit in ("a", "1", "a1.", "市路", "路1", "1元 ", "一"):
        text = (unit * 20_000)[:19_000]
        for path, body in (
            ("/v1/suggest", {"conversation": [{"role": "customer", "text": text}] * 3}),
            ("/v1/check", {"text": text, "conversation": [{"role": "customer", "text": text}] * 2, "sources": []}),
        ):
            start = time.process_time()
            resp = client.post(path, json=body)
            assert resp.status_code in (200, 413), resp.text
            assert time.process_time() - start < 1.0, (path, unit)
