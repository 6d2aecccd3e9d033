"""Time that has passed, as the customer tells it, and the time limits a KB sentence states.

Customers say how long something has taken (「都两天了」「20天前买的」「一个多星期了」「前天发的货」); policies are
written as limits (「物流信息超过48小时没有更新的…」「签收后15天内可以换货」). A limit the customer's time has
reached is the rule that applies now; a limit it has not reached (「7天没有更新」 after two days), or one it has
passed (「15天内换货」 after twenty days), is about another case. The words here are the grammar of durations
and comparisons, not any shop's policy.

>>> elapsed_hours("物流一直显示在中转站 都两天了")
48.0
>>> limits("包裹的物流信息超过48小时没有更新时，客服会联系快递公司。")
(Limit(hours=48.0, beyond=True),)
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from assistant.numbers import cn_to_int

_HOURS = {
    "分钟": 1 / 60,
    "小时": 1.0,
    "天": 24.0,
    "日": 24.0,
    "工作日": 24.0,
    "周": 168.0,
    "星期": 168.0,
    "礼拜": 168.0,
    "月": 720.0,
    "年": 8760.0,
}
_NUM = r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百]+|半"
# A span of time: 两天, 48小时, 一个多星期, 一年半, 3-7天 (the upper bound), 半个月. Found from its unit, then the number
# just before it in a short window: a pattern starting at the number would rescan a long digit run from every
# digit (a customer may paste thousands of them).
_UNIT = re.compile(r"(?:个(半)|个多|多个|个|多)?(工作日|小时|分钟|星期|礼拜|天|日|周|月|年)(半)?")
_NUMBER_BEFORE = re.compile(rf"(?:({_NUM})\s*(?:-|~|－|至|到)\s*)?({_NUM})\s*$")
_LOOKBACK = 16  # characters before a unit where its number may start


@dataclass(frozen=True)
class _Span:
    low: str | None  # the lower bound of a range (3-7天), else None
    number: str
    unit: str
    start: int
    end: int
    half: bool = False  # 一年半, 一个半小时


def _spans(text: str) -> list[_Span]:
    out: list[_Span] = []
    for u in _UNIT.finditer(text):
        lo = max(0, u.start() - _LOOKBACK)
        m = _NUMBER_BEFORE.search(text, lo, u.start())
        if m is not None:
            half = bool(u.group(1) or u.group(3))
            out.append(_Span(m.group(1), m.group(2), u.group(2), m.start(), u.end(), half))
    return out


# The customer's time has passed when the span is followed by 了 / 前 (两天了, 20天前) or said after 都 / 已经 /
# 等了 (都两天, 已经一周).
_PASSED_AFTER = re.compile(r"^(?:了|前|多了|多|左右了|还|都|也|啦)")
_PASSED_BEFORE = re.compile(r"(?:都|已经|已|等了|过了|快|足足|整整|超过|用了|买了|到了)$")
# Days named by their distance from today.
_DAYS_AGO = {"大前天": 72.0, "前天": 48.0, "昨天": 24.0, "上周": 168.0, "上个星期": 168.0, "上个月": 720.0}
# A limit: within it (15天内, 48小时以内) or beyond it (超过48小时, 7天以上, 7天没有更新 / 未发货).
_WITHIN_AFTER = re.compile(r"^(?:内|以内|之内)")
_BEYOND_BEFORE = re.compile(r"(?:超过|超出|满|已过|逾)$")
_BEYOND_AFTER = re.compile(r"^(?:以上|后仍|仍|没有|未|还没|没)")


@dataclass(frozen=True)
class Limit:
    hours: float
    beyond: bool  # True: 超过 N (applies once N has passed); False: N 内 (applies until N has passed)

    def applies(self, hours: float) -> bool:
        return hours >= 0.9 * self.hours if self.beyond else hours <= self.hours


def _hours(number: str, unit: str, half: bool = False) -> float | None:
    if number == "半":
        value: float | None = 0.5
    elif number[0].isdigit():
        value = float(number)
    else:
        n = cn_to_int(number)
        value = float(n) if n is not None else None
    return None if value is None else (value + (0.5 if half else 0.0)) * _HOURS[unit]


def elapsed_hours(text: str) -> float | None:
    """The longest time the customer says has passed (「都两天了」 → 48), or None when they state none."""
    found: list[float] = []
    for m in _spans(text):
        before, after = text[max(0, m.start - 3) : m.start], text[m.end : m.end + 3]
        if m.low is None and (_PASSED_AFTER.match(after) or _PASSED_BEFORE.search(before)):
            h = _hours(m.number, m.unit, m.half)
            if h is not None:
                found.append(h)
    found += [h for word, h in _DAYS_AGO.items() if word in text]
    return max(found, default=None)


@functools.lru_cache(maxsize=8192)
def limits(sentence: str) -> tuple[Limit, ...]:
    """The time limits a sentence states, each as within or beyond; spans that are not limits (「2-4天送达」) are
    left out."""
    out: list[Limit] = []
    for m in _spans(sentence):
        before, after = sentence[max(0, m.start - 3) : m.start], sentence[m.end : m.end + 3]
        h = _hours(m.number, m.unit, m.half)
        if h is None:
            continue
        if _WITHIN_AFTER.match(after):
            out.append(Limit(h, beyond=False))
        elif _BEYOND_BEFORE.search(before) or _BEYOND_AFTER.match(after):
            out.append(Limit(h, beyond=True))
    return tuple(out)
