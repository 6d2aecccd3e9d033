"""The `kefu` command line (CONTRACTS.md §5)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from assistant.retrieval import MODES, HybridRetriever
from ui.options import emit_json, kb_options, user_errors
from ui.runtime import Runtime, assistant_settings

# Commands that live in their own modules, imported only when run or listed: the web stack they import
# (FastAPI, SQLAlchemy, Gradio) took ~2 s of every `kefu index update`.
_LAZY = {
    "eval": ("ui.eval_cli", "eval_group"),
    "serve": ("ui.serve_cli", "serve"),
    "editor": ("ui.editor_cli", "editor"),
    "bench": ("ui.bench_cli", "bench"),
    "qa": ("ui.qa_cli", "qa_group"),
    "handoff": ("ui.handoff_cli", "handoff_group"),
}


def _lazy_command(ctx: click.Context, name: str) -> click.Command | None:
    if name not in _LAZY:
        return None
    module, attr = _LAZY[name]
    command = getattr(importlib.import_module(module), attr)
    assert isinstance(command, click.Command)
    return command


class _Kefu(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or _lazy_command(ctx, cmd_name)


@click.group(cls=_Kefu, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kefu")
def main() -> None:
    """Kefu: grounded reply suggestions for e-commerce customer service."""


@main.group()
def model() -> None:
    """Prepare and check the embedding model."""


@model.command("prepare")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the model (default: the data directory).",
)
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
    _optimize(path, force=force)


def _optimize(path: Path, *, force: bool = False) -> None:
    from indexer.embedding import model_identity
    from indexer.onnx_encoder import export_int8, find_int8

    model_id = model_identity(path)
    graph = None if force else find_int8(path, model_id)
    if graph is None:
        click.echo("exporting the int8 ONNX query encoder (about 20 s)…", err=True)
        graph = export_int8(path, model_id)
    click.echo(f"int8 query encoder ready at {graph}")


@model.command("optimize")
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A sentence-transformers folder (default: KEFU_EMBEDDING_MODEL, else the prepared e5-small).",
)
@click.option("--force", is_flag=True, help="Export again even if an up-to-date copy is there.")
@user_errors
def model_optimize(model_dir: Path | None, force: bool) -> None:
    """Export the model's transformer to ONNX, quantized to int8, for ~7x faster query embedding (mean-pooling
    models only). Queries use it automatically (KEFU_QUERY_ENCODER=auto); passages keep using PyTorch."""
    from indexer.settings import IndexerSettings

    _optimize(model_dir or IndexerSettings().resolved_model_dir(), force=force)


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


@index.command("compact")
@kb_options
@user_errors
def index_compact(kb_dir: Path | None, index_dir: Path | None) -> None:
    """Merge the index's delta segments into one, dropping the passages edits replaced; nothing is re-embedded."""
    rt = Runtime(kb_dir, index_dir)
    report = rt.compact()
    click.echo(f"compacted {report.index_path}: {report.summary()}")


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
        raise click.UsageError('QUERY is empty; type what a customer would ask, e.g. kefu search "尺码偏小能退吗"')
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


def _load_case(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise click.UsageError(f"{path}: cannot read the case: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("conversation"), list):
        raise click.UsageError(f"{path}: a case is a JSON object with a 'conversation' list (CONTRACTS.md §3)")
    return data["conversation"], data.get("context")


def _print_result(data: dict[str, Any]) -> None:
    intent, handoff = data["intent"], data["handoff"]
    click.secho(
        f"意图 {intent['name']} ({intent['confidence']:.2f})  情绪 {data['emotion']}  "
        f"检索 {', '.join(r['doc_id'] for r in data['retrieved'][:3])}",
        fg="cyan",
    )
    if handoff["recommended"]:
        click.secho(f"建议转人工：{handoff['reason']}", fg="yellow", bold=True)
        if handoff.get("priority"):
            team = f"，交由 {handoff['team']}" if handoff.get("team") else ""
            click.echo(f"工单：优先级 {handoff['priority']}，{handoff['due_at']} 前处理{team}")
    for n, s in enumerate(data["suggestions"], 1):
        mark = click.style("✓", fg="green") if s["passed"] else click.style("✗", fg="red")
        click.echo(f"\n{n}. [{s['style']}] {mark} {s['text']}")
        for c in s["citations"]:
            click.echo(f"   ↳ {c['doc_id']}：{c['quote'][:80]}")
        for v in s["violations"]:
            click.secho(f"   ! {v['rule']}: {v['message']} 「{v['span']}」", fg="red")
    click.echo(f"\n{data['latency_ms'].get('total', 0):.0f} ms")


@main.command()
@click.argument("message", required=False)
@click.option(
    "--case",
    "case_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A JSON file with 'conversation' (and optional 'context'), as in an eval set.",
)
@click.option("--retriever", type=click.Choice(MODES), default=None, help="Retrieval mode (default: settings).")
@click.option("--drafter", type=click.Choice(["template", "llm"]), default=None)
@click.option("-k", "k", type=click.IntRange(1, 50), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the /v1/suggest response object.")
@kb_options
@user_errors
def suggest(
    message: str | None,
    case_file: Path | None,
    retriever: str | None,
    drafter: str | None,
    k: int | None,
    as_json: bool,
    kb_dir: Path | None,
    index_dir: Path | None,
) -> None:
    """Suggest replies to MESSAGE (a customer's message) or to the conversation in --case."""
    if bool(message) == bool(case_file):
        raise click.UsageError("give either a MESSAGE or --case FILE.json")
    conversation, context = ([{"role": "customer", "text": message}], None) if message else _load_case(case_file)  # type: ignore[arg-type]
    bot = Runtime(kb_dir, index_dir).assistant(assistant_settings(retriever=retriever, drafter=drafter, k=k))
    data = bot.run(conversation=conversation, context=context).to_dict()
    if as_json:
        emit_json(data)
    else:
        _print_result(data)


@main.command()
@click.argument("reply")
@click.option(
    "--case",
    "case_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The conversation the reply answers (for unsupported facts and echo checks).",
)
@click.option("--json", "as_json", is_flag=True)
@kb_options
@user_errors
def check(reply: str, case_file: Path | None, as_json: bool, kb_dir: Path | None, index_dir: Path | None) -> None:
    """Run the reply rules on REPLY, a text an agent wrote. Exit 2 when a rule blocks it."""
    from assistant.pipeline import parse_conversation

    if not reply.strip():
        raise click.UsageError("REPLY is empty")
    rt = Runtime(kb_dir, index_dir)
    conversation: list[dict[str, Any]] = []
    context = None
    if case_file:
        conversation, context = _load_case(case_file)
        parse_conversation(conversation)
    result = rt.assistant().check_reply(reply, conversation=conversation, context=context)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.secho("通过" if result.passed else "未通过", fg="green" if result.passed else "red", bold=True)
        for v in result.violations:
            hint = f" → {v.suggestion}" if v.suggestion else ""
            click.echo(f"  {v.rule}: {v.message} 「{v.span}」{hint}")
    if not result.passed:
        sys.exit(2)


if __name__ == "__main__":
    main()
