"""The progress bar of a run over cases or conversations, on stderr (stdout may carry `--json` output).

>>> [c for c in tracked(["a", "b"], label="eval", name=str, enabled=False)]
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

T = TypeVar("T")


def tracked(items: Sequence[T], *, label: str, name: Callable[[T], str], enabled: bool) -> Iterator[T]:
    """Yield `items` in order while a bar shows `label`, the current item's `name` and the count done.

    Like `rich.progress.track`, the bar lives as long as the loop; it is removed when the loop ends.
    """
    with Progress(
        TextColumn(f"{label} {{task.fields[item]:<16}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=len(items), item="")
        for item in items:
            bar.update(task, item=name(item))
            yield item
            bar.advance(task)
