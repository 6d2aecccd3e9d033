"""The planted faults with the real model: Kefu's reading of each moment (intent, handoff) is the served one."""

from __future__ import annotations

import pytest

from assistant.pipeline import Assistant
from evals.qa.checks import QualityChecker
from evals.qa.conversations import read_conversations
from evals.qa.runner import summarize
from indexer.index import Index
from kb import KnowledgeBase
from tests.evals.qa.conftest import CONVERSATIONS
from tests.evals.qa.test_checks import PLANTED

pytestmark = pytest.mark.model


def test_planted_faults_and_the_clean_agent_with_the_real_model(real_demo_index: Index, demo_kb: KnowledgeBase) -> None:
    checker = QualityChecker(Assistant(real_demo_index, demo_kb, k=10), demo_kb.rules.qa, demo_kb.rules.emotion)
    reviews = {c.id: checker.run(c) for c in read_conversations(CONVERSATIONS)}
    for conversation_id, (index, rule, _) in PLANTED.items():
        turn = next(t for t in reviews[conversation_id].turns if t.index == index)
        assert rule in turn.rules_failed, (conversation_id, turn.violations)
    clean = summarize([r for r in reviews.values() if r.conversation.agent_id == "clean"])
    assert clean["pass_rate"] >= 0.95
