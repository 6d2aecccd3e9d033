"""Numbers in texts, normalised for comparison: any length a customer can type is read without failing."""

import pytest

from assistant.numbers import find_numbers, normalise


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1,000", "1000"), ("7.0", "7"), ("007", "7"), ("1.50", "1.5"), ("0.5", "0.5"), ("100.00", "100"),
     ("七", "7"), ("十五", "15"), ("一二三", "123"), ("1.2.3", "1.2.3")],
)  # fmt: skip
def test_normalise(raw: str, value: str) -> None:
    assert normalise(raw) == value


@pytest.mark.parametrize(
    "text",
    [
        "9" * 309 + "天",
        "1" * 5000 + ".5元",
        "一" * 4301 + "天",
        "九" * 5000 + "元",
        "万" * 2000 + "元",
        "十万" * 900 + "天",
    ],
)
def test_huge_numbers_are_read_as_text(text: str) -> None:
    # Issue 14 (3): float() overflowed at 309 digits (int(inf)), and str(int) refuses 4,301 digits.
    (number,) = find_numbers(text)
    assert number.value and number.value[0] in "123456789万十"
