"""What an agent sent, matched against the suggestions shown (POST /v1/feedback/sent and the matcher)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.service.matching import match_sent
from assistant.service.store import FeedbackStore, edit_distance

AGENT = {"X-API-Key": "agent-key-0123456789"}
OTHER = {"X-API-Key": "other-key-0123456789"}
RETURN_QUESTION = [{"role": "customer", "text": "衣服收到了，尺码偏小，能退吗？"}]


@pytest.fixture
def client(make_app: Callable[..., Any]) -> Iterator[TestClient]:
    keys = {AGENT["X-API-Key"]: "agent", OTHER["X-API-Key"]: "agent"}
    with TestClient(make_app(api_keys=keys)) as c:
        yield c


def suggested(client: TestClient) -> dict[str, Any]:
    resp = client.post("/v1/suggest", json={"conversation": RETURN_QUESTION}, headers=AGENT)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.mark.parametrize("kind", ["accepted", "edited", "ignored"])
def test_a_sent_reply_is_recorded_as_accepted_edited_or_ignored(
    client: TestClient, store: FeedbackStore, kind: str
) -> None:
    data = suggested(client)
    first = data["suggestions"][0]
    text = {
        "accepted": "  " + first["text"] + "\n",
        "edited": first["text"][:-4] + "，我帮您登记~",
        "ignored": "好的，我马上帮您查一下物流",
    }[kind]
    resp = client.post("/v1/feedback/sent", json={"request_id": data["request_id"], "text": text}, headers=AGENT)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["action"] == kind
    rows = [r for s in data["suggestions"] for r in store.feedback_rows(suggestion_id=s["id"])]
    if kind == "ignored":
        assert len(rows) == len(data["suggestions"]) and {r["action"] for r in rows} == {"ignored"}
    else:
        assert [(r["suggestion_id"], r["action"]) for r in rows] == [(first["id"], kind)]
        assert body["suggestion_id"] == first["id"]
        if kind == "edited":
            assert rows[0]["edit_distance"] == body["edit_distance"] == edit_distance(first["text"], text) > 0
        else:
            assert body["edit_distance"] == 0
    again = client.post("/v1/feedback/sent", json={"request_id": data["request_id"], "text": text}, headers=AGENT)
    assert again.json() == {"action": "none", "suggestion_id": None, "edit_distance": None}  # recorded once


def test_only_the_key_that_got_the_suggestions_may_report_the_reply(client: TestClient) -> None:
    data = suggested(client)
    resp = client.post("/v1/feedback/sent", json={"request_id": data["request_id"], "text": "好的"}, headers=OTHER)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "unknown_request"
    missing = client.post("/v1/feedback/sent", json={"request_id": "nope", "text": "好的"}, headers=AGENT)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("sent", "action", "sid"),
    [
        ("您好，可以退货。", "accepted", "a"),
        ("您好，  可以退货。 ", "accepted", "a"),  # spacing is not an edit
        ("您好，可以退货的，请在订单页申请。", "edited", "a"),
        ("麻烦提供订单号，谢谢", "edited", "b"),  # the closest suggestion is the one edited
        ("好的，马上为您查询物流", "ignored", "a"),
        ("", "ignored", "a"),
    ],
)
def test_the_closest_suggestion_decides(sent: str, action: str, sid: str) -> None:
    match = match_sent(sent, [("a", "您好，可以退货。"), ("b", "麻烦您提供订单号")])
    assert (match.action, match.suggestion_id) == (action, sid)


def test_no_suggestions_means_ignored() -> None:
    assert match_sent("好的", []).action == "ignored"
