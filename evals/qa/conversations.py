"""Agents' conversations for 质检, one JSON object a line (proposed CONTRACTS extension, NOTES.md issue 19):

    {"id": "c-001", "agent_id": "a7", "turns": [
        {"role": "customer", "text": "在吗？收到的杯子碎了", "at": "2026-12-01T09:30:05+08:00"},
        {"role": "agent", "text": "您好，非常抱歉……", "at": "2026-12-01T09:30:14+08:00"}]}

`at` is ISO 8601 with a time zone (a time without one is ambiguous across shops and servers); turns are oldest
first. `context` is optional, as in an eval set (CONTRACTS.md §3): `context.order` holds what the agent saw of the
order, so its figures count as supported. Every problem is reported with its file and line before anything is checked or written.

>>> conversations = read_conversations(Path("tests/evals/qa/conversations.jsonl"))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from assistant.result import Turn
from evals.errors import QAInputError

ROLES = ("customer", "agent")
KEYS = ("id", "agent_id", "turns")
TURN_KEYS = ("role", "text", "at")
MAX_TURNS = 500


@dataclass(frozen=True)
class QATurn:
    role: str  # customer | agent
    text: str
    at: datetime  # timezone-aware

    def as_turn(self) -> Turn:
        return Turn(self.role, self.text)


@dataclass(frozen=True)
class QAConversation:
    id: str
    agent_id: str
    turns: tuple[QATurn, ...]
    where: str = ""  # file:line (or the source's own reference) for messages
    context: dict[str, Any] | None = None  # e.g. {"order": {...}}, as in an eval set

    @property
    def day(self) -> date:
        """The day the conversation started, in the time zone of its first turn."""
        return self.turns[0].at.date()


def _when(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"'at' must be an ISO 8601 string, got {value!r}")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'at' {value!r} is not ISO 8601 (e.g. 2026-12-01T09:30:05+08:00)") from None
    if at.tzinfo is None:
        raise ValueError(f"'at' {value!r} has no time zone; add one, e.g. +08:00 or Z")
    return at


def _turn(n: int, raw: Any) -> QATurn:
    if not isinstance(raw, Mapping):
        raise ValueError(f"turns[{n}] must be an object with role, text and at")
    missing = [k for k in TURN_KEYS if k not in raw]
    if missing:
        raise ValueError(f"turns[{n}] lacks {', '.join(missing)}")
    if raw["role"] not in ROLES:
        raise ValueError(f"turns[{n}].role {raw['role']!r} is not 'customer' or 'agent'")
    if not isinstance(raw["text"], str) or not raw["text"].strip():
        raise ValueError(f"turns[{n}].text must be a non-empty string")
    try:
        at = _when(raw["at"])
    except ValueError as e:
        raise ValueError(f"turns[{n}]: {e}") from None
    return QATurn(str(raw["role"]), raw["text"].strip(), at)


def parse_conversation(raw: Any, where: str = "") -> QAConversation:
    """One conversation record, validated; `ValueError` says what is wrong (the caller adds where)."""
    if not isinstance(raw, Mapping):
        raise ValueError("a conversation is a JSON object with id, agent_id and turns")
    missing = [k for k in KEYS if k not in raw]
    if missing:
        raise ValueError(f'lacks {", ".join(missing)} (a line is {{"id", "agent_id", "turns": [...]}})')
    for key in ("id", "agent_id"):
        if not isinstance(raw[key], str | int) or isinstance(raw[key], bool) or not str(raw[key]).strip():
            raise ValueError(f"'{key}' must be a non-empty string")
    turns = raw["turns"]
    if not isinstance(turns, list) or not turns:
        raise ValueError("'turns' must be a non-empty list")
    if len(turns) > MAX_TURNS:
        raise ValueError(f"has {len(turns)} turns; the limit is {MAX_TURNS}: split the conversation")
    context = raw.get("context")
    if context is not None and not isinstance(context, dict):
        raise ValueError("'context' must be an object (e.g. {\"order\": {...}}) when given")
    parsed = [_turn(n, t) for n, t in enumerate(turns)]
    for n in range(1, len(parsed)):
        if parsed[n].at < parsed[n - 1].at:
            raise ValueError(
                f"turns[{n}].at {parsed[n].at.isoformat()} is before turns[{n - 1}].at; turns go oldest first"
            )
    return QAConversation(str(raw["id"]).strip(), str(raw["agent_id"]).strip(), tuple(parsed), where, context)


def validate_records(
    records: Iterable[tuple[str, Any]], source: str, problems: Iterable[str] = ()
) -> list[QAConversation]:
    """Records as (where, object) → conversations, ids unique; every problem at once (`QAInputError`, with
    `problems` found before, e.g. lines that are not JSON)."""
    out: list[QAConversation] = []
    found = list(problems)
    seen: dict[str, str] = {}
    for where, raw in records:
        try:
            conv = parse_conversation(raw, where)
        except ValueError as e:
            found.append(f"{where}: {e}")
            continue
        if conv.id in seen:
            found.append(f"{where}: id {conv.id!r} is already used at {seen[conv.id]}; ids must be unique")
            continue
        seen[conv.id] = where
        out.append(conv)
    if found:
        found.sort(key=_line_number)
        raise QAInputError(source, found)
    return out


def _line_number(problem: str) -> int:
    head = problem.split(": ", 1)[0].rsplit(":", 1)
    return int(head[1]) if len(head) == 2 and head[1].isdigit() else 0


def read_conversations(path: Path) -> list[QAConversation]:
    """Every conversation of a JSONL file; `QAInputError` lists each bad line as FILE:LINE: what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise QAInputError(path, [f"{path}: not UTF-8 ({e.reason} at byte {e.start})"]) from None
    except OSError as e:
        raise QAInputError(path, [f"{path}: cannot be read ({e.strerror})"]) from None
    records: list[tuple[str, Any]] = []
    problems: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append((f"{path}:{n}", json.loads(line)))
        except ValueError as e:
            problems.append(f"{path}:{n}: not JSON ({e})")
    conversations = validate_records(records, str(path), problems)
    if not conversations:
        raise QAInputError(path, [f"{path}: no conversations (one JSON object a line)"])
    return conversations
