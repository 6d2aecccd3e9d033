"""A handoff as a ticket: its priority, when it is due, and the team that takes it (the KB's `tickets`).

The grading rules are the KB's (`rules.yaml` → tickets, see `kb.rules.Tickets`); this module applies them to
one handoff at one moment:

>>> TicketPolicy(kb.rules.tickets).run(reason="threat", intent="complaint", now=now)
Ticket(priority='urgent', due_at=now + 2 h, due_hours=2.0, team='投诉专员', label='kefu-threat')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kb.rules import Priority, Tickets

LABEL_PREFIX = "kefu-"


@dataclass(frozen=True)
class Ticket:
    priority: Priority
    due_at: datetime  # timezone-aware
    due_hours: float
    team: str | None  # the helpdesk team the KB names for the reason
    label: str  # the helpdesk label of the reason, kefu-<reason code>

    def to_dict(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "due_at": self.due_at.isoformat(timespec="seconds"),
            "due_hours": self.due_hours,
            "team": self.team,
            "label": self.label,
        }


class TicketPolicy:
    """Applies one KB's ticket table to handoffs."""

    def __init__(self, table: Tickets) -> None:
        self.table = table

    def run(self, *, reason: str, intent: str | None, now: datetime) -> Ticket:
        if now.tzinfo is None:
            raise ValueError("`now` must be timezone-aware (e.g. datetime.now(UTC))")
        priority = self.table.priority(reason, intent)
        hours = self.table.due_hours[priority]
        return Ticket(
            priority=priority,
            due_at=now + timedelta(hours=hours),
            due_hours=hours,
            team=self.table.teams.get(reason),
            label=LABEL_PREFIX + reason,
        )
