import pytest

from assistant.classify import IntentClassifier, detect_emotion
from indexer.embedding import HashingEmbedder
from kb import demo_kb_dir, load_kb


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
    assert detect_emotion(turns)[0] == emotion


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
