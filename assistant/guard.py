"""The guard: checks a reply against the KB's `rules.yaml`, fixes what is safe to fix, flags the rest."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from assistant.numbers import find_numbers, number_values, without_quantities
from assistant.pii import find_pii
from assistant.result import CheckResult, Turn, Violation
from kb.loader import parse_rules
from kb.rules import GUARD_SECTIONS, BannedPhrase, GuardRule, Rules, WordRule

RULES = GUARD_SECTIONS  # the rule kinds, in the order they are checked

# rules.yaml names these kinds; each maps to the kinds `find_pii` reports.
_PII_KINDS = {
    "phone": ("mobile", "landline"),
    "id_number": ("id",),
    "address": ("address",),
    "card": ("card",),
    "email": ("email",),
}
# An amount starts where a run of digits starts: matching from inside a long run would rescan it at every
# digit (quadratic time on a 20,000-digit "number").
_AMOUNT = r"(?<![\d.])(\d+(?:\.\d+)?)"
_LIMIT = re.compile(rf"(?:不超过|最高|最多|上限为?|以内|以下)\D{{0,6}}?{_AMOUNT}\s*元|{_AMOUNT}\s*元(?:以内|以下|封顶)")
_OFFER = re.compile(rf"{_AMOUNT}\s*元(?:的)?(?:无门槛)?(?:优惠券|券|补偿|红包|赔偿|现金)")
_CLAUSE = re.compile(r"[^。！？；!?;\n]+")


def _msg(section: GuardRule | None, default: str) -> str:
    return section.message if section is not None and section.message else default


def _words(section: WordRule | None) -> tuple[str, ...]:
    return section.words if section is not None else ()


# A violation names at most this many characters around what it is about, and a rule reports at most this
# many violations: a 20 KB text of distinct numbers once made an 80 MB response.
MAX_SPAN = 120
MAX_VIOLATIONS_PER_RULE = 20


def _clause_of(text: str, pos: int) -> str:
    """The clause around `pos`, at most MAX_SPAN characters of it (looked for in a window, not the text)."""
    lo = max(0, pos - MAX_SPAN // 2)
    window = text[lo : pos + MAX_SPAN // 2]
    for m in _CLAUSE.finditer(window):
        if m.start() <= pos - lo < m.end():
            return m.group(0)
    return window


class Guard:
    """Applies one KB's reply rules.

    >>> Guard(kb.rules).check("亲，这不符合七天无理由退货条件哦", sources=[policy_text])

    `rules` is a KB's typed `Rules`; a mapping (the content of a rules.yaml) is validated into one first.
    """

    def __init__(self, rules: Rules | Mapping[str, Any]) -> None:
        self.rules = rules if isinstance(rules, Rules) else parse_rules(dict(rules))
        checks: dict[str, Callable[..., list[Violation]]] = {
            "banned_phrases": self._banned_phrases,
            "vague_words": self._vague_words,
            "negative_framing": self._negative_framing,
            "politeness": self._politeness,
            "absolute_claims": self._absolute_claims,
            "unsupported_facts": self._unsupported_facts,
            "over_promising": self._over_promising,
            "insult_echo": self._insult_echo,
            "pii_echo": self._pii_echo,
        }
        self._checks = {rule: checks[rule] for rule in RULES if self._enabled(rule)}
        self.active = tuple(self._checks)

    def _enabled(self, rule: str) -> bool:
        section = getattr(self.rules, rule)
        if isinstance(section, GuardRule):
            return section.enabled
        return section is not None  # banned_phrases: a list, no switch

    def check(
        self,
        text: str,
        *,
        sources: Sequence[str] = (),
        conversation: Sequence[Turn] = (),
        context: dict[str, Any] | None = None,
        fix: bool = False,
        only: Sequence[str] | None = None,
        customer_quantities: bool = True,
    ) -> CheckResult:
        """Check `text`; `sources` are the cited passages. With `fix`, safe fixes are applied first; `only`
        limits the check to these rules. Numbers in the conversation and the order context count as
        supported; without `customer_quantities`, a quantity only the customer wrote (「30天内都能退」) does
        not: a draft must not promise it on the customer's word."""
        fixed = self._fix(text, conversation) if fix else text
        customer = "\n".join(t.text for t in conversation if t.role == "customer")
        said = [
            t.text if t.role == "agent" or customer_quantities else without_quantities(t.text) for t in conversation
        ]
        everything = "\n".join([*sources, *said, json.dumps(context or {}, ensure_ascii=False)])
        violations: list[Violation] = []
        active = self.active if only is None else tuple(r for r in self.active if r in only)
        for rule in active:
            found = self._checks[rule](fixed, sources=sources, everything=everything, customer=customer)
            violations.extend(found[:MAX_VIOLATIONS_PER_RULE])
        passed = not any(v.severity == "block" for v in violations)
        return CheckResult(
            passed=passed,
            violations=tuple(violations),
            rules_checked=active,
            fixed_text=fixed if fixed != text else None,
        )

    # -- safe fixes ------------------------------------------------------------------------------------
    def _fix(self, text: str, conversation: Sequence[Turn]) -> str:
        for item in self._banned():
            if item.suggestion:
                text = text.replace(item.phrase, item.suggestion)
        customer = "\n".join(t.text for t in conversation if t.role == "customer")
        for _, found in find_pii(customer):
            text = text.replace(found, "*" * 4)
        return text

    def _banned(self) -> list[BannedPhrase]:
        return sorted(self.rules.banned_phrases or (), key=lambda i: -len(i.phrase))

    # -- rules -------------------------------------------------------------------------------------------
    def _banned_phrases(self, text: str, **_: Any) -> list[Violation]:
        out, covered = [], ""
        for item in self._banned():
            phrase = item.phrase
            if phrase in text and phrase not in covered:
                covered += phrase + "\n"
                out.append(Violation("banned_phrases", phrase, item.message, item.suggestion or None))
        return out

    def _vague_words(self, text: str, **_: Any) -> list[Violation]:
        msg = _msg(self.rules.vague_words, "模糊用语")
        return [Violation("vague_words", w, msg, None) for w in _words(self.rules.vague_words) if w in text]

    def _negative_framing(self, text: str, **_: Any) -> list[Violation]:
        section = self.rules.negative_framing
        negatives = [w for w in _words(section) if w in text]
        if not negatives or section is None:
            return []
        alternatives = section.alternatives
        stripped = text
        for w in negatives:
            stripped = stripped.replace(w, "")
        if any(a in stripped for a in alternatives):
            return []
        return [
            Violation(
                "negative_framing",
                negatives[0],
                _msg(section, "消极表达"),
                "同时告诉客户可以怎么做",
            )
        ]

    def _politeness(self, text: str, **_: Any) -> list[Violation]:
        section = self.rules.politeness
        required = section.required_any if section is not None else ("您",)
        if any(w in text for w in required):
            return []
        return [Violation("politeness", "", _msg(section, "缺少礼貌用语"), "称呼客户为“您”")]

    def _absolute_claims(self, text: str, **_: Any) -> list[Violation]:
        msg = _msg(self.rules.absolute_claims, "绝对化承诺")
        return [Violation("absolute_claims", w, msg, None) for w in _words(self.rules.absolute_claims) if w in text]

    def _unsupported_facts(self, text: str, *, everything: str, **_: Any) -> list[Violation]:
        known = number_values(everything)
        msg = _msg(self.rules.unsupported_facts, "无出处的数字")
        seen: set[str] = set()
        out = []
        for n in find_numbers(text):
            if n.value not in known and n.value not in seen:
                seen.add(n.value)
                out.append(Violation("unsupported_facts", _clause_of(text, n.start), f"{msg}：{n.text}", None))
        return out

    def _over_promising(self, text: str, *, sources: Sequence[str], **_: Any) -> list[Violation]:
        section = self.rules.over_promising
        cited = "\n".join(sources)
        msg = _msg(section, "过度承诺")
        out = []
        words = (*section.compensation_words, *section.exception_words) if section is not None else ()
        for w in words:
            idx = text.find(w)
            if idx >= 0 and w not in cited:
                out.append(Violation("over_promising", _clause_of(text, idx), f"{msg}：{w}", None))
        limits = [float(a or b) for a, b in _LIMIT.findall(cited)]
        cited_numbers = number_values(cited)
        for m in _OFFER.finditer(text):
            amount = float(m.group(1))
            if m.group(1) not in cited_numbers:  # an amount the customer named is not a policy
                out.append(
                    Violation(
                        "over_promising", _clause_of(text, m.start()), f"{msg}：{m.group(0)} 不在引用的政策里", None
                    )
                )
            elif limits and amount > max(limits):
                out.append(
                    Violation(
                        "over_promising",
                        _clause_of(text, m.start()),
                        f"{msg}：{m.group(0)} 超过引用政策允许的 {max(limits):g} 元",
                        None,
                    )
                )
        return out

    def _insult_echo(self, text: str, **_: Any) -> list[Violation]:
        msg = _msg(self.rules.insult_echo, "复述辱骂用语")
        return [Violation("insult_echo", w, msg, None) for w in _words(self.rules.insult_echo) if w in text]

    def _pii_echo(self, text: str, *, customer: str, **_: Any) -> list[Violation]:
        section = self.rules.pii_echo
        kinds = section.kinds if section is not None else tuple(_PII_KINDS)
        wanted = {k for kind in kinds for k in _PII_KINDS[kind]}
        msg = _msg(section, "复述个人信息")
        return [
            Violation("pii_echo", found, msg, "用****代替")
            for kind, found in find_pii(customer)
            if kind in wanted and found in text
        ]
