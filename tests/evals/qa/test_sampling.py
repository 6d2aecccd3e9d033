"""The daily sample: a share of each agent's conversations of each day, the same ones on every run."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from evals.qa.conversations import QAConversation, QATurn
from evals.qa.sampling import daily_sample


def _conversations() -> list[QAConversation]:
    out = []
    for agent in ("a", "b"):
        for day in range(3):
            for n in range(10):
                at = datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(days=day, minutes=n)
                out.append(QAConversation(f"{agent}-{day}-{n}", agent, (QATurn("customer", "在吗", at),)))
    return out


def test_each_agent_and_day_gets_its_share() -> None:
    picked = daily_sample(_conversations(), rate=0.2, seed=7)
    per_group: dict[tuple[str, str], int] = {}
    for c in picked:
        per_group[(c.agent_id, c.day.isoformat())] = per_group.get((c.agent_id, c.day.isoformat()), 0) + 1
    assert per_group == {(a, f"2026-12-0{d}"): 2 for a in "ab" for d in (1, 2, 3)}


def test_the_sample_is_stable_across_runs_order_and_other_days() -> None:
    convs = _conversations()
    first = {c.id for c in daily_sample(convs, rate=0.2, seed=7)}
    shuffled = convs[:]
    random.Random(1).shuffle(shuffled)
    assert {c.id for c in daily_sample(shuffled, rate=0.2, seed=7)} == first
    one_day = [c for c in convs if c.day.isoformat() == "2026-12-02"]
    assert {c.id for c in daily_sample(one_day, rate=0.2, seed=7)} == {i for i in first if "-1-" in i}
    assert {c.id for c in daily_sample(convs, rate=0.2, seed=8)} != first  # the seed decides


def test_a_small_day_still_gets_one_and_the_rate_is_checked() -> None:
    convs = _conversations()[:3]
    assert len(daily_sample(convs, rate=0.2)) == 1
    with pytest.raises(ValueError, match="above 0"):
        daily_sample(convs, rate=0)
