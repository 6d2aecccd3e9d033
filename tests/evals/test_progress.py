import pytest

from evals.progress import tracked


@pytest.mark.parametrize("enabled", [False, True])
def test_tracked_yields_every_item_in_order(enabled: bool) -> None:
    names: list[str] = []

    def name(item: int) -> str:
        names.append(str(item))
        return str(item)

    assert list(tracked([3, 1, 2], label="eval", name=name, enabled=enabled)) == [3, 1, 2]
    assert names == ["3", "1", "2"]  # the bar names each item as it is reached


def test_tracked_lets_an_error_of_the_loop_through() -> None:
    with pytest.raises(ValueError, match="case 2"):
        for item in tracked([1, 2, 3], label="qa", name=str, enabled=True):
            if item == 2:
                raise ValueError("case 2")
