import copy

import pytest

from assistant.classify import IntentClassifier, angry_turns, detect_emotion
from indexer.embedding import HashingEmbedder
from kb import demo_kb_dir, load_kb
from kb.loader import default_rules_data, parse_rules

LEXICON = parse_rules(default_rules_data()).emotion


@pytest.mark.parametrize(
    ("turns", "emotion"),
    [
        (["衣服什么材质的"], "calm"),
        (["快递三天没动了，明天就要用，急死了"], "anxious"),
        (["怎么还没发货？？"], "anxious"),
        (["你们这什么破服务，我要投诉！！"], "angry"),
        (["东西坏了", "都第三次找你们了还没解决"], "angry"),
    ],
)
def test_emotion(turns: list[str], emotion: str) -> None:
    assert detect_emotion(turns, LEXICON)[0] == emotion


def test_a_kb_that_adds_an_emotion_cue_changes_the_reading() -> None:
    text = "这都拖成什么样了"
    assert detect_emotion([text], LEXICON)[0] == "calm"
    data = copy.deepcopy(default_rules_data())
    data["emotion"]["angry"]["words"]["拖成什么样"] = 2
    assert detect_emotion([text], parse_rules(data).emotion)[0] == "angry"


def test_a_kb_that_drops_a_cue_no_longer_reads_it() -> None:
    data = copy.deepcopy(default_rules_data())
    del data["emotion"]["anxious"]["words"]["在线等"]
    assert detect_emotion(["在线等"], LEXICON)[0] == "anxious"
    assert detect_emotion(["在线等"], parse_rules(data).emotion)[0] == "calm"


@pytest.mark.parametrize(
    ("turns", "n"),
    [
        (["你们太过分了", "什么破服务，气死了"], 2),
        (["你们太过分了", "好的，谢谢"], 0),  # anger that has passed does not count
        (["尺码偏大吗", "什么破服务，气死了"], 1),
    ],
)
def test_angry_turns_counts_rising_frustration(turns: list[str], n: int) -> None:
    assert angry_turns(turns, LEXICON) == n


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("能开发票吗，抬头写公司", "invoice"),
        ("转人工", "human_handoff"),
        ("积分怎么用", "membership"),
        ("我的订单到哪了", "order_status"),
    ],
)
def test_keywords_and_exemplars_find_the_intent(text: str, intent: str) -> None:
    clf = IntentClassifier(load_kb(demo_kb_dir()).intents, HashingEmbedder())
    pred = clf.run(text=text)
    assert pred.name == intent
    assert 0 < pred.confidence <= 1
    assert set(pred.scores) == set(load_kb(demo_kb_dir()).intent_names)
