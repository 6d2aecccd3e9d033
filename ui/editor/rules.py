"""Validation of `rules.yaml` (CONTRACTS.md §4) and `intents.yaml` (§2) before the editor saves them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from assistant.guard import RULES, Guard
from assistant.handoff import HandoffPolicy, Signals
from kb import KBError, KBValidationError, demo_kb_dir, safe_yaml
from kb.loader import load_intents, parse_intents, parse_rules
from kb.rules import BEHAVIOUR_SECTIONS, Rules
from ui.editor.errors import Problem

# Which KB file each editable config lives in, and the history key it is versioned under.
CONFIG_FILES = {"rules": "rules.yaml", "intents": "intents.yaml"}
CONFIG_KEYS = {"rules": "_rules", "intents": "_intents"}
WORD_LIST_RULES = ("vague_words", "negative_framing", "absolute_claims", "insult_echo")
# The intents the pipeline and the default handoff table name; a taxonomy without them still loads.
INTENTS_USED_BY_CODE = ("human_handoff", "complaint", "other")


def _default_path(name: str) -> Path:
    return demo_kb_dir() / "defaults" / CONFIG_FILES[name]


def default_text(name: str) -> str:
    """The text of the shipped default rules.yaml or intents.yaml."""
    return _default_path(name).read_text(encoding="utf-8")


def _parse(text: str) -> tuple[Any, list[Problem]]:
    try:
        return safe_yaml(text), []
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        return None, [Problem(None, f"not valid YAML{line}: {getattr(e, 'problem', e)}")]


def _problems(e: KBError, path: str) -> list[Problem]:
    """The loader's own messages, as editor problems: the key, what is wrong and the fix."""
    if isinstance(e, KBValidationError):
        return [Problem(d.field, d.reason) for d in e.errors]
    return [Problem(None, str(e).removeprefix(f"{path}: "))]


def _warnings(rules: Rules, data: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    for key in WORD_LIST_RULES:
        section = getattr(rules, key)
        if section is not None and section.enabled and not section.words:
            out.append(
                Problem(
                    key, "has no 'words': the rule checks nothing (add words or set enabled: false)", blocking=False
                )
            )
    missing = [k for k in RULES if k not in data]
    if missing:
        out.append(Problem(None, f"rule kinds switched off (absent): {', '.join(missing)}", blocking=False))
    defaulted = [k for k in BEHAVIOUR_SECTIONS if k not in data]
    if defaulted:
        out.append(Problem(None, f"shipped defaults used for: {', '.join(defaulted)}", blocking=False))
    return out


def validate_rules(text: str, intent_names: Iterable[str] | None = None) -> list[Problem]:
    """Problems of a rules.yaml text, read exactly as the KB loader reads it (with `intent_names`, the
    intents the KB's taxonomy defines); blocking ones mean the KB would not load."""
    data, problems = _parse(text)
    if problems:
        return problems
    try:
        rules = parse_rules(data, "rules.yaml", intent_names=intent_names)
    except KBError as e:
        return _problems(e, "rules.yaml")
    problems = _warnings(rules, data)
    try:
        Guard(rules).check("您好，请问有什么可以帮您？", sources=["您好"])
        HandoffPolicy(rules.handoff).run(Signals(latest="您好"))
    except Exception as e:  # the assistant is the judge of its own input: any failure means it cannot run
        problems.append(Problem(None, f"the assistant cannot apply these rules: {type(e).__name__}: {e}"))
    return problems


def validate_intents(text: str, rules_data: Any = None) -> list[Problem]:
    """Problems of an intents.yaml text, read exactly as the KB loader reads it; with `rules_data` (the KB's
    rules.yaml content), also whether those rules name only intents this taxonomy keeps."""
    data, problems = _parse(text)
    if problems:
        return problems
    try:
        intents = parse_intents(data, "intents.yaml")
    except KBError as e:
        return _problems(e, "intents.yaml")
    names = {i.name for i in intents}
    if rules_data is not None:
        try:
            parse_rules(rules_data, "rules.yaml", intent_names=names)
        except KBError as e:
            problems.extend(Problem(p.field, f"rules.yaml {p}") for p in _problems(e, "rules.yaml"))
    for name in INTENTS_USED_BY_CODE:
        if name not in names:
            problems.append(
                Problem(
                    name, "missing: the assistant and the default handoff reasons look for this intent", blocking=False
                )
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


def validate_config(name: str, text: str, kb_dir: Path | None = None) -> list[Problem]:
    """Problems of rules.yaml or intents.yaml; with `kb_dir`, checked against the KB's other file too."""
    if name not in CONFIG_FILES:
        raise ValueError(f"unknown config '{name}'; use one of {', '.join(CONFIG_FILES)}")
    other = kb_dir / CONFIG_FILES["intents" if name == "rules" else "rules"] if kb_dir is not None else None
    if name == "rules":
        return validate_rules(text, _intent_names(other))
    rules_data = _parse(other.read_text(encoding="utf-8"))[0] if other and other.is_file() else None
    return validate_intents(text, rules_data)


def _intent_names(intents_path: Path | None) -> list[str] | None:
    """The intents a KB defines (its own intents.yaml or the defaults); None when unknown."""
    if intents_path is None:
        return None
    try:  # a KB whose intents.yaml is itself broken is told so when that file is saved
        return [i.name for i in load_intents(intents_path if intents_path.is_file() else _default_path("intents"))]
    except KBError:
        return None
