from pathlib import Path

import pytest

from kb import KBValidationError, demo_kb_dir, load_kb
from tests.conftest import write_kb
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
        ("banned_phrases:\n  - suggestion: 您好\n", "banned_phrases[0]: lacks 'phrase'"),
        ("vague_words: {words: 可能}\n", "vague_words.words: must be a list"),
        ("vague_words: {words: [可能], enabled: 'no'}\n", "vague_words.enabled: must be true or false"),
        ("politeness: {required_any: []}\n", "politeness.required_any: is empty"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(text: str, fragment: str) -> None:
    assert any(fragment in p for p in _blocking(validate_rules(text))), validate_rules(text)


def test_unknown_keys_are_refused_with_a_suggestion() -> None:
    # An unknown key used to be ignored: a typo silently switched a rule off.
    assert any("did you mean 'vague_words'" in p for p in _blocking(validate_rules("vague_word: {words: [可能]}\n")))
    assert any(
        "handoff.reasons[0]" in p and "did you mean 'holding'" in p
        for p in _blocking(
            validate_rules(
                "handoff:\n  reasons:\n    - {code: a, label: 甲, holdng: 请稍等, when: [{latest: [人工]}]}\n"
            )
        )
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("emotion: {angry: {words: {生气: 2}}}\n", "emotion: lacks 'anxious' (or delete the whole section"),
        ("emotion: {angry: {words: {生气: 0}}, anxious: {}}\n", "weights must be above 0"),
        (
            "handoff: {reasons: [{code: A, label: 甲, holding: 请稍等, when: [{latest: [人工]}]}]}\n",
            "'A' is not a code",
        ),
        (
            "handoff: {reasons: [{code: a, label: 甲, holding: 请稍等, when: [{latest: ['(']}]}]}\n",
            "regular expression",
        ),
        ("handoff: {reasons: [{code: a, label: 甲, holding: 稍等, when: [{latest: [人工]}]}]}\n", "use 您 or 请"),
        ("handoff: {reasons: [{code: a, label: 甲, holding: 请稍等, when: [{}]}]}\n", "at least one condition"),
        ("intent_behaviour: {quality_isue: {ask_photos: true}}\n", "quality_isue"),
        ("intent_behaviour: {quality_issue: {ask_photo: true}}\n", "did you mean 'ask_photos'"),
        ("phrasing: {greeting: 您好}\n", "phrasing: lacks 'closes'"),
    ],
)
def test_bad_behaviour_sections_are_refused_naming_the_key(text: str, fragment: str) -> None:
    problems = _blocking(validate_config("rules", text, demo_kb_dir()))
    assert any(fragment in p for p in problems), problems


def test_editor_and_loader_give_the_same_message(tmp_path: Path) -> None:
    text = "intent_behaviour: {quality_issue: {ask_photo: true}}\n"
    write_kb(tmp_path)
    (tmp_path / "rules.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(KBValidationError) as err:
        load_kb(tmp_path)
    assert [d.reason for d in err.value.errors] == [p.message for p in validate_rules(text)]


def test_a_guard_only_rules_file_keeps_working_with_default_behaviour() -> None:
    problems = validate_rules("vague_words: [可能]\n")
    assert _blocking(problems) == []
    assert any("shipped defaults used for: emotion, handoff, phrasing, intent_behaviour" in str(p) for p in problems)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("intents: {}\n", "top-level 'intents:' list"),
        ("intents:\n  - stage: general\n", "lacks 'name'"),
        ("intents:\n  - name: a\n    stage: later\n", "intents[0].stage: Input should be 'pre_sale'"),
        ("intents:\n  - name: a\n    examples: 你好\n", "intents[0].examples: must be a list"),
        ("intents:\n  - name: a\n    example: [你好]\n", "did you mean 'examples'"),
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


def test_an_intents_file_that_drops_an_intent_the_rules_name_is_refused(tmp_path: Path) -> None:
    write_kb(tmp_path)
    (tmp_path / "rules.yaml").write_text("intent_behaviour: {quality_issue: {ask_photos: true}}\n", encoding="utf-8")
    text = "intents:\n  - name: other\n    examples: [你好, 在吗, 谢谢]\n"
    assert any("quality_issue" in p for p in _blocking(validate_config("intents", text, tmp_path)))
    assert _blocking(validate_config("intents", text)) == []
