"""Errors of the kb package: one base class, and the ones callers catch."""

from __future__ import annotations

from pathlib import Path


class KBError(Exception):
    """Anything wrong with a knowledge base a person can fix."""


class DocumentError(KBError):
    """One bad document: the file, the field and what is allowed."""

    def __init__(self, path: Path | str, field: str | None, message: str) -> None:
        self.path = str(path)
        self.field = field
        self.reason = message
        where = f"{self.path}: " + (f"'{field}': " if field else "")
        super().__init__(where + message)

    def __reduce__(self) -> tuple[type[DocumentError], tuple[str, str | None, str]]:
        # Raised in a worker process (kefu bench builds in one), it must survive pickling back to the parent.
        return (type(self), (self.path, self.field, self.reason))


class KBValidationError(KBError):
    """A KB with one or more bad files; `errors` holds one DocumentError per problem."""

    def __init__(self, errors: list[DocumentError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(f"{len(errors)} problem(s) in the knowledge base:\n{lines}")
