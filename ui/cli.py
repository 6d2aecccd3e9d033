"""The `kefu` command line (CONTRACTS.md §5)."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from assistant.retrieval import MODES, HybridRetriever
from indexer.errors import IndexerError
from kb.errors import KBError
from ui.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

# Errors a user can fix: printed as one line (plus detail lines for a KB with several bad files), exit 1.
USER_ERRORS: tuple[type[Exception], ...] = (KBError, IndexerError, FileNotFoundError, ValueError)


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
    fn = click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path),
                      envvar="KEFU_INDEX_DIR", help="Index directory (default: per KB, in the data directory).")(fn)
    fn = click.option("--kb", "kb_dir", type=click.Path(file_okay=False, path_type=Path), envvar="KEFU_KB_DIR",
                      help="Knowledge-base directory (default: the shipped demo KB).")(fn)
    return fn


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kefu")
def main() -> None:
    """Kefu: grounded reply suggestions for e-commerce customer service."""


@main.group()
def model() -> None:
    """Prepare and check the embedding model."""


@model.command("prepare")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the model (default: the data directory).")
@click.option("--force", is_flag=True, help="Rebuild even if a verified model is there.")
@user_errors
def model_prepare(dest: Path | None, force: bool) -> None:
    """Dequantize the packaged multilingual-e5-small into a sentence-transformers folder, offline."""
    from indexer.model_prep import ModelPrepError, default_model_dir, prepare_e5_small, verify_model_dir

    target = dest or default_model_dir()
    try:
        path = prepare_e5_small(target, force=force, progress=sys.stderr.isatty())
        info = verify_model_dir(path)
    except ModelPrepError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    click.echo(f"model ready at {path} ({json.dumps(info, ensure_ascii=False)})")


@main.group()
def index() -> None:
    """Build or update the search index of a knowledge base."""


@index.command("build")
@kb_options
@user_errors
def index_build(kb_dir: Path | None, index_dir: Path | None) -> None:
    """Build the index of a KB from scratch."""
    rt = Runtime(kb_dir, index_dir)
    report = rt.build(progress=sys.stderr.isatty())
    click.echo(f"built {report.index_path}: {report.summary()}")


@index.command("update")
@kb_options
@user_errors
def index_update(kb_dir: Path | None, index_dir: Path | None) -> None:
    """Re-embed only documents added or changed since the last build; drop removed or unpublished ones."""
    rt = Runtime(kb_dir, index_dir)
    report = rt.update(progress=sys.stderr.isatty())
    click.echo(f"updated {report.index_path}: {report.summary()}")
    for label, ids in (("added", report.added), ("changed", report.changed), ("removed", report.removed)):
        if ids:
            click.echo(f"  {label}: {', '.join(ids)}")


@main.command()
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="How many documents.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list of hits.")
@kb_options
@user_errors
def search(query: str, k: int, mode: str, as_json: bool, kb_dir: Path | None, index_dir: Path | None) -> None:
    """Print the retrieved chunks for QUERY with doc ids and scores."""
    if not query.strip():
        raise click.UsageError("QUERY is empty; type what a customer would ask, e.g. kefu search \"尺码偏小能退吗\"")
    rt = Runtime(kb_dir, index_dir)
    hits = HybridRetriever(rt.index(), k=k, mode=mode).run(query=query)
    if as_json:
        emit_json([h.to_dict() for h in hits])
        return
    if not hits.hits:
        click.echo("no documents matched")
    for n, h in enumerate(hits, 1):
        click.secho(f"{n}. {h.doc_id}  {h.chunk.title}  [{h.score:.4f}]", bold=True)
        click.echo(f"   {h.chunk.section}: {h.chunk.text[:160]}")


if __name__ == "__main__":
    main()
