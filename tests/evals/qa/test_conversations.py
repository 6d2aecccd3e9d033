"""The 质检 input format: every bad line reported with its file and line, nothing half-read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.errors import QAInputError
from evals.qa.conversations import read_conversations
from tests.evals.qa.conftest import CONVERSATIONS

GOOD = {"id": "c1", "agent_id": "a1", "turns": [
    {"role": "customer", "text": "在吗", "at": "2026-12-01T09:00:00+08:00"},
    {"role": "agent", "text": "您好", "at": "2026-12-01T09:00:05+08:00"}]}  # fmt: skip


def _write(tmp_path: Path, *lines: object) -> Path:
    path = tmp_path / "c.jsonl"
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
        encoding="utf-8",
    )
    return path


def test_the_fixture_reads_with_times_and_days() -> None:
    conversations = read_conversations(CONVERSATIONS)
    assert len(conversations) == 18
    first = conversations[0]
    assert first.agent_id == "clean" and first.day.isoformat() == "2026-12-01"
    assert first.turns[1].at.utcoffset() is not None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "not JSON"),
        ({"id": "x", "turns": []}, "lacks agent_id"),
        ({**GOOD, "turns": []}, "'turns' must be a non-empty list"),
        ({**GOOD, "turns": [{"role": "bot", "text": "hi", "at": "2026-12-01T09:00:00Z"}]}, "role 'bot'"),
        ({**GOOD, "turns": [{"role": "agent", "text": " ", "at": "2026-12-01T09:00:00Z"}]}, "non-empty string"),
        ({**GOOD, "turns": [{"role": "agent", "text": "您好", "at": "2026-12-01 9点"}]}, "not ISO 8601"),
        ({**GOOD, "turns": [{"role": "agent", "text": "您好", "at": "2026-12-01T09:00:00"}]}, "no time zone"),
        ({**GOOD, "turns": list(reversed(GOOD["turns"]))}, "before turns[0].at"),  # type: ignore[call-overload]
    ],
)
def test_a_bad_line_is_named_with_its_file_and_line(tmp_path: Path, bad: object, message: str) -> None:
    path = _write(tmp_path, GOOD, bad)
    with pytest.raises(QAInputError) as e:
        read_conversations(path)
    assert f"{path}:2: " in str(e.value) and message in str(e.value)
    assert f"{path}:1" not in str(e.value)


def test_every_problem_is_reported_at_once_and_ids_are_unique(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD, "[]", GOOD)
    with pytest.raises(QAInputError) as e:
        read_conversations(path)
    assert e.value.problems == [
        f"{path}:2: a conversation is a JSON object with id, agent_id and turns",
        f"{path}:3: id 'c1' is already used at {path}:1; ids must be unique",
    ]


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(QAInputError, match="no conversations"):
        read_conversations(_write(tmp_path, ""))


def test_context_is_optional_and_must_be_an_object(tmp_path: Path) -> None:
    (conv,) = read_conversations(_write(tmp_path, {**GOOD, "context": {"order": {"paid": 258}}}))
    assert conv.context == {"order": {"paid": 258}}
    with pytest.raises(QAInputError, match="'context' must be an object"):
        read_conversations(_write(tmp_path, {**GOOD, "context": "A1"}))
