"""What the assistant returns: the `kefu suggest --json` / `POST /v1/suggest` object."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.ticket import Ticket

EMOTIONS = ("calm", "anxious", "angry")


@dataclass(frozen=True)
class Turn:
    role: str  # customer | agent
    text: str


@dataclass(frozen=True)
class Violation:
    rule: str
    span: str
    message: str
    suggestion: str | None = None
    severity: str = "block"  # block | warn


@dataclass(frozen=True)
class CheckResult:
    """The guard's verdict on one reply text."""

    passed: bool
    violations: tuple[Violation, ...] = ()
    rules_checked: tuple[str, ...] = ()
    fixed_text: str | None = None  # the text after safe automatic fixes, when any were made

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "violations": [asdict(v) for v in self.violations]}

    def as_checks(self) -> list[dict[str, Any]]:
        """One entry per rule checked: passed or not, with the offending spans."""
        out = []
        for rule in self.rules_checked:
            vs = [v for v in self.violations if v.rule == rule]
            out.append(
                {
                    "rule": rule,
                    "passed": not any(v.severity == "block" for v in vs),
                    "spans": [v.span for v in vs],
                    "message": vs[0].message if vs else None,
                }
            )
        return out


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    quote: str


@dataclass(frozen=True)
class Suggestion:
    id: str
    style: str  # concise | options | next_steps | holding
    text: str
    citations: tuple[Citation, ...]
    check: CheckResult
    drafter: str = "template"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "style": self.style,
            "text": self.text,
            "drafter": self.drafter,
            "citations": [asdict(c) for c in self.citations],
            "passed": self.check.passed,
            "checks": self.check.as_checks(),
            "violations": self.check.to_dict()["violations"],
        }


@dataclass(frozen=True)
class Result:
    query: str
    intent: str
    intent_confidence: float
    emotion: str
    handoff: bool
    handoff_reason: str | None
    suggestions: tuple[Suggestion, ...]
    retrieved: tuple[dict[str, Any], ...]
    latency_ms: dict[str, float]
    kb_version: str
    notes: tuple[str, ...] = field(default_factory=tuple)  # e.g. why an LLM draft was replaced
    retrieval_confidence: float = 0.0  # best query-passage cosine; low = the KB likely can't answer
    handoff_reason_code: str | None = None  # the code behind `handoff_reason` (e.g. "threat"), for evals
    handoff_code: str | None = None  # the reason's code in the KB's rules.yaml, e.g. needs_order_data
    handoff_signals: tuple[str, ...] = ()  # the conditions that decided it, e.g. ("intent=order_status", ...)
    ticket: Ticket | None = None  # a handoff's priority, due time and team (the KB's `tickets`)

    @property
    def retrieved_doc_ids(self) -> list[str]:
        return [str(r["doc_id"]) for r in self.retrieved]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "intent": {"name": self.intent, "confidence": round(self.intent_confidence, 4)},
            "emotion": self.emotion,
            "handoff": {
                "recommended": self.handoff,
                "reason": self.handoff_reason,
                "code": self.handoff_code,
                "signals": list(self.handoff_signals),
                # A handoff as a ticket (null without a handoff): priority, due_at (ISO 8601), due_hours, team.
                **_ticket_fields(self.ticket),
            },
            "suggestions": [s.to_dict() for s in self.suggestions],
            "retrieved": list(self.retrieved),
            "latency_ms": {k: round(v, 2) for k, v in self.latency_ms.items()},
            "kb_version": self.kb_version,
            "retrieval_confidence": round(self.retrieval_confidence, 4),
            "notes": list(self.notes),
        }


def _ticket_fields(ticket: Ticket | None) -> dict[str, Any]:
    if ticket is None:
        return {"priority": None, "due_at": None, "due_hours": None, "team": None}
    fields = ticket.to_dict()
    return {k: fields[k] for k in ("priority", "due_at", "due_hours", "team")}
