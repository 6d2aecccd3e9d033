"""The daily sample of 质检: a share of each agent's conversations of each day, the same on every run.

Which conversations are drawn depends only on the seed, the agent, the day and the conversation ids, not on the
order of the input or on the other days, so re-running a day (or a file with more days) draws the same ones.

>>> picked = daily_sample(conversations, rate=0.2, seed=0)
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from evals.qa.conversations import QAConversation


def _draw(seed: int, agent_id: str, day: date, conversation_id: str) -> str:
    return hashlib.sha256(f"{seed}\x00{agent_id}\x00{day.isoformat()}\x00{conversation_id}".encode()).hexdigest()


def daily_sample(conversations: Sequence[QAConversation], *, rate: float, seed: int = 0) -> list[QAConversation]:
    """ceil(rate × n) of the n conversations of each agent and day (at least one), in input order."""
    if not 0 < rate <= 1:
        raise ValueError(f"--sample {rate} is not a share of conversations; give one above 0 and at most 1, e.g. 0.2")
    groups: dict[tuple[str, date], list[QAConversation]] = defaultdict(list)
    for c in conversations:
        groups[(c.agent_id, c.day)].append(c)
    chosen: set[str] = set()
    for (agent_id, day), group in groups.items():
        ranked = sorted(group, key=lambda c: _draw(seed, agent_id, day, c.id))
        chosen.update(c.id for c in ranked[: max(1, math.ceil(rate * len(group) - 1e-9))])
    return [c for c in conversations if c.id in chosen]
