"""Recording what was served: the request's conversation once, and every suggestion (the store masks personal
data in the texts). Used by /v1/suggest and by the helpdesk relay."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.pipeline import MAX_TURN_CHARS
from assistant.result import Result
from assistant.service.store import FeedbackStore, ServedSuggestion

# The conversation is stored for the knowledge-gap view, which reads its last customer turn: the newest
# characters are kept, each turn cut as the assistant cuts it, so masking never sees more than this.
MAX_STORED_CONVERSATION = 8000


def conversation_text(turns: Sequence[dict[str, str]]) -> str:
    names = {"customer": "客户", "agent": "客服"}
    lines: list[str] = []
    size = 0
    for t in reversed(turns):
        line = f"{names[t['role']]}：{t['text'][:MAX_TURN_CHARS]}"
        if lines and size + len(line) > MAX_STORED_CONVERSATION:
            break
        lines.append(line[:MAX_STORED_CONVERSATION])
        size += len(line) + 1
    return "\n".join(reversed(lines))


def record_served(
    store: FeedbackStore,
    result: Result,
    request_id: str,
    conversation: Sequence[dict[str, str]],
    *,
    agent_id: str | None,
    principal: str | None,
    conversation_key: str | None = None,
) -> None:
    """Record the request and every suggestion served; `conversation_key` names its helpdesk conversation."""
    store.record_served(
        request_id=request_id,
        conversation_text=conversation_text(conversation),
        principal=principal,
        conversation_key=conversation_key,
        suggestions=[
            ServedSuggestion(
                suggestion_id=s.id,
                rank=rank,
                style=s.style,
                text=s.text,
                citations=[c.doc_id for c in s.citations],
                intent=result.intent,
                emotion=result.emotion,
                handoff=result.handoff,
                kb_version=result.kb_version,
                latency_ms=result.latency_ms.get("total", 0.0),
                agent_id=agent_id,
            )
            for rank, s in enumerate(result.suggestions, 1)
        ],
    )
