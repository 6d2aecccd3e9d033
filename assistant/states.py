"""The state a customer says their order or goods are in, and the state a KB sentence is written for.

Customers say where things stand with an aspect (「还没发货的话」「已经签收了」「拆开了」「还没发吧」); rules are
written for one state (「已发货的订单不能改规格」「未发货的订单可以改颜色」「订单发货前可以直接取消」「签收后7天内」).
A rule for a stage the customer has not reached is another customer's: for 「还没发货 能换颜色吗」 the 未发货
rule answers and the 已发货 one misleads. A rule for a stage the customer has passed (未发货的… for 「已经发出来
了」) gives way only where the document has a rule for their own stage: 未洗涤… still answers 「洗过了」, as the
condition they no longer meet. States are compared by their verb's first character (发货 / 发出 / 发, 签收 / 签,
拆封 / 拆开), so the grammar of aspect is all this needs: 已/已经/都 … or …了/过 (done), 未/没/还没/尚未/待 … (not
yet), …前 / …后 (before / after), not any shop's list of states.

>>> written_for("已发货的订单不能改规格，收到后可以按七天无理由退货。")
{'发': True, '收': True}
>>> told("还没发货的话能帮我换一下吗", "发")
False
>>> agreement("还没发货的话能帮我换一下吗", "已发货的订单不能改规格。").ahead
frozenset({'发'})
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_CJK = "\u4e00-\u9fff"
# Characters that are no verb of a state even after 已/没 (没有问题, 没说, 已是).
_NOT_A_STATE = frozenset("有是问说想要能会用的了过在给让把被到再还也就都然以之")
_NOT_YET = "还没有|还没|尚未|还未|没有|没|未|待"
# A rule's own condition: 「已发货的订单」「未发货的」「发货前」「签收后7天内」.
_RULE_STATE = re.compile(rf"(已经|已|还没有|还没|尚未|还未|没有|未)([{_CJK}])[{_CJK}]|([{_CJK}])[{_CJK}](前|后)")


@functools.lru_cache(maxsize=32768)
def _written_for(sentence: str) -> tuple[tuple[str, bool], ...]:
    out: dict[str, bool] = {}
    for m in _RULE_STATE.finditer(sentence):
        if m.group(2):
            verb, done = m.group(2), m.group(1).startswith("已")
        else:
            verb, done = m.group(3), m.group(4) == "后"
        if verb not in _NOT_A_STATE:
            out.setdefault(verb, done)
    return tuple(out.items())


def written_for(sentence: str) -> dict[str, bool]:
    """The states a rule is conditioned on: verb character → done (True) or not yet (False)."""
    return dict(_written_for(sentence))


@functools.lru_cache(maxsize=4096)  # one message is asked about the same verb by every candidate sentence
def told(text: str, verb: str) -> bool | None:
    """Whether a customer's message says the action `verb` (its first character: 发 for 发货/发出) has happened
    (「已经发出来了」「签收了」「洗过了」), has not (「还没发吧」「未拆封」「待发货」), or neither (None)."""
    v = re.escape(verb)
    if re.search(rf"(?:{_NOT_YET}){v}", text):
        return False
    if re.search(rf"(?:已经|已|都)[^不没未，。,\s]{{0,2}}{v}|(?<![没未不无别]){v}[^不没，。,\s]{{0,3}}[了过]", text):
        return True
    return None


@dataclass(frozen=True)
class Standing:
    """How a rule's states stand to what the customer says (verb characters)."""

    agree: frozenset[str] = frozenset()  # the customer says they hold
    ahead: frozenset[str] = frozenset()  # written as done, the customer says not yet (已发货的… for 还没发货)
    behind: frozenset[str] = frozenset()  # written as not yet, the customer says done (未洗涤… for 洗过了)


def agreement(text: str, sentence: str) -> Standing:
    """How the states of a rule stand to the customer's message."""
    agree: set[str] = set()
    ahead: set[str] = set()
    behind: set[str] = set()
    for verb, done in _written_for(sentence):
        said = told(text, verb)
        if said is None:
            continue
        if said == done:
            agree.add(verb)
        else:
            (ahead if done else behind).add(verb)
    return Standing(frozenset(agree), frozenset(ahead), frozenset(behind))
