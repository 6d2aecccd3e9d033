"""Body measurements a customer gives for a size, and the ranges the rows of a size table state.

Customers ask for a size with their figures (「170 63公斤 穿啥码」「163，100斤出头」「腰围81左右」「脚长大概23.8」
「宝宝98cm」); size tables are written as rows (「尺码M：…建议身高160-165cm，建议体重48-54kg」「尺码32：腰围81」). The
row whose ranges hold the customer's figures is the size that fits; a row whose ranges miss them is another
customer's. The words here are the grammar of measurements (身高/体重/腰围/脚长; cm/厘米/公分, kg/公斤/斤, mm, 1米7),
not any shop's table.

>>> stated("我170 63公斤 穿啥码")
{'weight': 63.0, 'height': 170.0}
>>> fit({'height': 170.0, 'weight': 63.0}, "L码：身高165-172cm，体重58-66kg。")
(2, 0)
>>> describe({'weight': 63.0, 'height': 170.0})
'体重63kg、身高170cm'
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from assistant.numbers import cn_to_int

Measures = dict[str, float]  # kind → value in the kind's unit: height cm, weight kg, waist cm, foot mm

_LABELS = {"身高": "height", "体重": "weight", "腰围": "waist", "脚长": "foot"}
_NAMES = {kind: label for label, kind in _LABELS.items()}
_UNITS = {"height": "cm", "weight": "kg", "waist": "cm", "foot": "mm"}  # the unit each kind is read in
_LABEL = re.compile("|".join(_LABELS))
_NUM = r"\d{1,3}(?:\.\d{1,2})?"
# After a label, the customer's figure: 「身高170」「体重是55」「腰围大概81」「脚长23.8cm」「腰围2尺4」.
_AFTER_LABEL = re.compile(
    rf"\s*(?:是|有|大概|大约|约|差不多|在)?\s*(?:(\d)尺(\d)?|({_NUM})\s*(cm|厘米|公分|mm|毫米|kg|公斤|千克|斤|米|m)?)",
    re.IGNORECASE,
)
_WEIGHT = re.compile(
    rf"(?<![\d.零〇一二两三四五六七八九十百])({_NUM}|[零〇一二两三四五六七八九十百]{{1,5}})\s*(斤|公斤|kg|千克)",
    re.IGNORECASE,
)
_CM = re.compile(rf"(?<![\d.])({_NUM})\s*(?:cm|厘米|公分)", re.IGNORECASE)
_METRE = re.compile(r"([1一])(?:米|\.|m)([0-9一二三四五六七八九])([0-9一二三四五六七八九])?(?:米|m)?", re.IGNORECASE)
_BARE_HEIGHT = re.compile(r"(?<![\d.\[])(1[4-9]\d)(?![\d.])")
_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")}
# Words near a number that make it something other than a height: money, counts, dates, masked tokens.
_NOT_HEIGHT = re.compile(r"\s*(?:元|块|件|个|天|号|月|年|次|单|ml|g|%|\])", re.IGNORECASE)
# A row's range (165-172cm) or single value (腰围72), just after its label.
_ROW_VALUE = re.compile(
    rf"[（(]?(?:cm|mm|厘米|毫米|kg|公斤)?[）)]?\s*[:：]?\s*({_NUM})(?![\d.])\s*(?:(?:-|~|～|－|—|至|到)\s*({_NUM})(?![\d.]))?"
    r"\s*(cm|厘米|mm|毫米|kg|公斤|千克|斤)?",
    re.IGNORECASE,
)
# How far a single value may be from the customer's figure and still fit (a table's step is ~3 cm / 5 mm).
_TOLERANCE = {"height": 2.5, "weight": 1.5, "waist": 1.5, "foot": 2.5}
# What a body measurement can be, in the kind's unit: a figure outside is no reading of it (a transposed table
# rendered as 「脚长（mm）：36225，37230」 runs a size and a length together).
_PLAUSIBLE = {"height": (40.0, 230.0), "weight": (2.0, 200.0), "waist": (40.0, 160.0), "foot": (100.0, 350.0)}


def _digit(c: str) -> int:
    return int(c) if c.isdigit() else _DIGIT[c]


def _in_unit(kind: str, value: float, unit: str) -> float:
    unit = unit.lower()
    if kind == "weight":
        return value / 2 if unit == "斤" else value
    if kind == "height" and (unit in ("米", "m") or value < 3):  # 身高1.68米
        return round(value * 100, 1)
    if kind == "foot":
        return value if unit in ("mm", "毫米") or (not unit and value > 100) else value * 10
    return value


def stated(text: str) -> Measures:
    """The measurements a message gives: after their label (身高/体重/腰围/脚长), or by their unit alone (63公斤,
    100斤 → weight; 98cm, 1米7 → height), or a bare height-like number (170) beside a stated weight."""
    out: Measures = {}
    for m in _LABEL.finditer(text):
        kind = _LABELS[m.group(0)]
        v = _AFTER_LABEL.match(text, m.end())
        if v is None or kind in out:
            continue
        if v.group(3):
            unit = v.group(4) or ""
            if kind == "weight" and not unit and float(v.group(3)) >= 100:
                unit = "斤"  # 「体重110」: in 斤, as people say it
            out[kind] = _in_unit(kind, float(v.group(3)), unit)
        elif v.group(1) and kind == "waist":  # 2尺4: the market 尺 is a third of a metre
            out[kind] = round((int(v.group(1)) + int(v.group(2) or 0) / 10) * 100 / 3, 1)
    if "weight" not in out and (w := _WEIGHT.search(text)):
        number = float(w.group(1)) if w.group(1)[0].isdigit() else cn_to_int(w.group(1))  # 一百斤
        if number:
            out["weight"] = _in_unit("weight", float(number), w.group(2))
    if "height" not in out:
        for c in _CM.finditer(text):
            before = text[max(0, c.start() - 4) : c.start()]
            if not _LABEL.search(before) and 50 <= float(c.group(1)) <= 220:
                out["height"] = float(c.group(1))
                break
    if "height" not in out and (mt := _METRE.search(text)):
        out["height"] = 100.0 + _digit(mt.group(2)) * 10 + (_digit(mt.group(3)) if mt.group(3) else 0)
    if "height" not in out and "weight" in out:
        for b in _BARE_HEIGHT.finditer(text):
            if not _NOT_HEIGHT.match(text, b.end()) and not _WEIGHT.match(text, b.start()):
                out["height"] = float(b.group(1))
                break
    return out


def fit(measures: Mapping[str, float], sentence: str) -> tuple[int, int]:
    """How many of the customer's measurements a row's ranges hold, and how many they miss (a label the row states
    with a figure the customer's value is outside of)."""
    if not measures:
        return 0, 0
    fits = misses = 0
    seen: set[str] = set()
    for m in _LABEL.finditer(sentence):
        kind = _LABELS[m.group(0)]
        if kind not in measures or kind in seen:
            continue
        v = _ROW_VALUE.match(sentence, m.end())
        if v is None:
            continue
        unit = v.group(3) or ""
        lo = _in_unit(kind, float(v.group(1)), unit)
        hi = _in_unit(kind, float(v.group(2)), unit) if v.group(2) else lo
        least, most = _PLAUSIBLE[kind]
        if not (least <= lo <= hi <= most):
            continue
        seen.add(kind)
        slack = _TOLERANCE[kind] if lo == hi else 0.0
        if lo - slack <= measures[kind] <= hi + slack:
            fits += 1
        else:
            misses += 1
    return fits, misses


def describe(measures: Mapping[str, float]) -> str:
    """The figures as the customer can read them back: 「体重100kg、身高192cm」."""
    return "、".join(f"{_NAMES[kind]}{value:g}{_UNITS[kind]}" for kind, value in measures.items())
