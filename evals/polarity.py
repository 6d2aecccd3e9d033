"""The yes/no stance a reply takes on the customer's question, for `expected.polarity` (CONTRACTS.md §3).

A transparent heuristic, not a model: split the reply into sentences, skip the opener (greeting, thanks,
empathy, "let me check" sentences that carry no stance), and in the first sentence that carries a stance cue
take the leftmost cue. Questions back to the customer (「有什么可以帮您？」) are skipped. Negations are tried before affirmatives at the same place, so 「不支持」 is a no and
not the 「支持」 inside it.

>>> reply_polarity("您好，理解您的心情。这款不支持7天无理由退货，因为是生鲜。")
'no'
>>> reply_polarity("亲，可以的，签收7天内都能申请。")
'yes'
>>> reply_polarity("好的，我帮您查一下。") is None
True

Limits, by design of a word list: a double negation (「不是不能」) or a conditional answer (「可以，但要先…」,
counted as yes) is read from its first cue only; a reply whose first stance sentence talks about something
other than the question (「不能保证今天发，但支持退款」) is misread; cues are Chinese only; a stance given only
by a number or a date (「3天内发货」) is not detected (None, which never matches an expected polarity).
"""

from __future__ import annotations

import re

NEGATIVE = (
    "不支持",
    "无法",
    "不能",
    "不可以",
    "不可",
    "不包",
    "不含",
    "不配送",
    "不参与",
    "不提供",
    "不接受",
    "不适用",
    "不享受",
    "不享",
    "不行",
    "不予",
    "暂不",
    "没有",
    "不需要",
    "不用",
    "不是",
    "不要",
    "请勿",
    "切勿",
)
AFFIRMATIVE = ("支持", "可以", "能", "包", "有", "是的", "没问题", "享受", "参与", "适用")
# Words that contain a cue but take no stance.
NEUTRAL = (
    "可能",
    "功能",
    "性能",
    "所有",
    "有效",
    "有关",
    "有什么",
    "有任何",
    "如有",
    "有问题",
    "包装",
    "包裹",
    "要不要",
    "不要紧",
)
# The start of a sentence that only greets, thanks, sympathises or announces a lookup.
OPENER = re.compile(
    r"^(?:您好|你好|亲爱的|亲|在的|好的|收到|感谢|谢谢|非常理解|理解|明白|了解|抱歉|很抱歉|非常抱歉|不好意思|"
    r"让您久等|给您带来|我(?:这边|来)?(?:帮您|为您)?(?:查|看|核实|确认)|稍等)"
)
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;\n]?")
# Neutral words first, so that the leftmost match at a place prefers them over the cue inside them.
_CUE = re.compile(
    "|".join(
        f"(?P<{name}>{'|'.join(map(re.escape, sorted(words, key=len, reverse=True)))})"
        for name, words in (("neutral", NEUTRAL), ("no", NEGATIVE), ("yes", AFFIRMATIVE))
    )
)


def _stance(sentence: str) -> str | None:
    for m in _CUE.finditer(sentence):
        if m.lastgroup != "neutral":
            return m.lastgroup
    return None


def reply_polarity(text: str) -> str | None:
    """'yes', 'no', or None when no sentence after the opener takes a stance."""
    for raw in _SENTENCE.findall(text):
        if raw.endswith(("？", "?")):  # a question back to the customer takes no stance
            continue
        for clause in re.split(r"[，,]", raw):
            clause = clause.strip(" 。！!；;\n")
            if not clause or (OPENER.match(clause) and _stance(OPENER.sub("", clause)) is None):
                continue
            stance = _stance(clause)
            if stance is not None:
                return stance
    return None
