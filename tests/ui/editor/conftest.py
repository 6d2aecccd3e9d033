"""Fixtures of the editor tests: a workspace on the tiny KB (fake embedder) and a fake feedback store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from kb import load_kb
from tests.conftest import write_kb
from ui.editor.documents import join_text
from ui.editor.handlers import EditorContext
from ui.editor.preview import Previewer
from ui.editor.workspace import Workspace

GIFT_FRONT = "id: faq-gift-wrap\ntitle: 礼品包装服务\ntype: faq\ncategory: general\ntags: [礼品包装]"
GIFT_BODY = "## 问：可以帮忙礼品包装吗？\n\n可以，下单时备注“礼品包装”，我们免费提供礼盒和贺卡。"
GIFT_TEXT = join_text(GIFT_FRONT, GIFT_BODY)


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return write_kb(tmp_path / "kb")


@pytest.fixture
def index_dir(kb_dir: Path, tmp_path: Path) -> Path:
    build_index(load_kb(kb_dir), HashingEmbedder(), tmp_path / "index")
    return tmp_path / "index"


@pytest.fixture
def ws(kb_dir: Path, index_dir: Path) -> Workspace:
    return Workspace(kb_dir, index_dir, HashingEmbedder())


@pytest.fixture
def ctx(ws: Workspace, tmp_path: Path) -> EditorContext:
    return EditorContext(ws, Previewer(ws), runs_dir=tmp_path / "runs")


def at(day: int, hour: int = 10) -> str:
    return datetime(2026, 11, day, hour, tzinfo=UTC).isoformat()


def _in_range(created: str, since: datetime | None, until: datetime | None) -> bool:
    when = datetime.fromisoformat(created)
    return (since is None or when >= since) and (until is None or when < until)


class FakeFeedbackStore:
    """The read side of `FeedbackStore` over rows given in memory (newest first, like the real one)."""

    def __init__(self, suggestions: list[dict[str, Any]], feedback: list[dict[str, Any]]) -> None:
        self.suggestions = sorted(suggestions, key=lambda r: r["created_at"], reverse=True)
        self.feedback = sorted(feedback, key=lambda r: r["created_at"], reverse=True)

    def suggestion_rows(
        self, *, limit: int = 100, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        return [r for r in self.suggestions if _in_range(r["created_at"], since, until)][:limit]

    def feedback_rows(
        self,
        *,
        suggestion_id: str | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        served = {r["id"]: r["created_at"] for r in self.suggestions}
        return [
            r
            for r in self.feedback
            if suggestion_id in (None, r["suggestion_id"]) and _in_range(served[r["suggestion_id"]], since, until)
        ][:limit]

    def stats(self, *, since: datetime | None = None) -> list[dict[str, Any]]:
        rows = self.suggestion_rows(limit=10**6, since=since)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for s in rows:
            done = {f["action"] for f in self.feedback if f["suggestion_id"] == s["id"]}
            for by, keys in (("intent", [s["intent"]]), ("doc", s["citations"])):
                for key in keys:
                    row = out.setdefault(
                        (by, key),
                        {
                            "by": by,
                            "key": key,
                            "served": 0,
                            "shown": 0,
                            "accepted": 0,
                            "edited": 0,
                            "rejected": 0,
                        },
                    )
                    row["served"] += 1
                    for action in ("shown", "accepted", "edited", "rejected"):
                        row[action] += action in done
        return sorted(out.values(), key=lambda r: (r["by"] != "intent", -r["served"], r["key"]))


def suggestion(
    sid: str,
    *,
    day: int,
    intent: str = "return_request",
    citations: tuple[str, ...] = ("policy-return",),
    text: str = "您好，签收后7天内可以申请无理由退货。",
    question: str = "衣服能退吗？",
    request: str | None = None,
) -> dict[str, Any]:
    return {
        "id": sid,
        "request_id": request or f"r-{sid}",
        "rank": 1,
        "style": "concise",
        "text": text,
        "citations": list(citations),
        "intent": intent,
        "emotion": "calm",
        "handoff": False,
        "kb_version": "k1",
        "latency_ms": 12.0,
        "conversation_text": f"客户：{question}",
        "agent_id": "a1",
        "created_at": at(day),
    }


def feedback(
    sid: str, action: str, *, day: int, final_text: str | None = None, distance: int | None = None
) -> dict[str, Any]:
    return {
        "id": hash((sid, action)) % 10**6,
        "suggestion_id": sid,
        "action": action,
        "final_text": final_text,
        "reason": None,
        "agent_id": "a1",
        "edit_distance": distance,
        "created_at": at(day, 11),
    }
