"""Shared command-line pieces: KB/index options, user-error handling, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from assistant.errors import AssistantError
from indexer.errors import IndexerError
from kb.errors import KBError

F = TypeVar("F", bound=Callable[..., Any])

# Errors a user can fix: printed as one line (plus detail lines for a KB with several bad files), exit 1.
USER_ERRORS: tuple[type[Exception], ...] = (KBError, IndexerError, AssistantError, FileNotFoundError, ValueError)


def user_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except USER_ERRORS as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def kb_options(fn: F) -> F:
    fn = click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="KEFU_INDEX_DIR",
        help="Index directory (default: per KB, in the data directory).",
    )(fn)
    fn = click.option(
        "--kb",
        "kb_dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="KEFU_KB_DIR",
        help="Knowledge-base directory (default: the shipped demo KB).",
    )(fn)
    return fn


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1))
