"""A handoff as a ticket: priority and due time from the KB's `tickets` (assistant/ticket.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assistant.pipeline import Assistant
from assistant.ticket import TicketPolicy
from kb import demo_kb_dir, load_rules_and_intents, parse_rules

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy() -> TicketPolicy:
    rules, _ = load_rules_and_intents(demo_kb_dir())
    assert rules.tickets is not None
    return TicketPolicy(rules.tickets)


@pytest.mark.parametrize(
    ("reason", "intent", "priority", "hours", "team"),
    [
        ("threat", "other", "urgent", 2, "投诉专员"),
        ("safety", "quality_issue", "urgent", 2, None),
        ("customer_request", "complaint", "urgent", 2, None),  # a complaint is urgent whatever the reason
        ("dispute", "return_request", "high", 48, None),
        ("repeated", "logistics_delay", "high", 48, None),
        ("customer_request", "other", "normal", 24, None),
        ("needs_order_data", "order_status", "normal", 24, None),
    ],
)
def test_the_shipped_grading_rules(
    policy: TicketPolicy, reason: str, intent: str, priority: str, hours: int, team: str | None
) -> None:
    ticket = policy.run(reason=reason, intent=intent, now=NOW)
    assert (ticket.priority, ticket.due_at, ticket.team, ticket.label) == (
        priority,
        NOW + timedelta(hours=hours),
        team,
        f"kefu-{reason}",
    )


def test_the_windows_are_the_kbs_not_the_codes() -> None:
    rules = parse_rules(
        {"tickets": {"due_hours": {"urgent": 1, "high": 8, "normal": 72}, "reasons": {"dispute": "high"}}}
    )
    assert rules.tickets is not None
    policy = TicketPolicy(rules.tickets)
    assert policy.run(reason="dispute", intent=None, now=NOW).due_at == NOW + timedelta(hours=8)
    assert policy.run(reason="threat", intent=None, now=NOW).priority == "normal"  # this KB lists no threat


def test_a_naive_clock_is_refused(policy: TicketPolicy) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        policy.run(reason="threat", intent=None, now=datetime(2026, 12, 5, 8, 0))


def test_suggest_carries_the_ticket_of_a_handoff(demo_assistant: Assistant) -> None:
    threat = demo_assistant.run(conversation=[{"role": "customer", "text": "再不给我处理我就去法院起诉你们"}], now=NOW)
    handoff = threat.to_dict()["handoff"]
    assert handoff["code"] == "threat"
    assert (handoff["priority"], handoff["due_at"], handoff["team"]) == (
        "urgent",
        "2026-12-05T10:00:00+00:00",
        "投诉专员",
    )
    calm = demo_assistant.run(conversation=[{"role": "customer", "text": "电热水壶保修多久？"}], now=NOW).to_dict()
    assert calm["handoff"]["recommended"] is False
    assert (calm["handoff"]["priority"], calm["handoff"]["due_at"]) == (None, None)
