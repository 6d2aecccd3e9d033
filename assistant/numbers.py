"""Finding the numbers in a text (digits, and Chinese numerals with a unit), normalised for comparison."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_UNITS = r"(?:个工作日|个小时|小时|分钟|工作日|天|日|周|个月|年|元|块|件|倍|折|%|％)"
# Digits (with decimals and thousands separators) or Chinese numerals followed by a unit.
# A Chinese numeral starts where its run starts: from inside a long run the unit lookahead would rescan it.
_NUMBER = re.compile(
    r"\d+(?:[.,]\d+)*|(?<![零〇一二两三四五六七八九十百千万])[零〇一二两三四五六七八九十百千万]+(?=" + _UNITS + ")"
)
MAX_CN_NUMERAL = 12  # longer runs of numerals with units (万万万…) are not read as numbers
_MASK = re.compile(r"\[[^\[\]]{1,12}\]")  # masked tokens like [数字1] are not facts


@dataclass(frozen=True)
class NumberSpan:
    text: str
    value: str
    start: int
    end: int


def cn_to_int(s: str) -> int | None:
    """Chinese numeral to int: 七 → 7, 十五 → 15, 二十四 → 24, 一百 → 100; None if not a numeral."""
    if not s or any(c not in _CN_DIGITS and c not in _CN_UNITS for c in s):
        return None
    if all(c in _CN_DIGITS for c in s) and len(s) > 1:  # 一二三 read digit by digit
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    total, section, digit = 0, 0, 0
    for c in s:
        if c in _CN_DIGITS:
            digit = _CN_DIGITS[c]
        elif c == "万":
            section = (section + digit) * 10000
            total += section
            section, digit = 0, 0
        else:
            section += (digit or 1) * _CN_UNITS[c]
            digit = 0
    return total + section + digit


def _digits(whole: str, fraction: str = "") -> str:
    """Decimal digits as the shortest equal text: '007' → '7', ('7', '50') → '7.5', ('7', '0') → '7'."""
    whole, fraction = whole.lstrip("0") or "0", fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def normalise(raw: str) -> str:
    """'1,000' → '1000', '7.0' → '7', '七' → '7'.

    Works on the digits as text, never through float or int: a customer may type a number of any length
    (a float overflows at 309 digits, str(int) refuses more than 4,300).
    """
    if raw[0].isdigit():
        v = raw.replace(",", "")
        if v.count(".") > 1:
            return v
        return _digits(*v.split("."))
    if len(raw) > 1 and all(c in _CN_DIGITS for c in raw):  # 一二三 read digit by digit
        return _digits("".join(str(_CN_DIGITS[c]) for c in raw))
    if len(raw) > MAX_CN_NUMERAL:  # no real quantity is written with this many numerals
        return raw
    n = cn_to_int(raw)
    return str(n) if n is not None else raw


def find_numbers(text: str) -> list[NumberSpan]:
    """Every number in the text, masked tokens excluded."""
    masked = _MASK.sub(lambda m: " " * len(m.group(0)), text)
    return [NumberSpan(m.group(0), normalise(m.group(0)), m.start(), m.end()) for m in _NUMBER.finditer(masked)]


def number_values(text: str) -> set[str]:
    return {n.value for n in find_numbers(text)}


_UNIT_AFTER = re.compile(r"\s*" + _UNITS)


def without_quantities(text: str) -> str:
    """The text with every number that has a unit (7天, 30元, 50%) blanked out; bare numbers such as an
    order number are kept."""
    # Whole numbers first, then a look at what follows each: a lookahead in the number's pattern would make
    # the engine rescan a long digit run from every digit (quadratic).
    out = list(text)
    for m in _NUMBER.finditer(text):
        if _UNIT_AFTER.match(text, m.end()):
            out[m.start() : m.end()] = " " * (m.end() - m.start())
    return "".join(out)
