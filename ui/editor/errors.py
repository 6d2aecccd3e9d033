"""Errors of the knowledge editor: one base class, and the ones its callers catch."""

from __future__ import annotations

from dataclasses import dataclass


class EditorError(Exception):
    """Something about an edit a person can fix; the message says what and how."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a text being edited; `field` names the front-matter field (None = whole text)."""

    field: str | None
    message: str
    blocking: bool = True

    def __str__(self) -> str:
        return (f"{self.field}: " if self.field else "") + self.message


class InvalidTextError(EditorError):
    """A document, rules.yaml or intents.yaml that does not validate; nothing was saved."""

    def __init__(self, what: str, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "; ".join(str(p) for p in problems if p.blocking)
        super().__init__(f"{what}: not saved, {lines}")


class NotFoundError(EditorError):
    """No document (or version) with that id."""


class ConflictError(EditorError):
    """Someone saved the same document since it was opened; the text was kept as a `conflict` version."""

    def __init__(self, key: str, base: int | None, current: int, saved_as: int | None, diff: str) -> None:
        self.key = key
        self.base = base
        self.current = current
        self.saved_as = saved_as  # the conflict version holding the refused text (None: there was no text)
        self.diff = diff
        kept = (
            f"your text is kept as v{saved_as} (conflict); merge your change into v{current} and save again"
            if saved_as is not None
            else f"open v{current}, check it, and try again"
        )
        super().__init__(f"{key}: v{current} was saved after the v{base} you started from; {kept}")


class ReindexError(EditorError):
    """A version was published to the KB, but the index update after it failed: it is not served yet."""
