"""Masking personal data (phones, ID and card numbers, emails, street addresses) before it is stored.

>>> mask_pii("电话138-1234-5678，寄到浙江省杭州市西湖区文三路123号4栋501室")
'电话[手机号]，寄到[地址]'
"""

from __future__ import annotations

import re
from functools import lru_cache

_CJK = "\u4e00-\u9fff"

# A phone number may be typed with spaces, dots or dashes between any digits, or split by invisible
# zero-width characters so that it survives a chat filter.
_SEP = r"[\s.\-\u200b-\u200d\u2060\ufeff]?"
_MOBILE = rf"(?<!\d)(?:(?:\+|00)?86{_SEP})?1{_SEP}[3-9](?:{_SEP}\d){{9}}(?!\d)"
# Numbers the customer labels as order or tracking numbers are kept: they are not personal data and the
# analytics need them, even when they are as long as a card number. A mobile number after the label is
# still a mobile number ("订单联系人13812345678").
_ORDER = (
    r"(?:订单|单号|运单)(?:编号|号码|号)?[\s:：是为]{0,3}[A-Za-z]{0,4}"
    rf"(?!(?:(?:\+|00)?86{_SEP})?1{_SEP}[3-9](?:{_SEP}\d){{9}}(?!\d))\d+"
)
# Every part is bounded and may not start inside a run of its own characters, so a long run of letters or
# digits costs linear time, not quadratic (each start would rescan the run).
_EMAIL = (
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
    r"\.[A-Za-z]{2,24}(?![A-Za-z])"
)
# Region, birth date, sequence, check digit; the date keeps 18-digit order numbers from looking like IDs.
# The 15-digit IDs issued before 1999 have a two-digit year and no check digit.
_ID = (
    r"(?<!\d)\d{6}\s?(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?\d{3}[\dXx]"
    r"(?![\dA-Za-z])"
    r"|(?<!\d)\d{8}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![\dA-Za-z])"
)
_CARD = r"(?<!\d)\d{4}(?:[\s-]?\d{4}){3}(?:[\s-]?\d{1,3})?(?!\d)"
# Local numbers never start with 0 or 1, which keeps dates and counts out.
_LANDLINE = r"(?<!\d)(?:\(0\d{2,3}\)|0\d{2,3})[\s-]?[2-9]\d{6,7}(?!\d)"

# An address is optional administrative units (省/市/区/县...), a street or estate, then numbered parts
# (123号, 4栋, 2单元, 501室), each optionally after a space. Names are lazily matched, so a match could start a
# few characters early and swallow the words before it ("寄到北京市..."); it may not start with the words that
# usually introduce an address (成 only after 改/换/变, since 成都 starts addresses too).
_NOT_ADDRESS_START = r"(?![我你您他她的在到是寄发送往住地址位收给至于去请帮麻改把就和跟从\s])(?!(?<=[改换变])成)"
_ADMIN = rf"[{_CJK}]{{2,4}}?(?:特别行政区|自治区|自治州|自治县|新区|省|市|区|县|旗|盟|镇|乡)"
_STREET = rf"[{_CJK}A-Za-z\d]{{1,6}}?(?:大道|大街|街道|胡同|小区|花园|公寓|大厦|广场|路|街|巷|村|苑|园)"
_PART = rf"[{_CJK}A-Za-z]{{0,8}}?\d{{1,8}}[A-Za-z]?(?:-\d{{1,8}})?(?:号楼|号院|单元|号|栋|幢|楼|座|室|层|户|组|弄|巷)"
_ADDRESS = rf"{_NOT_ADDRESS_START}(?:(?>{_ADMIN})\s?){{0,4}}{_STREET}(?:\s?{_PART})+(?:\d{{1,5}}(?!\d))?"

_TOKENS = {
    "email": "[邮箱]",
    "id": "[身份证号]",
    "card": "[银行卡号]",
    "mobile": "[手机号]",
    "landline": "[电话]",
    "address": "[地址]",
}
# One pass, leftmost match first; where two kinds start at the same place the earlier alternative wins
# (an email before the phone number it starts with, an ID before a card number of the same length).
_PII = re.compile(
    f"(?P<order>{_ORDER})|(?P<email>{_EMAIL})|(?P<id>{_ID})|(?P<card>{_CARD})|(?P<mobile>{_MOBILE})"
    f"|(?P<landline>{_LANDLINE})|(?P<address>{_ADDRESS})"
)

# Customers type full-width digits and signs (１３８…, ＋86) too. The mapping is one character to one, so
# spans found in the half-width copy are spans of the original.
_HALF_WIDTH = str.maketrans("０１２３４５６７８９＋－＠（）　", "0123456789+-@() ")


def mask_pii(text: str) -> str:
    """The text with phone, ID and bank card numbers, emails and street addresses replaced by tokens."""
    out: list[str] = []
    last = 0
    for match in _PII.finditer(text.translate(_HALF_WIDTH)):
        token = _TOKENS.get(match.lastgroup or "order")
        if token is not None:
            out += [text[last : match.start()], token]
            last = match.end()
    out.append(text[last:])
    return "".join(out)


def find_pii(text: str) -> list[tuple[str, str]]:
    """(kind, text) of each piece of personal data in `text`: mobile, landline, id, card, email, address."""
    return list(_find_pii(text))


@lru_cache(maxsize=64)
def _find_pii(text: str) -> tuple[tuple[str, str], ...]:
    # Cached: the guard looks for the customer's personal data once per rule and draft, in the same text.
    half = text.translate(_HALF_WIDTH)
    return tuple(
        (m.lastgroup, text[m.start() : m.end()]) for m in _PII.finditer(half) if m.lastgroup and m.lastgroup in _TOKENS
    )
