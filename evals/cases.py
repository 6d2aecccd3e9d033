"""Eval cases (CONTRACTS.md §3): one JSON object per line, read with line-numbered errors."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.result import EMOTIONS, Turn
from evals.errors import EvalError, EvalSetError

ROLES = ("customer", "agent")
CASE_KEYS = ("id", "conversation", "context", "expected")
EXPECTED_KEYS = ("intent", "emotion", "doc_ids", "must_include", "must_not_include", "handoff")


@dataclass(frozen=True)
class Expected:
    """What a case expects; None = not labelled, so the case does not count for that metric."""

    intent: str | None = None
    emotion: str | None = None
    doc_ids: tuple[str, ...] | None = None
    must_include: tuple[str, ...] | None = None
    must_not_include: tuple[str, ...] | None = None
    handoff: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k in EXPECTED_KEYS if (v := getattr(self, k)) is not None}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an eval set, at a line (0 = the file as a whole)."""

    line: int
    message: str
    case_id: str | None = None

    def __str__(self) -> str:
        if not self.line:
            return self.message
        return f"line {self.line}" + (f" ({self.case_id})" if self.case_id else "") + f": {self.message}"


@dataclass(frozen=True)
class EvalCase:
    id: str
    conversation: tuple[Turn, ...]
    context: dict[str, Any] | None = None
    expected: Expected = field(default_factory=Expected)
    line: int = 0


def split_alternatives(entry: str) -> list[str]:
    """`"7天|七天"` → `["7天", "七天"]`: an expectation that any one of the alternatives satisfies."""
    return [a for a in (p.strip() for p in entry.split("|")) if a]


def _unknown(keys: list[str], known: tuple[str, ...], where: str) -> list[str]:
    out = []
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(known)}"
            out.append(f"unknown key {where}'{key}' ({hint})")
    return out


def _string_list(value: Any, key: str, problems: list[str]) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        problems.append(
            f'expected.{key} must be a list of strings, e.g. ["7天|七天"], got {json.dumps(value, ensure_ascii=False)}'
        )
        return None
    for x in value:
        if not split_alternatives(x):
            problems.append(f"expected.{key} has an empty entry {json.dumps(x, ensure_ascii=False)}")
    return tuple(value)


def _parse_expected(raw: Any, problems: list[str]) -> Expected:
    if raw is None:
        return Expected()
    if not isinstance(raw, dict):
        problems.append('\'expected\' must be an object like {"intent": "return_request"}')
        return Expected()
    problems.extend(_unknown(list(raw), EXPECTED_KEYS, "in expected: "))
    values: dict[str, Any] = {}
    intent = raw.get("intent")
    if intent is not None:
        if isinstance(intent, str) and intent.strip():
            values["intent"] = intent
        else:
            problems.append(f"expected.intent must be an intent name, got {json.dumps(intent, ensure_ascii=False)}")
    emotion = raw.get("emotion")
    if emotion is not None:
        if emotion in EMOTIONS:
            values["emotion"] = emotion
        else:
            problems.append(
                f"expected.emotion {json.dumps(emotion, ensure_ascii=False)} is not one of {', '.join(EMOTIONS)}"
            )
    for key in ("doc_ids", "must_include", "must_not_include"):
        if raw.get(key) is not None:
            values[key] = _string_list(raw[key], key, problems)
    handoff = raw.get("handoff")
    if handoff is not None:
        if isinstance(handoff, bool):
            values["handoff"] = handoff
        else:
            problems.append(f"expected.handoff must be true or false, got {json.dumps(handoff, ensure_ascii=False)}")
    return Expected(**values)


def _parse_conversation(raw: Any, problems: list[str]) -> tuple[Turn, ...]:
    if raw is None:
        problems.append('missing \'conversation\' (a list of {"role": "customer", "text": ...} turns)')
        return ()
    if not isinstance(raw, list) or not raw:
        problems.append('\'conversation\' must be a non-empty list of {"role", "text"} turns')
        return ()
    turns = []
    for n, turn in enumerate(raw, 1):
        if not isinstance(turn, dict):
            problems.append(f"conversation turn {n} must be an object with 'role' and 'text'")
            continue
        role, text = turn.get("role"), turn.get("text")
        ok = True
        if role not in ROLES:
            problems.append(
                f"conversation turn {n}: role {json.dumps(role, ensure_ascii=False)} is not one of {', '.join(ROLES)}"
            )
            ok = False
        if not isinstance(text, str) or not text.strip():
            problems.append(f"conversation turn {n}: 'text' must be a non-empty string")
            ok = False
        if ok:
            turns.append(Turn(role=str(role), text=str(text)))
    last = raw[-1]
    if isinstance(last, dict) and last.get("role") in ROLES and last.get("role") != "customer":
        problems.append("the last turn must be the customer's (the message the agent is answering)")
    return tuple(turns)


def parse_case(raw: Any, line: int) -> tuple[EvalCase | None, list[str]]:
    """One decoded JSON line → the case, or None and the problems found (without the line prefix)."""
    if not isinstance(raw, dict):
        return None, ["a case must be a JSON object with 'conversation' (and 'id', 'context', 'expected')"]
    problems = _unknown(list(raw), CASE_KEYS, "")
    case_id = raw.get("id", f"line-{line}")
    if not isinstance(case_id, str) or not case_id.strip():
        problems.append(f"'id' must be a non-empty string, got {json.dumps(case_id, ensure_ascii=False)}")
    conversation = _parse_conversation(raw.get("conversation"), problems)
    context = raw.get("context")
    if context is not None and not isinstance(context, dict):
        problems.append('\'context\' must be an object, e.g. {"order": {"status": "delivered"}}')
    expected = _parse_expected(raw.get("expected"), problems)
    if problems:
        return None, problems
    return EvalCase(id=str(case_id), conversation=conversation, context=context, expected=expected, line=line), []


def parse_cases(path: Path | str) -> tuple[list[EvalCase], list[Problem]]:
    """Every well-formed case of a JSONL file, and one message per problem, each naming its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise EvalError(f"{path}: no such eval set (expected a JSONL file, one case per line)") from e
    except (OSError, UnicodeDecodeError) as e:
        raise EvalError(f"{path}: cannot read the eval set: {e}; save it as UTF-8 JSONL") from e
    cases: list[EvalCase] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(
                Problem(n, f"not valid JSON ({e.msg} at column {e.colno}); each line must hold one whole case")
            )
            continue
        case, case_problems = parse_case(raw, n)
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        label = raw_id if isinstance(raw_id, str) else None
        problems.extend(Problem(n, p, label) for p in case_problems)
        if case is None:
            continue
        if case.id in seen:
            problems.append(
                Problem(n, f"id '{case.id}' is already used on line {seen[case.id]}; ids must be unique", case.id)
            )
            continue
        seen[case.id] = n
        cases.append(case)
    if not cases and not problems:
        problems.append(Problem(0, "no cases: the file is empty (expected one JSON case per line)"))
    return cases, problems


def load_cases(path: Path | str) -> list[EvalCase]:
    """The cases of an eval set; EvalSetError listing every malformed line if there is any."""
    cases, problems = parse_cases(path)
    if problems:
        raise EvalSetError(path, problems)
    return cases
