"""Whether the KB can answer what was asked: a signal beside retrieval's cosine and the asked answer slot.

`unknown_terms`: the content words (nouns) of the customer's question that the KB's text never uses. A question
about 分贝 put to a KB that never says 分贝 is answered by none of its sentences, however close the nearest
passage looks to the embedding model (which reads 分贝 and 功率 as neighbours). The test is against the KB's own
vocabulary (and the intent taxonomy's), so it needs no list of topics. Its weakness is synonyms: a customer's
word for something the KB names differently reads as a gap. Measured (NOTES.md, issue 12): right every time it
decided on the tuning sets, right half the time on the frozen ones, so the shipped rules.yaml leaves the trigger
that uses it off.

>>> unknown_terms("空调晚上多少分贝", lambda w: w in {"空调"})
('分贝',)
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator

from assistant.conversation import clean

# jieba's part-of-speech tags of the words a question is about: common and other proper nouns, organisation
# names, verbal nouns, noun morphemes, Latin words. People's and place names (nr, ns) are left out: they are
# who and where the customer is (寄到泰国), not what they ask about. Verbs are left out too: chats are full of
# colloquial ones (出差, 送人) that no KB uses, which would read as unknown topics.
NOUN_TAGS = frozenset({"n", "nz", "nt", "vn", "ng", "eng"})
_LATIN = re.compile(r"^[a-z0-9]+$")
# Everyday words (at least this often in the segmenter's reference corpus: 孩子, 时候, 价格, 朋友, 问题) are how
# customers talk about anything; a KB that never uses one still answers questions phrased with it. The words
# that show a gap are the specific ones (分贝, 特氟龙, 实体店, 电源线).
EVERYDAY = 5000
_lock = threading.Lock()


def _posseg():  # type: ignore[no-untyped-def]
    import jieba
    import jieba.posseg

    with _lock:
        jieba.setLogLevel(60)
        jieba.initialize()
    return jieba.posseg


# A clause that asks, whatever kind of answer it wants: the interrogatives of written and chat Chinese.
QUESTION = re.compile(
    r"([\u4e00-\u9fff])[不没]\1|[吗么嘛][?？!！。~～]*$|[?？]"  # 大不大, …吗, a question mark
    r"|多少|几[个天号点岁种款]|啥|什么|哪|怎|咋|谁|是否|有没有|能不能|[能可]否"
)
_NEGATED = re.compile(r"^[不没无非未]")
_CLAUSE = re.compile(r"[\s,，。.!！?？;；~～、]+")


def clauses(text: str) -> Iterator[str]:
    """The clauses of a message: chats separate them by spaces as often as by punctuation."""
    return (c for c in _CLAUSE.split(clean(text)) if c)


@functools.lru_cache(maxsize=1024)
def words(text: str) -> frozenset[str]:
    """The words of a message as the segmenter cuts it, lower-cased (「用支付宝付的」 → 支付宝; 「保温杯」 is one word,
    not 保温)."""
    _posseg()  # initialises the segmenter once
    import jieba

    return frozenset(w.strip() for w in jieba.lcut(clean(text).lower(), HMM=False) if w.strip())


def content_words(text: str) -> tuple[str, ...]:
    """The nouns of a message (masked tokens and emoji dropped), lower-cased, each once, in order.

    Only words of the segmenter's dictionary count (no HMM guessing): a typo or an odd run of characters
    (能机洗 → 能机) is not taken for a word the KB lacks."""
    out: list[str] = []
    for pair in _posseg().lcut(clean(text).lower(), HMM=False):
        word, flag = pair.word.strip(), pair.flag
        if flag not in NOUN_TAGS or word in out:
            continue
        if len(word) < (3 if _LATIN.match(word) else 2) or (_LATIN.match(word) and word.isdigit()):
            continue
        out.append(word)
    return tuple(out)


def is_everyday(word: str) -> bool:
    """A word customers use about anything (孩子, 时候, 价格): frequent in the segmenter's reference corpus."""
    return _posseg().dt.tokenizer.FREQ.get(word, 0) >= EVERYDAY


def _unknown(word: str, knows: Callable[[str], bool]) -> bool:
    # A negated word (不缩水) is a wish about something, not a topic; a compound whose head (its last two
    # characters: 大面积 → 面积) the KB uses is about something the KB covers.
    if knows(word) or _NEGATED.match(word) or is_everyday(word):
        return False
    return not (len(word) >= 3 and knows(word[-2:]))


def asks_something(clause: str) -> bool:
    """Whether a clause has a question word (吗, 多少, 有没有, 大不大 …)."""
    return QUESTION.search(clause) is not None


def unknown_terms(
    question: str, knows: Callable[[str], bool], asks: Callable[[str], bool] = asks_something
) -> tuple[str, ...]:
    """The content words of the clauses of `question` that ask something (`asks(clause)`) which the KB never
    uses (`knows(word)` is False). Clauses that only tell (家里有宝宝, 要去泰国) are context, not the topic."""
    out: list[str] = []
    for clause in clauses(question):
        if asks(clause):
            out += [w for w in content_words(clause) if w not in out and _unknown(w, knows)]
    return tuple(out)
