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


class QAInputError(EvalError):
    """Conversations for 质检 (`kefu qa run`) with one or more bad lines; one message per problem, each naming
    the file and line."""

    def __init__(self, source: Path | str, problems: Sequence[object]) -> None:
        self.source = str(source)
        self.problems = [str(p) for p in problems]
        shown = self.problems[:20]
        more = f"\n  … and {len(self.problems) - len(shown)} more" if len(self.problems) > len(shown) else ""
        lines = "\n".join(f"  {p}" for p in shown)
        super().__init__(
            f"{len(self.problems)} problem(s) in the conversations {self.source}, nothing was written:\n{lines}{more}"
        )
