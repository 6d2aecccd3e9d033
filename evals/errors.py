"""Errors of the evals package: one base class, and the ones callers catch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class EvalError(ValueError):
    """Anything wrong with an eval set, a run directory or a thresholds file that a person can fix.

    A ValueError, because each is a bad input value: the command line reports it as one line, no traceback.
    """


class EvalSetError(EvalError):
    """An eval set with one or more bad lines; `problems` holds one message per problem, with its line."""

    def __init__(self, path: Path | str, problems: Sequence[object]) -> None:
        self.path = str(path)
        self.problems = [str(p) for p in problems]
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the eval set {self.path}:\n{lines}")
