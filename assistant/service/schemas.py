"""Request and response bodies of the HTTP API (CONTRACTS.md §6), with Chinese examples for /openapi.json."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

MAX_TURNS = 200
MAX_TEXT = 20_000  # per turn; the assistant reads at most the first 4,000 characters of a turn

_CONVERSATION: list[JsonValue] = [
    {"role": "customer", "text": "衣服收到了，尺码偏小，能退吗？"},
    {"role": "agent", "text": "您好，请问订单号是多少呢？"},
    {"role": "customer", "text": "20261101xxxx，3天前签收的"},
]
_CONTEXT: dict[str, JsonValue] = {
    "order": {"order_id": "20261101xxxx", "status": "delivered", "days_since_delivery": 3}
}


class StrictBody(BaseModel):
    """Request bodies reject unknown fields, so a misspelt option is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class TurnIn(StrictBody):
    role: Literal["customer", "agent"] = Field(description="Who wrote the turn.")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="What was written.")

    model_config = ConfigDict(json_schema_extra={"examples": [_CONVERSATION[0]]})


class SuggestOptions(StrictBody):
    k: int | None = Field(default=None, ge=1, le=20, description="Documents to retrieve (default: settings).")
    retriever: Literal["hybrid", "dense", "bm25"] | None = Field(
        default=None, description="Retrieval mode (default: settings)."
    )
    agent_id: str | None = Field(default=None, max_length=64, description="The agent asking; stored with feedback.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"k": 5, "agent_id": "kf-007"}]})


class SuggestRequest(StrictBody):
    conversation: list[TurnIn] = Field(
        max_length=MAX_TURNS, description="Oldest first; the last turn must be the customer's."
    )
    context: dict[str, Any] | None = Field(default=None, description="Free-form; `order` when known.")
    options: SuggestOptions = Field(default_factory=SuggestOptions)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"conversation": _CONVERSATION, "context": _CONTEXT, "options": {"agent_id": "kf-007"}},
                {"conversation": [{"role": "customer", "text": "电热水壶保修多久？"}]},
            ]
        }
    )


class FeedbackRequest(StrictBody):
    suggestion_id: str = Field(min_length=1, max_length=64, description="`suggestions[].id` of a /v1/suggest reply.")
    action: Literal["shown", "accepted", "edited", "rejected"]
    final_text: str | None = Field(
        default=None, max_length=MAX_TEXT, description="What the agent sent; required for `edited`."
    )
    reason: str | None = Field(default=None, max_length=500, description="Why it was rejected.")
    agent_id: str | None = Field(default=None, max_length=64)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"suggestion_id": "6cc53bb3c030", "action": "accepted", "agent_id": "kf-007"},
                {
                    "suggestion_id": "6cc53bb3c030",
                    "action": "edited",
                    "agent_id": "kf-007",
                    "final_text": "您好，签收后7天内商品完好可以申请无理由退货，我这边帮您登记一下~",
                },
                {"suggestion_id": "6cc53bb3c030", "action": "rejected", "reason": "答非所问：客户问的是换货"},
            ]
        }
    )


class CheckRequest(StrictBody):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The reply an agent wrote.")
    conversation: list[TurnIn] | None = Field(
        default=None,
        max_length=MAX_TURNS,
        description="The conversation it answers: its numbers count as supported; never echo its PII.",
    )
    context: dict[str, Any] | None = None
    sources: list[str] | None = Field(
        default=None,
        max_length=20,
        description="Passages the reply relies on (e.g. `retrieved[].text` of the last /v1/suggest); "
        "when absent and a conversation is given, they are retrieved.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"text": "亲，这不符合七天无理由退货条件哦", "conversation": _CONVERSATION},
                {"text": "您好，签收后7天内商品完好可以申请无理由退货，请您在订单页提交申请。"},
            ]
        }
    )


# -- responses (documented; the service returns the assistant's own dicts) ----------------------------------


class Citation(BaseModel):
    doc_id: str
    title: str
    quote: str = Field(description="The policy sentence(s) the suggestion relies on.")


class RuleCheck(BaseModel):
    rule: str
    passed: bool
    spans: list[str]
    message: str | None


class Violation(BaseModel):
    rule: str
    span: str
    message: str
    suggestion: str | None = None
    severity: Literal["block", "warn"] = "block"


class SuggestionOut(BaseModel):
    id: str
    style: str = Field(description="concise | options | detailed | next_steps | holding | brief")
    text: str
    drafter: str
    citations: list[Citation]
    passed: bool
    checks: list[RuleCheck]
    violations: list[Violation]


class IntentOut(BaseModel):
    name: str
    confidence: float


class HandoffOut(BaseModel):
    recommended: bool
    reason: str | None  # the label shown to the agent
    code: str | None = None  # the reason's code in the KB's rules.yaml (handoff.reasons)
    signals: list[str] = []  # the conditions that decided it
    priority: Literal["urgent", "high", "normal"] | None = Field(
        default=None, description="The handoff as a ticket: its priority (rules.yaml: tickets); null without a handoff."
    )
    due_at: str | None = Field(default=None, description="ISO 8601: when the ticket is due (request + due_hours).")
    due_hours: float | None = None
    team: str | None = Field(default=None, description="The helpdesk team the KB names for the reason.")


class SearchHit(BaseModel):
    doc_id: str
    chunk_id: str
    title: str
    text: str
    score: float

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "doc_id": "policy-return-7day",
                    "chunk_id": "policy-return-7day#0",
                    "title": "七天无理由退货规则",
                    "text": "签收后7天内，商品完好可以申请无理由退货。",
                    "score": 0.032787,
                }
            ]
        }
    )


class SuggestResponse(BaseModel):
    request_id: str
    query: str
    intent: IntentOut
    emotion: Literal["calm", "anxious", "angry"]
    handoff: HandoffOut
    suggestions: list[SuggestionOut]
    retrieved: list[SearchHit]
    latency_ms: dict[str, float]
    kb_version: str
    notes: list[str]


class CheckResponse(BaseModel):
    passed: bool
    violations: list[Violation]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "passed": False,
                    "violations": [
                        {
                            "rule": "banned_phrases",
                            "span": "亲，这不符合",
                            "message": "机械式拒绝，先说明可以做什么",
                            "suggestion": "根据店铺的售后规则，这种情况暂时无法按原方式处理，"
                            "不过我们可以帮您看看其他方案",
                            "severity": "block",
                        }
                    ],
                }
            ]
        }
    )


class FeedbackRow(BaseModel):
    """The stored feedback row (the store may add fields)."""

    id: int | None = None
    suggestion_id: str
    action: str
    final_text: str | None = Field(default=None, description="As stored: personal data masked.")
    reason: str | None = None
    agent_id: str | None = None
    edit_distance: int | None = Field(default=None, description="Characters changed from the suggestion.")
    created_at: str | None = None
    request_id: str | None = Field(default=None, description="The X-Request-ID the event was sent with.")

    model_config = ConfigDict(extra="allow")


class ModelInfo(BaseModel):
    name: str
    id: str
    query_encoder: str | None = Field(
        default=None, description="what embeds queries: onnx-int8 or torch (null for embedders without the choice)"
    )


class IndexInfo(BaseModel):
    generation: str
    n_chunks: int
    n_docs: int
    created: str
    kb_fingerprint: str
    dense_kind: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    model: ModelInfo
    index: IndexInfo
    kb: dict[str, Any] = Field(description="version (fingerprint) and the number of published documents")
    store: dict[str, bool]
    reload: dict[str, Any]
    auth: Literal["keys", "open"]


class ErrorDetail(BaseModel):
    code: str
    message: str
    request_id: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "bad_conversation",
                        "request_id": "3f2a9c0d1e4b",
                        "message": "the last turn must be the customer's: suggestions answer the customer",
                    }
                }
            ]
        }
    )


class SentRequest(StrictBody):
    """What the agent sent after the suggestions of a request (e.g. seen by a helpdesk app), to be matched."""

    request_id: str = Field(min_length=1, max_length=64, description="`request_id` of the /v1/suggest reply.")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The reply the agent sent to the customer.")
    agent_id: str | None = Field(default=None, max_length=64)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"request_id": "a1b2c3d4e5f60718", "text": "您好，签收后7天内可以申请无理由退货~"}]
        }
    )


class SentResult(BaseModel):
    """How the sent reply was recorded: `accepted` (a suggestion as it was), `edited` (a close edit of
    `suggestion_id`, `edit_distance` characters changed), `ignored` (nothing close; recorded on every
    suggestion), or `none` when a sent reply was already recorded for this request."""

    action: Literal["accepted", "edited", "ignored", "none"]
    suggestion_id: str | None = None
    edit_distance: int | None = None


class Readiness(BaseModel):
    """GET /readyz: 200 when this replica can serve, else 503 (a load balancer then sends traffic elsewhere)."""

    ready: bool
    checks: dict[str, bool | None] = Field(
        description="index (loaded), database (the feedback store answers), redis (the shared rate-limit store "
        "answers; null when KEFU_REDIS_URL is not set)",
        examples=[{"index": True, "database": True, "redis": True}],
    )


class FollowupRequest(StrictBody):
    """A resolved conversation whose 回访 (follow-up) is to be drafted."""

    conversation: list[TurnIn] = Field(
        min_length=1, max_length=MAX_TURNS, description="Oldest first, as /v1/suggest takes it; may end with the agent."
    )
    outcome: str | None = Field(
        default=None,
        max_length=500,
        description="What was done: an outcome of the KB's rules.yaml (followup.outcomes: reship, refund, …) or "
        "in words (已补发); without it, it is read from the agent's turns.",
    )
    resolved_at: AwareDatetime | None = Field(
        default=None, description="When the problem was resolved (ISO 8601 with a time zone); default: now."
    )
    context: dict[str, Any] | None = Field(default=None, description="Free-form; kept for symmetry with /v1/suggest.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "conversation": [
                        {"role": "customer", "text": "收到的车厘子好多烂的，咋办"},
                        {"role": "agent", "text": "非常抱歉，已经为您安排补发"},
                    ],
                    "outcome": "reship",
                    "resolved_at": "2026-12-05T10:00:00+08:00",
                }
            ]
        }
    )


class FollowupProblem(BaseModel):
    text: str = Field(description="The problem as the draft names it, e.g. 车厘子变质")
    source: Literal["lexicon", "intent", "default"]
    product: str | None = None


class FollowupOutcome(BaseModel):
    code: str
    source: Literal["request", "conversation", "default"]


class FollowupResponse(BaseModel):
    request_id: str
    text: str
    citations: list[Citation]
    passed: bool
    checks: list[RuleCheck]
    violations: list[Violation]
    problem: FollowupProblem
    intent: str
    outcome: FollowupOutcome
    resolved_at: str
    send_after: str = Field(description="ISO 8601: the window opens (resolution + window_hours[0])")
    due_at: str = Field(description="ISO 8601: the follow-up is due (resolution + window_hours[1])")
    kb_version: str
