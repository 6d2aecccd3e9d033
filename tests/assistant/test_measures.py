"""Body measurements a customer gives, and the size-table rows whose ranges hold them (assistant.measures)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.measures import fit, stated


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("亲 我170 63公斤 这个T恤穿啥码合适", {"height": 170.0, "weight": 63.0}),
        ("针织开衫 110斤 M还是L", {"weight": 55.0}),  # 斤 is half a kilogram
        ("再给我弟买一份，他182，160斤", {"height": 182.0, "weight": 80.0}),
        ("身高1.68米 体重55kg", {"height": 168.0, "weight": 55.0}),
        ("我一米七五 体重120", {"height": 175.0, "weight": 60.0}),  # a weight over 100 without unit is in 斤
        ("身高170体重110", {"height": 170.0, "weight": 55.0}),
        ("休闲裤 我腰围81左右 拿几码", {"waist": 81.0}),
        ("腰围2尺4", {"waist": 80.0}),  # the market 尺: a third of a metre
        ("小白鞋，我脚长大概23.8，穿几码", {"foot": 238.0}),
        ("脚长245mm", {"foot": 245.0}),
        ("宝宝98cm，想买大点的", {"height": 98.0}),
        ("一米六 九十八斤", {"height": 160.0, "weight": 49.0}),
    ],
)
def test_the_figures_a_customer_gives_are_read_in_the_tables_units(message: str, expected: dict[str, float]) -> None:
    assert stated(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "充电宝150元 能带上飞机吗",  # money, not a height
        "[订单1] 170 到哪了",  # a bare number with no weight beside it is not a height
        "买了3件 165天前",
        "这款多重",
    ],
)
def test_numbers_that_are_not_measurements_are_left_alone(message: str) -> None:
    assert stated(message) == {}


@pytest.mark.parametrize(
    ("row", "fits", "misses"),
    [
        ("L码：身高165-172cm，体重58-66kg。", 2, 0),
        ("M码：身高160-165cm，体重52-58kg。", 0, 2),
        ("尺码L：参考身高165-172，参考体重58-66kg，衣长70，胸围108。", 2, 0),  # units from the kind
        ("尺码XL：衣长74，胸围120，建议身高170-175cm，建议体重60-67kg。", 2, 0),
        ("尺码S：衣长68，胸围108，建议体重42-48kg。", 0, 1),
        ("这款T恤克重220g/m²，面料厚实。", 0, 0),  # no size row: neither
    ],
)
def test_a_row_fits_the_figures_its_ranges_hold(row: str, fits: int, misses: int) -> None:
    assert fit({"height": 170.0, "weight": 63.0}, row) == (fits, misses)


def test_a_figure_no_body_has_is_no_row() -> None:
    # a transposed table rendered row by row runs the size and the length together
    assert fit({"foot": 238.0}, "尺码脚长（mm）：39245，40250，41255。") == (0, 0)
    assert fit({"height": 170.0}, "尺码L：身高1650-1720。") == (0, 0)


def test_a_single_value_fits_within_a_table_step() -> None:
    assert fit({"waist": 81.0}, "尺码32：腰围81，臀围104，裤长104。") == (1, 0)
    assert fit({"waist": 81.0}, "尺码31：腰围78，臀围102，裤长103。") == (0, 1)
    assert fit({"weight": 55.0}, "尺码M：建议体重100-116斤。") == (1, 0)  # a row in 斤


@given(st.text(max_size=300))
def test_any_text_reads_without_error(text: str) -> None:
    found = stated(text)
    assert set(found) <= {"height", "weight", "waist", "foot"}
    assert fit(found, text) >= (0, 0)
