"""回访 drafts (assistant/followup.py) on the demo KB: the customer's problem and its outcome named, the
follow-up script's style and citation, the guard, the KB's window."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from assistant.errors import FollowupNotConfiguredError
from assistant.pipeline import Assistant
from indexer.builder import build_index
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import load_kb
from tests.conftest import FOLLOWUP_SCRIPT, write_kb

AT = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def _turns(*texts: str) -> list[dict[str, str]]:
    return [{"role": "customer" if n % 2 == 0 else "agent", "text": t} for n, t in enumerate(texts)]


@pytest.mark.parametrize(
    ("conversation", "problem", "outcome", "code"),
    [
        (
            _turns("收到的车厘子好多烂的，咋办", "非常抱歉，已经为您安排补发，明天发出"),
            "车厘子变质",
            "已经为您补发",
            "reship",
        ),
        (
            _turns("吹风机用了两周不出热风了", "您可以寄回，我们安排检测", "好的已寄出", "收到了，维修好后寄回给您"),
            "吹风机使用故障",
            "已经为您安排维修",
            "repair",
        ),
        (
            _turns("牛仔裤尺码偏小，想换大一码", "好的，已为您安排换货"),
            "牛仔裤尺码不合适",
            "已经为您安排换货",
            "exchange",
        ),
        (_turns("我的退款怎么还没到账", "已为您催促财务，退款已原路退回"), "退款进度", "已经为您办理退款", "refund"),
        (_turns("你好，我要投诉你们客服", "非常抱歉，已经记录并处理"), "投诉", "已经为您处理", "resolved"),
    ],
)
def test_the_draft_names_the_problem_and_its_outcome(
    demo_assistant: Assistant, conversation: list[dict[str, str]], problem: str, outcome: str, code: str
) -> None:
    draft = demo_assistant.followup(conversation=conversation, resolved_at=AT)
    assert f"您之前反馈的{problem}问题{outcome}" in draft.text
    assert (draft.problem, draft.outcome) == (problem, code)
    assert draft.check.passed, draft.check.violations
    assert [c.doc_id for c in draft.citations] == ["script-follow-up"]
    assert "回访" in draft.citations[0].quote


def test_the_outcome_the_agent_states_wins_over_the_conversation(demo_assistant: Assistant) -> None:
    conversation = _turns("收到的杯子碎了", "您好，可以补发或者退款，您选哪种？")
    # an offer is not an outcome
    assert demo_assistant.followup(conversation=conversation, resolved_at=AT).outcome_source == "default"
    for stated in ("refund", "已全额退款"):
        draft = demo_assistant.followup(conversation=conversation, resolved_at=AT, outcome=stated)
        assert (draft.outcome, draft.outcome_source) == ("refund", "request")
        assert "商品破损问题已经为您办理退款" in draft.text


def test_due_within_the_kbs_window_after_the_resolution(demo_assistant: Assistant) -> None:
    draft = demo_assistant.followup(conversation=_turns("快递丢件了"), resolved_at=AT)
    assert (draft.send_after, draft.due_at) == (AT + timedelta(hours=24), AT + timedelta(hours=48))
    assert draft.to_dict()["due_at"] == "2026-12-07T10:00:00+00:00"


def _assistant(kb_dir: Path, tmp_path: Path) -> Assistant:
    emb = HashingEmbedder()
    kb = load_kb(kb_dir)
    build_index(kb, emb, tmp_path / "index")
    return Assistant(Index.open(tmp_path / "index", emb), kb)


def test_another_kbs_window_and_script(tmp_path: Path) -> None:
    kb_dir = write_kb(tmp_path / "kb")
    write_kb(kb_dir, FOLLOWUP_SCRIPT)
    (kb_dir / "rules.yaml").write_text(
        textwrap.dedent(
            """\
            politeness: {required_any: [您]}
            followup:
              script: script-follow-up
              section: 回访
              window_hours: [12, 36]
              text: '您好，关于您反馈的{problem}问题，{outcome}，{check}'
              problem_default: 售后
              problems: [{when: ['破损|碎'], name: 商品破损}]
              outcomes: [{name: reship, when: ['补发'], says: 我们已经补发, asks: 请问收到了吗？}]
              outcome_default: {name: resolved, when: ['.'], says: 已经处理, asks: 请问解决了吗？}
            """
        ),
        encoding="utf-8",
    )
    draft = _assistant(kb_dir, tmp_path).followup(conversation=_turns("杯子碎了", "已为您补发"), resolved_at=AT)
    assert draft.text == "您好，关于您反馈的商品破损问题，我们已经补发，请问收到了吗？"
    assert draft.due_at == AT + timedelta(hours=36) and draft.citations[0].title == "回访话术"


def test_a_kb_without_the_script_says_what_to_add(tmp_path: Path) -> None:
    bot = _assistant(write_kb(tmp_path / "kb"), tmp_path)
    with pytest.raises(FollowupNotConfiguredError, match=r"script-follow-up.*add a script document"):
        bot.followup(conversation=_turns("杯子碎了"), resolved_at=AT)


@pytest.mark.parametrize(
    ("product_word", "name", "problem"),
    [
        (None, "商品破损", "电热水壶破损"),  # a section without product_word gets the shipped one, 商品
        ("产品", "产品破损", "电热水壶破损"),
        ("产品", "商品破损", "电热水壶商品破损"),  # not this KB's product word: the product goes in front
    ],
)
def test_the_kbs_product_word_is_replaced_by_the_product_named(
    tmp_path: Path, product_word: str | None, name: str, problem: str
) -> None:
    kb_dir = write_kb(write_kb(tmp_path / "kb"), FOLLOWUP_SCRIPT)
    followup = {
        "script": "script-follow-up",
        "section": "回访",
        "window_hours": [24, 48],
        "text": "您好，您之前反馈的{problem}问题{outcome}。",
        "problem_default": "售后",
        "problems": [{"when": ["摔坏"], "name": name}],
        "outcome_default": {"name": "resolved", "when": ["."], "says": "已经处理", "asks": "请问解决了吗？"},
    }
    if product_word is not None:
        followup["product_word"] = product_word
    (kb_dir / "rules.yaml").write_text(yaml.safe_dump({"followup": followup}, allow_unicode=True), encoding="utf-8")
    draft = _assistant(kb_dir, tmp_path).followup(conversation=_turns("电热水壶外壳摔坏了"), resolved_at=AT)
    assert (draft.problem, draft.product) == (problem, "电热水壶")
    assert f"反馈的{problem}问题" in draft.text
