"""POST /v1/followup (the 回访 draft of a resolved conversation) and the ticket fields of /v1/suggest, with
FastAPI's TestClient on the tiny KB plus a follow-up script."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.service.app import create_app
from assistant.service.holder import AssistantHolder, assistant_factory
from assistant.service.schemas import FollowupResponse, SuggestResponse
from assistant.service.store import FeedbackStore
from assistant.settings import AssistantSettings
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from kb import load_kb
from tests.conftest import FOLLOWUP_SCRIPT, write_kb

AGENT = {"X-API-Key": "agent-key-0123456789"}
RESOLVED = [
    {"role": "customer", "text": "收到的水壶外壳摔坏了，裂了一道缝"},
    {"role": "agent", "text": "非常抱歉，已经为您安排补发，今天发出"},
]


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return write_kb(write_kb(tmp_path / "kb"), FOLLOWUP_SCRIPT)


@pytest.fixture
def client(make_app: Callable[..., Any]) -> Iterator[TestClient]:
    with TestClient(make_app(api_keys={AGENT["X-API-Key"]: "agent"})) as c:
        yield c


def test_a_followup_draft_names_the_problem_cites_the_script_and_is_due_in_the_window(client: TestClient) -> None:
    resp = client.post(
        "/v1/followup", json={"conversation": RESOLVED, "resolved_at": "2026-12-05T10:00:00+08:00"}, headers=AGENT
    )
    assert resp.status_code == 200, resp.text
    data = FollowupResponse.model_validate(resp.json())
    assert "您之前反馈的水壶破损问题已经为您补发" in data.text  # the product named by the customer
    assert data.passed and [c.doc_id for c in data.citations] == ["script-follow-up"]
    assert (data.outcome.code, data.outcome.source) == ("reship", "conversation")
    assert datetime.fromisoformat(data.due_at) == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert datetime.fromisoformat(data.send_after) == datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    assert data.request_id == resp.headers["x-request-id"]


def test_without_a_resolution_time_the_window_starts_now(client: TestClient) -> None:
    before = datetime.now(UTC)
    resp = client.post("/v1/followup", json={"conversation": RESOLVED, "outcome": "refund"}, headers=AGENT)
    due = datetime.fromisoformat(resp.json()["due_at"])
    assert before + timedelta(hours=48) - timedelta(seconds=1) <= due <= datetime.now(UTC) + timedelta(hours=48)
    assert "已经为您办理退款" in resp.json()["text"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"conversation": RESOLVED, "resolved_at": "2026-12-05T10:00:00"}, "resolved_at"),  # no time zone
        ({"conversation": RESOLVED, "resolved_at": "9999-12-31T23:00:00+00:00"}, "resolved_at"),  # + 48 h overflows
        ({"conversation": []}, "conversation"),
        ({"conversation": RESOLVED, "outcom": "refund"}, "outcom"),
    ],
)
def test_a_bad_request_names_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    resp = client.post("/v1/followup", json=body, headers=AGENT)
    assert resp.status_code == 422 and field in resp.json()["error"]["message"]


def test_the_endpoint_needs_an_agent_key(client: TestClient) -> None:
    assert client.post("/v1/followup", json={"conversation": RESOLVED}).status_code == 401


def test_a_kb_without_the_script_answers_503_with_the_fix(store: FeedbackStore, tmp_path: Path) -> None:
    kb, index = write_kb(tmp_path / "plain-kb"), tmp_path / "plain-index"
    build_index(load_kb(kb), HashingEmbedder(), index)
    holder = AssistantHolder(assistant_factory(kb, index, HashingEmbedder()), index_dir=index)
    with TestClient(create_app(holder, store, AssistantSettings(api_keys={}, rate_limit_per_minute=0))) as c:
        resp = c.post("/v1/followup", json={"conversation": RESOLVED})
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "followup_not_configured"
    assert "script-follow-up" in resp.json()["error"]["message"]


def test_suggest_returns_the_handoff_as_a_ticket(client: TestClient) -> None:
    before = datetime.now(UTC)
    resp = client.post(
        "/v1/suggest", json={"conversation": [{"role": "customer", "text": "不给退我就去法院起诉你们"}]}, headers=AGENT
    )
    handoff = SuggestResponse.model_validate(resp.json()).handoff
    assert (handoff.code, handoff.priority, handoff.team, handoff.due_hours) == ("threat", "urgent", "投诉专员", 2)
    assert handoff.due_at is not None
    assert before + timedelta(hours=2) - timedelta(seconds=1) <= datetime.fromisoformat(handoff.due_at)
