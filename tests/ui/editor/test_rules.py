import pytest

from ui.editor.rules import default_text, validate_config, validate_intents, validate_rules


def _blocking(problems: list) -> list[str]:  # type: ignore[type-arg]
    return [str(p) for p in problems if p.blocking]


def test_the_shipped_files_validate() -> None:
    assert _blocking(validate_rules(default_text("rules"))) == []
    assert _blocking(validate_intents(default_text("intents"))) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("banned_phrases: [\n", "not valid YAML"),
        ("- a\n- b\n", "mapping of rule kinds"),
        ("banned_phrases: 亲\n", "banned_phrases: must be a list"),
        ("banned_phrases:\n  - suggestion: 您好\n", "item #1 lacks 'phrase'"),
        ("vague_words: {words: 可能}\n", "'words' must be a list"),
        ("vague_words: {words: [可能], enabled: 'no'}\n", "'enabled' must be true or false"),
        ("politeness: {required_any: []}\n", "'required_any' is empty"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(text: str, fragment: str) -> None:
    assert any(fragment in p for p in _blocking(validate_rules(text))), validate_rules(text)


def test_unknown_rule_kinds_are_warnings_with_a_suggestion() -> None:
    problems = validate_rules("vague_word: {words: [可能]}\n")
    assert _blocking(problems) == []
    assert any("did you mean 'vague_words'" in str(p) for p in problems)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("intents: {}\n", "top-level 'intents:' list"),
        ("intents:\n  - stage: general\n", "lacks 'name'"),
        ("intents:\n  - name: a\n    stage: later\n", "stage 'later'"),
        ("intents:\n  - name: a\n    examples: 你好\n", "'examples' must be a list"),
        ("intents:\n  - name: a\n  - name: a\n", "repeated: a"),
    ],
)
def test_bad_intents_are_refused_with_the_reason(text: str, fragment: str) -> None:
    assert any(fragment in p for p in _blocking(validate_intents(text))), validate_intents(text)


def test_thin_intents_are_warned_about() -> None:
    problems = validate_intents(
        "intents:\n  - name: complaint\n    examples: [太差了]\n"
        "  - name: invoice\n    examples: [太差了, 开发票, 要发票]\n"
    )
    assert _blocking(problems) == []
    messages = [str(p) for p in problems]
    assert any(m.startswith("complaint: has 1 example") for m in messages)
    assert any("human_handoff" in m for m in messages)
    assert any("also an example of 'complaint'" in m for m in messages)


def test_unknown_config_name() -> None:
    with pytest.raises(ValueError, match="unknown config"):
        validate_config("prompts", "")
