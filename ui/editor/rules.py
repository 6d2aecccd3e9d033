"""Validation of `rules.yaml` (CONTRACTS.md §4) and `intents.yaml` (§2) before the editor saves them."""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path
from typing import Any

import yaml

from assistant.guard import RULES, Guard
from kb import KBError, demo_kb_dir, safe_yaml
from kb.loader import load_intents
from ui.editor.errors import Problem

# Which KB file each editable config lives in, and the history key it is versioned under.
CONFIG_FILES = {"rules": "rules.yaml", "intents": "intents.yaml"}
CONFIG_KEYS = {"rules": "_rules", "intents": "_intents"}
WORD_LIST_RULES = ("vague_words", "negative_framing", "absolute_claims", "insult_echo")
# The intents the assistant's own logic names (handoff, abuse handling); a taxonomy without them still loads.
INTENTS_USED_BY_CODE = ("human_handoff", "complaint", "other")


def default_text(name: str) -> str:
    """The text of the shipped default rules.yaml or intents.yaml."""
    return (demo_kb_dir() / "defaults" / CONFIG_FILES[name]).read_text(encoding="utf-8")


def _parse(text: str) -> tuple[Any, list[Problem]]:
    try:
        return safe_yaml(text), []
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        return None, [Problem(None, f"not valid YAML{line}: {getattr(e, 'problem', e)}")]


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str | int | float) and str(x).strip() for x in value)


def _check_section(key: str, section: Any) -> list[Problem]:
    out: list[Problem] = []
    if key == "banned_phrases":
        if not isinstance(section, list):
            return [Problem(key, "must be a list of {phrase, suggestion, message}")]
        for n, item in enumerate(section, 1):
            if not isinstance(item, dict) or not str(item.get("phrase") or "").strip():
                out.append(Problem(key, f"item #{n} lacks 'phrase' (the words to flag), e.g. '- phrase: 亲，'"))
        return out
    if isinstance(section, list):
        if key in WORD_LIST_RULES and not _strings(section):
            out.append(Problem(key, "must be a list of words, e.g. [可能, 大概]"))
        return out
    if not isinstance(section, dict):
        return [Problem(key, "must be a mapping, e.g. {words: [...], message: ...}")]
    if "enabled" in section and not isinstance(section["enabled"], bool):
        out.append(Problem(key, f"'enabled' must be true or false, not '{section['enabled']}'"))
    if "message" in section and not isinstance(section["message"], str):
        out.append(Problem(key, "'message' must be a text shown to the agent"))
    lists = {"words", "alternatives", "required_any", "compensation_words", "exception_words", "kinds"}
    for name in sorted(lists & set(section)):
        if not _strings(section[name]):
            out.append(Problem(key, f"'{name}' must be a list of words, e.g. [您, 请]"))
    if key in WORD_LIST_RULES and not section.get("words") and section.get("enabled") is not False:
        out.append(
            Problem(
                key,
                "has no 'words': the rule checks nothing (add words or set enabled: false)",
                blocking=False,
            )
        )
    if key == "politeness" and "required_any" in section and not section["required_any"]:
        out.append(Problem(key, "'required_any' is empty; list at least one word such as 您"))
    return out


def validate_rules(text: str) -> list[Problem]:
    """Problems of a rules.yaml text; blocking ones mean the guard would misread or reject it."""
    data, problems = _parse(text)
    if problems:
        return problems
    if not isinstance(data, dict):
        return [Problem(None, "expected a mapping of rule kinds (banned_phrases, vague_words, ...)")]
    for key, section in data.items():
        if key not in RULES:
            close = difflib.get_close_matches(str(key), RULES, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"the guard knows {', '.join(RULES)}"
            problems.append(Problem(str(key), f"unknown rule kind, ignored by the guard; {hint}", blocking=False))
            continue
        if section is not None:
            problems.extend(_check_section(key, section))
    if not any(p.blocking for p in problems):
        try:
            Guard(data).check("您好，请问有什么可以帮您？", sources=["您好"])
        except Exception as e:  # the guard is the judge of its own input: any failure means it cannot run
            problems.append(Problem(None, f"the guard cannot apply these rules: {type(e).__name__}: {e}"))
    missing = [k for k in RULES if k not in data]
    if missing:
        problems.append(Problem(None, f"rule kinds switched off (absent): {', '.join(missing)}", blocking=False))
    return problems


def validate_intents(text: str) -> list[Problem]:
    """Problems of an intents.yaml text, read exactly as the KB loader reads it."""
    _, problems = _parse(text)
    if problems:
        return problems
    with tempfile.TemporaryDirectory(prefix="kefu-intents-") as tmp:
        path = Path(tmp) / "intents.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            intents = load_intents(path)
        except KBError as e:
            return [Problem(None, str(e).replace(f"{path}: ", ""))]
    names = {i.name for i in intents}
    for name in INTENTS_USED_BY_CODE:
        if name not in names:
            problems.append(
                Problem(name, "missing: the assistant's handoff logic looks for this intent", blocking=False)
            )
    seen: dict[str, str] = {}
    for intent in intents:
        if len(intent.examples) < 3:
            problems.append(
                Problem(
                    intent.name,
                    f"has {len(intent.examples)} example(s); the classifier learns "
                    "from them, give at least 3 ways customers really write it",
                    blocking=False,
                )
            )
        for ex in intent.examples:
            if ex in seen and seen[ex] != intent.name:
                problems.append(
                    Problem(intent.name, f"example '{ex}' is also an example of '{seen[ex]}'", blocking=False)
                )
            seen.setdefault(ex, intent.name)
    return problems


def validate_config(name: str, text: str) -> list[Problem]:
    if name not in CONFIG_FILES:
        raise ValueError(f"unknown config '{name}'; use one of {', '.join(CONFIG_FILES)}")
    return validate_rules(text) if name == "rules" else validate_intents(text)
