import json
from pathlib import Path

import pytest
import yaml

from kb import DocumentError, KBError, KBValidationError, demo_kb_dir, load_kb, load_kb_summary, parse_document
from kb import loader as kb_loader
from kb.rules import Followup, Phrasing
from tests.conftest import write_kb

GOOD = "---\nid: a-doc\ntitle: 标题\ntype: faq\ncategory: general\n---\n正文。\n"


def test_parses_a_valid_document() -> None:
    doc = parse_document(GOOD, "x.md")
    assert (doc.id, doc.title, doc.type, doc.category, doc.status, doc.version) == (
        "a-doc",
        "标题",
        "faq",
        "general",
        "published",
        1,
    )
    assert doc.body == "正文。"


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("正文，没有 front matter", None, "no YAML front matter"),
        ("---\nid: [\n---\n正文", None, "not valid YAML"),
        ("---\nid: a\ntitle: t\ntype: faq\n---\n正文", "category", "pre_sale, in_sale, after_sale, general"),
        ("---\ntitle: t\ntype: faq\ncategory: general\n---\n正文", "id", "lacks 'id'"),
        ("---\nid: Bad_ID\ntitle: t\ntype: faq\ncategory: general\n---\n正文", "id", "lowercase"),
        ("---\nid: a\ntitle: t\ntype: blog\ncategory: general\n---\n正文", "type", "policy, product, faq, script"),
        ("---\nid: a\ntitle: t\ntype: faq\ncategory: general\nstatus: live\n---\n正文", "status", "draft"),
        ("---\nid: a\ntitle: t\ntype: faq\ncategory: general\nversion: two\n---\n正文", "version", "integer"),
        ("---\nid: a\ntitle: t\ntype: faq\ncategory: general\nupdated: yesterday\n---\n正文", "updated", "ISO"),
        ("---\nid: a\ntitle: t\ntype: product\ncategory: general\nspecs: [1, 2]\n---\n正文", "specs", "mapping"),
        ("---\nid: a\ntitle: t\ntype: faq\ncategory: general\n---\n\n", "body", "no text"),
        # Issue 14 (13): `$` matched before a final newline, so a quoted id ending in one passed.
        ('---\nid: "faq-x\\n"\ntitle: t\ntype: faq\ncategory: general\n---\n正文', "id", "lowercase"),
        # Issue 14 (8): a few hundred bytes of aliases expand to a huge title on every load.
        (
            '---\nid: a\ntitle: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a]\ntype: faq\ncategory: general\n---\n正文',
            None,
            "anchors and aliases",
        ),
        ("---\nid: a\ntitle: " + "长" * 20_000 + "\ntype: faq\ncategory: general\n---\n正文", None, "limit is"),
        ("---\nid: a\ntitle: t\ntype: faq\ncategory: general\n---\n" + "正文" * 300_000, None, "split it"),
        (
            "---\nid: a\ntitle: t\ntype: faq\ncategory: general\nx: " + "[" * 3000 + "]" * 3000 + "\n---\n正文",
            None,
            "nested too deeply",
        ),
    ],
)
def test_bad_documents_name_the_file_and_field(text: str, field: str | None, fragment: str) -> None:
    with pytest.raises(DocumentError) as err:
        parse_document(text, "docs/x.md")
    assert err.value.field == field
    assert str(err.value).startswith("docs/x.md: ")
    assert fragment in str(err.value)


def test_kb_reports_every_bad_file_and_duplicate_ids(tmp_path: Path) -> None:
    write_kb(tmp_path, {"a.md": GOOD, "b.md": GOOD, "c.md": "no front matter"})
    with pytest.raises(KBValidationError) as err:
        load_kb(tmp_path)
    msgs = [str(e) for e in err.value.errors]
    assert any("docs/b.md" in m and "already used" in m for m in msgs)
    assert any("docs/c.md" in m for m in msgs)
    assert len(msgs) == 2


def test_non_strict_load_skips_bad_files(tmp_path: Path) -> None:
    write_kb(tmp_path, {"a.md": GOOD, "c.md": "no front matter"})
    kb = load_kb(tmp_path, strict=False)
    assert [d.id for d in kb.documents] == ["a-doc"]


def test_missing_directory_is_an_actionable_error(tmp_path: Path) -> None:
    with pytest.raises(KBError, match="no 'docs' folder"):
        load_kb(tmp_path)
    with pytest.raises(KBError, match="no such knowledge-base directory"):
        load_kb(tmp_path / "nope")


def test_tiny_kb_uses_default_rules_and_intents(tiny_kb: Path) -> None:
    kb = load_kb(tiny_kb)
    assert {d.id for d in kb.published} == {"policy-return", "policy-shipping", "product-kettle"}
    assert kb.rules.vague_words is not None and kb.rules.handoff.get("safety") is not None
    assert len(kb.intent_names) == 19
    assert kb.get("product-kettle") is not None and kb.get("product-kettle").specs["功率"] == "1800W"  # type: ignore[union-attr]


def test_fingerprint_changes_only_with_published_content(tiny_kb: Path) -> None:
    before = load_kb(tiny_kb).fingerprint
    draft = tiny_kb / "docs" / "faq" / "draft.md"
    draft.write_text(draft.read_text(encoding="utf-8").replace("草稿问答", "草稿问答2"), encoding="utf-8")
    assert load_kb(tiny_kb).fingerprint == before
    ret = tiny_kb / "docs" / "policy" / "return.md"
    ret.write_text(ret.read_text(encoding="utf-8").replace("7天", "15天"), encoding="utf-8")
    assert load_kb(tiny_kb).fingerprint != before


def test_each_document_carries_the_stamp_of_its_file(tiny_kb: Path) -> None:
    path = tiny_kb / "docs" / "policy" / "shipping.md"
    doc = next(d for d in load_kb(tiny_kb).documents if d.id == "policy-shipping")
    assert doc.file_stamp == (path.stat().st_mtime_ns, path.stat().st_size)
    assert parse_document(path.read_text(encoding="utf-8")).file_stamp == (0, 0)  # not read from a file: unknown
    assert parse_document(path.read_text(encoding="utf-8"), doc.path) == doc  # the stamp is not part of the content


def test_demo_kb_is_valid_and_covers_the_contract() -> None:
    kb = load_kb(demo_kb_dir())
    by_type: dict[str, int] = {}
    for d in kb.published:
        by_type[d.type] = by_type.get(d.type, 0) + 1
    assert by_type.get("policy", 0) >= 15
    assert by_type.get("product", 0) >= 15
    assert by_type.get("faq", 0) >= 5
    assert by_type.get("script", 0) >= 5


def test_intent_taxonomy_matches_contract() -> None:
    kb = load_kb(demo_kb_dir())
    assert set(kb.intent_names) == {
        "product_info",
        "promotion",
        "shipping_info",
        "order_status",
        "modify_order",
        "payment_issue",
        "out_of_stock",
        "logistics_delay",
        "return_request",
        "exchange",
        "quality_issue",
        "wrong_item",
        "refund_status",
        "usage_help",
        "complaint",
        "invoice",
        "membership",
        "human_handoff",
        "other",
    }
    assert all(len(i.examples) >= 5 for i in kb.intents)


def test_summary_has_what_serving_needs_and_tracks_published_edits(tiny_kb: Path) -> None:
    summary = load_kb_summary(tiny_kb)
    assert summary == load_kb(tiny_kb).summary()
    assert summary.n_published == 3 and len(summary.intents) == 19 and summary.rules
    ret = tiny_kb / "docs" / "policy" / "return.md"
    ret.write_text(ret.read_text(encoding="utf-8").replace("7天", "15天"), encoding="utf-8")
    assert load_kb_summary(tiny_kb).fingerprint == load_kb(tiny_kb).fingerprint != summary.fingerprint


def test_summary_validates_like_a_full_load(tmp_path: Path) -> None:
    write_kb(tmp_path, {"a.md": GOOD, "b.md": GOOD, "c.md": "no front matter"})
    with pytest.raises(KBValidationError) as err:
        load_kb_summary(tmp_path)
    assert len(err.value.errors) == 2
    assert load_kb_summary(tmp_path, strict=False).n_published == 1


def test_an_old_guard_only_rules_file_gets_the_default_behaviour(tiny_kb: Path) -> None:
    (tiny_kb / "rules.yaml").write_text(
        "vague_words: [可能, 大概]\nbanned_phrases:\n  - phrase: 亲，\n", encoding="utf-8"
    )
    rules = load_kb(tiny_kb).rules
    shipped = load_kb(demo_kb_dir()).rules
    assert rules.vague_words is not None and rules.vague_words.words == ("可能", "大概")
    assert rules.negative_framing is None  # a guard rule kind the file leaves out stays off
    assert (rules.emotion, rules.handoff, rules.phrasing, rules.intent_behaviour) == (
        shipped.emotion,
        shipped.handoff,
        shipped.phrasing,
        shipped.intent_behaviour,
    )


def test_a_section_the_kb_ships_replaces_the_default(tiny_kb: Path) -> None:
    (tiny_kb / "rules.yaml").write_text("intent_behaviour:\n  quality_issue: {ask_photos: true}\n", encoding="utf-8")
    assert set(load_kb(tiny_kb).rules.intent_behaviour) == {"quality_issue"}


@pytest.mark.parametrize(
    ("name", "text", "key", "fragment"),
    [
        ("rules.yaml", "handoff:\n  reasons: []\n", "handoff.reasons", "is empty"),
        ("rules.yaml", "emotion: {angry: {words: {气: 2}}, anxious: {wrods: {}}}\n", "emotion.anxious", "'words'"),
        ("rules.yaml", "intent_behaviour: {refund: {ask_order_number: true}}\n", "intent_behaviour", "refund_status"),
        ("rules.yaml", "vague_wrods: [可能]\n", None, "did you mean 'vague_words'"),
        ("rules.yaml", "tickets: {due_hours: {urgent: 2, high: 48}}\n", "tickets.due_hours", "missing: normal"),
        (
            "rules.yaml",
            "tickets: {due_hours: {urgent: 2, high: 48, normal: 24}, reasons: {threats: urgent}}\n",
            "tickets.reasons",
            "threats",
        ),
        (
            "rules.yaml",
            "tickets: {due_hours: {urgent: 2, high: 4, normal: 8}, intents: {complain: urgent}}\n",
            "tickets",
            "complaint",
        ),
        (
            "rules.yaml",
            "followup: {script: s, section: 回访, window_hours: [24, 48], text: '您好，{outcome}', problem_default: 售后,"
            " outcome_default: {name: done, when: ['.'], says: 已处理, asks: 好了吗}}\n",
            "followup.text",
            "{problem} and {outcome}",
        ),
        (
            "rules.yaml",
            "followup: {script: s, section: 回访, window_hours: [48, 24], text: '{problem}{outcome}', problem_default: 售后,"
            " outcome_default: {name: done, when: ['.'], says: 已处理, asks: 好了吗}}\n",
            "followup.window_hours",
            "from <= to",
        ),
        ("rules.yaml", "qa:\n  next_step: {intents: [complain], time: 今天}\n", "qa.next_step", "complaint"),
        ("rules.yaml", "qa:\n  response_time: {first_s: 0}\n", "qa.response_time.first_s", "greater than 0"),
        ("rules.yaml", "qa:\n  next_step: {handoff_reasons: [thret], time: 今天}\n", None, "thret"),
        ("rules.yaml", "qa:\n  next_step: {time: '(今天'}\n", "qa.next_step.time", "not a valid regular"),
        ("intents.yaml", "intents:\n  - name: a\n    exmaples: [你好]\n", "intents[0]", "did you mean 'examples'"),
    ],
)
def test_bad_rules_and_intents_name_the_file_the_key_and_the_fix(
    tiny_kb: Path, name: str, text: str, key: str | None, fragment: str
) -> None:
    (tiny_kb / name).write_text(text, encoding="utf-8")
    with pytest.raises(KBValidationError) as err:
        load_kb_summary(tiny_kb)
    [problem] = err.value.errors
    assert problem.path.endswith(name) and problem.field == key
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("section", "model", "own", "filled"),
    [
        ("phrasing", Phrasing, {"brief_close": "谢谢您，祝您生活愉快。"}, "past_window"),
        ("followup", Followup, {"product_word": "产品"}, "script_search"),
    ],
)
def test_a_section_written_before_its_later_keys_gets_them_from_the_defaults(
    tiny_kb: Path, section: str, model: type[Phrasing | Followup], own: dict[str, str], filled: str
) -> None:
    defaults = yaml.safe_load((Path(kb_loader.__file__).parent / "defaults" / "rules.yaml").read_text(encoding="utf-8"))
    older = {k: v for k, v in defaults[section].items() if k not in model.LATER_KEYS} | own
    (tiny_kb / "rules.yaml").write_text(yaml.safe_dump({section: older}, allow_unicode=True), encoding="utf-8")
    loaded = getattr(load_kb(tiny_kb).rules, section)
    for key, value in own.items():
        assert getattr(loaded, key) == value  # its own wording wins
    assert getattr(loaded, filled) == defaults[section][filled]  # a key it lacks is filled


def test_an_empty_followup_product_word_is_named(tiny_kb: Path) -> None:
    rules = {"followup": {**kb_loader.default_rules_data()["followup"], "product_word": ""}}
    (tiny_kb / "rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KBValidationError, match=r"followup\.product_word"):
        load_kb(tiny_kb)


@pytest.mark.parametrize(
    ("key", "text", "error"),
    [
        ("past_window", "您的订单已经超过期限。", "{elapsed}"),
        ("within_window", "签收{elapsed}，在{window}内，{days}", "other than"),
        ("confirm_topic", "您是想问这个吗？", "{topic}"),
    ],
)
def test_a_phrasing_placeholder_mistake_is_named(tiny_kb: Path, key: str, text: str, error: str) -> None:
    (tiny_kb / "rules.yaml").write_text(yaml.safe_dump({"phrasing": {key: text}}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KBValidationError) as e:
        load_kb(tiny_kb)
    assert key in str(e.value) and error in str(e.value)


def test_a_document_error_survives_a_trip_through_a_worker_process() -> None:
    import pickle

    e = pickle.loads(pickle.dumps(DocumentError("docs/x.md", "id", "is missing")))
    assert (e.path, e.field, e.reason, str(e)) == ("docs/x.md", "id", "is missing", "docs/x.md: 'id': is missing")


# -- the fitted handoff model's weights (handoff_model.json) ---------------------------------------------


def _weights(reasons: dict[str, dict[str, float]]) -> str:
    return json.dumps(
        {
            "detector": {"bias": -1.0, "weights": {"refusal@latest": 2.0}},
            "threshold": 0.6,
            "reasons": {code: {"bias": 0.0, "weights": w} for code, w in reasons.items()},
        }
    )


def test_a_kb_without_weights_gets_the_shipped_ones(tiny_kb: Path) -> None:
    weights = load_kb(tiny_kb).rules.handoff_model
    assert weights is not None and weights.fitted_on and weights.reasons
    assert set(weights.reasons) <= {r.code for r in load_kb(tiny_kb).rules.handoff.reasons}


def test_a_kb_s_own_weights_replace_the_shipped_ones_for_the_reasons_it_defines(tiny_kb: Path) -> None:
    (tiny_kb / "handoff_model.json").write_text(
        _weights({"dispute": {"refusal@latest": 1.0}, "made_up": {}}), encoding="utf-8"
    )
    weights = load_kb(tiny_kb).rules.handoff_model
    assert weights is not None and weights.threshold == 0.6 and set(weights.reasons) == {"dispute"}
    assert load_kb_summary(tiny_kb).rules.handoff_model == weights


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "cannot read the handoff model"),
        (json.dumps({"detector": {"bias": 0, "weights": {}}, "threshold": 1.5, "reasons": {}}), "threshold"),
    ],
)
def test_broken_weights_say_how_to_mend_them(tiny_kb: Path, content: str, says: str) -> None:
    (tiny_kb / "handoff_model.json").write_text(content, encoding="utf-8")
    with pytest.raises(KBError) as e:
        load_kb(tiny_kb)
    assert says in str(e.value) and "kefu handoff fit" in str(e.value)


def test_weights_are_not_a_section_of_rules_yaml() -> None:
    with pytest.raises(KBError, match=r"handoff_model\.json"):
        kb_loader.parse_rules({"handoff_model": {}})


def test_a_cue_class_with_a_bad_regex_is_named() -> None:
    data = kb_loader.default_rules_data()
    handoff = {**data["handoff"], "cues": {"refusal": ["不给("]}}
    with pytest.raises(KBValidationError, match="not a valid regular expression"):
        kb_loader.parse_rules({**data, "handoff": handoff})


@pytest.mark.parametrize(
    ("section", "value", "names"),
    [
        ("places", {"江浙沪": []}, "places"),
        ("offered_values", {"asked_by": ["有("], "kinds": {}}, "offered_values"),
        ("offered_values", {"kinds": {"colour": "(红"}}, "colour"),
        ("conditions", {"intact": ["完 整"]}, "conditions"),
    ],
)
def test_the_new_answer_sections_name_what_is_wrong(section: str, value: object, names: str) -> None:
    with pytest.raises(KBValidationError, match=names):
        kb_loader.parse_rules({**kb_loader.default_rules_data(), section: value})


def test_a_latest_all_trigger_with_a_bad_regex_is_named() -> None:
    data = kb_loader.default_rules_data()
    reasons = [{**data["handoff"]["reasons"][0], "when": [{"latest_all": ["我买的", "到哪("]}]}]
    with pytest.raises(KBValidationError, match="not a valid regular expression"):
        kb_loader.parse_rules({**data, "handoff": {**data["handoff"], "reasons": reasons}})


def test_a_kb_without_the_new_sections_gets_the_shipped_ones(tiny_kb: Path) -> None:
    (tiny_kb / "rules.yaml").write_text("vague_words: [可能, 大概]\n", encoding="utf-8")
    rules = load_kb(tiny_kb).rules
    assert rules.vague_words is not None  # the KB's own file was read
    assert "江浙沪" in rules.places and rules.offered_values.kinds and rules.conditions.intact
