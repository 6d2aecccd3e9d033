"""`kefu bench`: the performance benchmark (CONTRACTS.md §5, §7); writes bench.json, bench.md, latency.svg."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

from evals.bench import DEFAULT_SIZES, LARGE_SIZES, BenchConfig, run_bench
from ui.options import user_errors


def _sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(float(s)) for s in value.replace("_", "").split(",") if s.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r}: give chunk counts separated by commas, e.g. 1000,10000") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter(f"{value!r}: give at least one positive chunk count, e.g. 1000,10000")
    return sizes


def _command_line() -> str:
    """The command as typed, for the report (`kefu bench` when run some other way, e.g. from tests)."""
    args = sys.argv[1:]
    return shlex.join(["kefu", *args]) if args[:1] == ["bench"] else "kefu bench"


@click.command("bench")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/bench"),
    show_default=True,
    help="Where to write bench.json, bench.md and latency.svg.",
)
@click.option(
    "--sizes",
    callback=_sizes,
    default=",".join(str(s) for s in DEFAULT_SIZES),
    show_default=True,
    help="KB sizes in chunks, comma-separated.",
)
@click.option("--large", is_flag=True, help="Add 100k and 1M chunks (passages embedded by the near-copy fake).")
@click.option(
    "--queries",
    "n_queries",
    type=click.IntRange(1, 10_000),
    default=200,
    show_default=True,
    help="How many labelled queries to time per size.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Concurrent clients for the concurrent suggest figures.",
)
@click.option(
    "--set",
    "eval_set",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("evals/sets/dev.jsonl"),
    show_default=True,
    help="Eval set giving queries and their relevant documents (else the KB's FAQs).",
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Embedding model folder (default: the prepared multilingual-e5-small).",
)
@click.option("--fake", is_flag=True, help="The hashing fake embedder everywhere and no baseline: a quick smoke run.")
@click.option("--no-baseline", is_flag=True, help="Skip the naive LangChain pipeline.")
@click.option(
    "--query-encoder",
    type=click.Choice(["auto", "onnx", "torch"]),
    default=None,
    help="What embeds queries (default: KEFU_QUERY_ENCODER, else auto: the int8 ONNX copy when there is one).",
)
@click.option("--profile", is_flag=True, help="Write a cProfile of the suggest pass per size (profile-N.txt).")
@click.option(
    "--work",
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the synthetic KBs and indexes here (default: a temporary folder, removed).",
)
@user_errors
def bench(
    out_dir: Path,
    sizes: tuple[int, ...],
    large: bool,
    n_queries: int,
    concurrency: int,
    eval_set: Path,
    model_dir: Path | None,
    fake: bool,
    no_baseline: bool,
    query_encoder: str | None,
    profile: bool,
    work_dir: Path | None,
) -> None:
    """Benchmark build, update, retrieval and suggest latency on synthetic KBs grown from the demo KB."""
    from indexer.errors import EmbeddingModelError
    from indexer.settings import IndexerSettings

    if large:
        sizes = tuple(dict.fromkeys([*sizes, *LARGE_SIZES]))
    model = None
    if not fake:
        settings = IndexerSettings()
        model = model_dir or (
            Path(settings.embedding_model).expanduser() if settings.embedding_model else settings.resolved_model_dir()
        )
        if not (model / "config.json").is_file():
            raise EmbeddingModelError(
                f"{model}: no embedding model there; run `kefu model prepare`, pass --model, "
                "or use --fake for a run without the model"
            )
    # Set before any child process imports torch (see SentenceTransformerEmbedder.warm_up).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cfg = BenchConfig(
        out_dir=out_dir,
        sizes=tuple(sorted(sizes)),
        model_dir=model,
        n_queries=n_queries,
        concurrency=concurrency,
        eval_set=eval_set,
        work_dir=work_dir,
        baseline=not (fake or no_baseline),
        profile=profile,
        query_encoder=query_encoder or IndexerSettings().query_encoder,
        command=_command_line(),
    )
    result = run_bench(cfg)
    click.echo((out_dir / "bench.md").read_text(encoding="utf-8"))
    missed = [t["target"] for t in result.get("targets", []) if t["met"] is False]
    if missed:
        click.echo(f"targets missed: {'; '.join(missed)}", err=True)
