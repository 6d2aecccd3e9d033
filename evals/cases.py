"""Eval cases (CONTRACTS.md §3): one JSON object per line, read with line-numbered errors and warnings.

A key the contract does not name (a set's own annotations, `label_note`, `source`) is kept in `extra` and
ignored, with a warning naming it; a near-miss of a known key (`must_includes`) gets a "did you mean" hint.
"""

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
EXPECTED_KEYS = (
    "intent",
    "emotion",
    "doc_ids",
    "must_include",
    "must_not_include",
    "handoff",
    "handoff_reason",
    "polarity",
)
POLARITIES = ("yes", "no")
# The assistant's handoff reason codes; `expected.handoff_reason` accepts any string and is reported per value.
HANDOFF_REASONS = (
    "customer_request",
    "threat",
    "exceeds_authority",
    "injection",
    "abuse",
    "repeated",
    "no_answer",
    "needs_order_data",
    "dispute",
    "safety",
)


@dataclass(frozen=True)
class Expected:
    """What a case expects; None = not labelled, so the case does not count for that metric."""

    intent: str | None = None
    emotion: str | None = None
    doc_ids: tuple[str, ...] | None = None
    must_include: tuple[str, ...] | None = None
    must_not_include: tuple[str, ...] | None = None
    handoff: bool | None = None
    handoff_reason: str | None = None
    polarity: str | None = None  # yes | no: the stance the top suggestion must take on a yes/no question

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k in EXPECTED_KEYS if (v := getattr(self, k)) is not None}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an eval set, at a line (0 = the file as a whole)."""

    line: int
    message: str
    case_id: str | None = None
    warning: bool = False  # kept and ignored (e.g. an unknown key); the set still loads

    def __str__(self) -> str:
        text = f"warning: {self.message}" if self.warning else self.message
        if not self.line:
            return text
        return f"line {self.line}" + (f" ({self.case_id})" if self.case_id else "") + f": {text}"


@dataclass(frozen=True)
class EvalCase:
    id: str
    conversation: tuple[Turn, ...]
    context: dict[str, Any] | None = None
    expected: Expected = field(default_factory=Expected)
    line: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # keys the contract does not name, kept as they were


def split_alternatives(entry: str) -> list[str]:
    """`"7天|七天"` → `["7天", "七天"]`: an expectation that any one of the alternatives satisfies."""
    return [a for a in (p.strip() for p in entry.split("|")) if a]


def _unknown(keys: list[str], known: tuple[str, ...], where: str) -> list[str]:
    """A warning per key outside `known`: kept and ignored, with a hint when it looks like a typo."""
    out = []
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(known)}"
            out.append(f"unknown key {where}'{key}' is ignored ({hint})")
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


def _parse_expected(raw: Any, problems: list[str], warnings: list[str]) -> Expected:
    if raw is None:
        return Expected()
    if not isinstance(raw, dict):
        problems.append('\'expected\' must be an object like {"intent": "return_request"}')
        return Expected()
    warnings.extend(_unknown(list(raw), EXPECTED_KEYS, "in expected: "))
    values: dict[str, Any] = {}
    intent = raw.get("intent")
    if intent is not None:
        if isinstance(intent, str) and intent.strip():
            values["intent"] = intent
        else:
            problems.append(f"expected.intent must be an intent name, got {json.dumps(intent, ensure_ascii=False)}")
    for key, choices in (("emotion", EMOTIONS), ("polarity", POLARITIES)):
        value = raw.get(key)
        if value is None:
            continue
        if value in choices:
            values[key] = value
        else:
            problems.append(
                f"expected.{key} {json.dumps(value, ensure_ascii=False)} is not one of {', '.join(choices)}"
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
    reason = raw.get("handoff_reason")
    if reason is not None:
        if not isinstance(reason, str) or not reason.strip():
            problems.append(f"expected.handoff_reason must be a reason code such as 'threat', got {json.dumps(reason)}")
        elif handoff is not True:
            problems.append('expected.handoff_reason needs "handoff": true (it says why a person is needed)')
        else:
            values["handoff_reason"] = reason
            close = difflib.get_close_matches(reason, HANDOFF_REASONS, n=1)
            if reason not in HANDOFF_REASONS and close:
                warnings.append(f"expected.handoff_reason '{reason}' is not a known code (did you mean '{close[0]}'?)")
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


def parse_case(raw: Any, line: int) -> tuple[EvalCase | None, list[str], list[str]]:
    """One decoded JSON line → the case (None when there are problems), the problems and the warnings found,
    without the line prefix."""
    if not isinstance(raw, dict):
        return None, ["a case must be a JSON object with 'conversation' (and 'id', 'context', 'expected')"], []
    problems: list[str] = []
    warnings = _unknown(list(raw), CASE_KEYS, "")
    case_id = raw.get("id", f"line-{line}")
    if not isinstance(case_id, str) or not case_id.strip():
        problems.append(f"'id' must be a non-empty string, got {json.dumps(case_id, ensure_ascii=False)}")
    conversation = _parse_conversation(raw.get("conversation"), problems)
    context = raw.get("context")
    if context is not None and not isinstance(context, dict):
        problems.append('\'context\' must be an object, e.g. {"order": {"status": "delivered"}}')
    expected = _parse_expected(raw.get("expected"), problems, warnings)
    if problems:
        return None, problems, warnings
    extra = {k: v for k, v in raw.items() if k not in CASE_KEYS}
    case = EvalCase(
        id=str(case_id), conversation=conversation, context=context, expected=expected, line=line, extra=extra
    )
    return case, [], warnings


def parse_cases(path: Path | str) -> tuple[list[EvalCase], list[Problem]]:
    """Every well-formed case of a JSONL file, and one message per problem or warning, each naming its line."""
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
        case, case_problems, case_warnings = parse_case(raw, n)
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        label = raw_id if isinstance(raw_id, str) else None
        problems.extend(Problem(n, p, label) for p in case_problems)
        problems.extend(Problem(n, w, label, warning=True) for w in case_warnings)
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


def read_cases(path: Path | str) -> tuple[list[EvalCase], list[Problem]]:
    """The cases of an eval set and its warnings; EvalSetError listing every error if there is any."""
    cases, problems = parse_cases(path)
    errors = [p for p in problems if not p.warning]
    if errors:
        raise EvalSetError(path, errors)
    return cases, problems


def load_cases(path: Path | str) -> list[EvalCase]:
    """The cases of an eval set (warnings dropped: `read_cases` has them); EvalSetError on any error."""
    return read_cases(path)[0]
