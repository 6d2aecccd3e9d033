import pytest

from assistant.answerability import clauses, content_words, unknown_terms

KB_WORDS = {"耳机", "空调", "水壶", "保温杯", "面积", "发货", "快递", "充电器", "国外", "退货"}


def knows(word: str) -> bool:
    return word in KB_WORDS


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        ("空调晚上多少分贝", ("分贝",)),  # the asked thing is a word the KB never uses
        ("你们有实体店吗 想去店里试穿一下", ("实体店",)),  # only the clause that asks counts
        ("保温杯能装牛奶吗 给孩子带学校", ("牛奶",)),
        ("[订单x] 空调噪音大不大", ("噪音",)),  # masked tokens are not words
    ],
)
def test_nouns_the_kb_never_uses_in_what_is_asked(question: str, unknown: tuple[str, ...]) -> None:
    assert unknown_terms(question, knows) == unknown


@pytest.mark.parametrize(
    "question",
    [
        "耳机能退货吗",  # every noun asked about is the KB's
        "羽绒服能机洗不",  # 能机 is a run of characters, not a dictionary word (no HMM guessing)
        "这个空调多大面积能用",  # 大面积: its head 面积 is the KB's
        "羊毛衫咋洗不缩水啊",  # a negated wish, not a topic
        "我下周要去泰国出差",  # tells, asks nothing
        "孩子能用吗 价格多少",  # everyday words: how customers ask about anything, not a topic the KB lacks
        "充电器在国外能用不 要去泰国",  # 泰国 is in a clause that tells; places are not topics anyway
    ],
)
def test_no_unknown_topic(question: str) -> None:
    assert unknown_terms(question, knows) == ()


def test_clauses_split_on_spaces_and_punctuation() -> None:
    assert list(clauses("在吗 空调，多少钱？[金额x]")) == ["在吗", "空调", "多少钱"]


def test_content_words_are_nouns_once_each() -> None:
    assert content_words("地毯 扫地毯 长毛地毯") == ("地毯", "长毛")
