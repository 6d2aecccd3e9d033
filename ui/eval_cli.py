"""`kefu eval`: run an eval set (CONTRACTS.md §5), validate one, compare runs, and the CI gate."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import click

from assistant.retrieval import MODES
from evals.baseline import DenseBaseline
from evals.cases import EXPECTED_KEYS, Problem, read_cases
from evals.compare import compare_runs, format_text, load_run, markdown_table, render_html
from evals.errors import EvalSetError
from evals.gate import check_gate, dump_thresholds, load_thresholds, lower, ratchet
from evals.metrics import flatten
from evals.report import flat_metric_keys
from evals.runner import CASES_FILE, METRICS_FILE, REPORT_FILE, run_eval
from evals.validate import validate_cases, validate_set
from ui.options import emit_json, kb_options, user_errors
from ui.runtime import Runtime, assistant_settings

DRAFTERS = ("template", "llm")

existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
run_dir = click.Path(exists=True, file_okay=False, path_type=Path)


@click.group("eval")
def eval_group() -> None:
    """Run, validate and compare eval sets (evals/sets/*.jsonl)."""


@eval_group.command("run")
@click.option("--set", "set_path", required=True, type=existing_file, help="Eval set, JSONL (CONTRACTS.md §3).")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write metrics.json, cases.jsonl and report.html.",
)
@click.option("--retriever", type=click.Choice(MODES), default=None, help="Override (default: as `kefu serve`).")
@click.option("--drafter", type=click.Choice(DRAFTERS), default=None, help="Override (default: as `kefu serve`).")
@click.option(
    "-k", "k", type=click.IntRange(1, 100), default=None, help="Documents retrieved (default: as `kefu serve`, KEFU_K)."
)
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N cases.")
@click.option(
    "--gate",
    "gate_path",
    type=existing_file,
    default=None,
    help="Thresholds JSON (e.g. evals/gates/smoke.json); exit 1 if a metric misses one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print metrics.json on stdout.")
@kb_options
@user_errors
def eval_run(
    set_path: Path,
    out_dir: Path,
    retriever: str | None,
    drafter: str | None,
    k: int | None,
    limit: int | None,
    gate_path: Path | None,
    as_json: bool,
    kb_dir: Path | None,
    index_dir: Path | None,
) -> None:
    """Run an eval set through the assistant `kefu serve` would serve (same settings, same k); with --kb (and
    no --index), on a fresh temporary index."""
    thresholds = load_thresholds(gate_path) if gate_path else None
    cases, warnings = read_cases(set_path)
    _warn(warnings)
    cases = cases[:limit]
    settings = assistant_settings(retriever=retriever, drafter=drafter, k=k)
    progress = sys.stderr.isatty()
    fresh = kb_dir is not None and index_dir is None
    with contextlib.ExitStack() as stack:
        if fresh:
            index_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kefu-eval-index-")))
        rt = Runtime(kb_dir, index_dir)
        problems = validate_cases(cases, rt.kb)
        if problems:
            raise EvalSetError(set_path, problems)
        if fresh:
            rt.build(progress=progress)
        config = {
            "set": str(set_path),
            "kb": str(rt.kb_path),
            "kb_version": rt.kb.fingerprint,
            "index": "fresh (temporary)" if fresh else str(rt.index_path),
            "retriever": settings.retriever,
            "drafter": settings.drafter,
            "k": settings.k,
            "limit": limit,
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "kefu": version("kefu"),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        }
        assistant = rt.assistant(settings)
        metrics = run_eval(
            assistant,
            cases,
            out_dir,
            config=config,
            thresholds=thresholds,
            progress=progress,
            baseline=DenseBaseline(assistant.index),
        )
    if as_json:
        emit_json(metrics)
    else:
        click.echo(
            f"{metrics['n_cases']} cases in {metrics['config']['seconds']:.1f}s → "
            f"{out_dir}/{{{METRICS_FILE}, {CASES_FILE}, {REPORT_FILE}}}"
        )
        flat = flatten(metrics)
        for key in flat_metric_keys(flat):
            value = flat.get(key)
            click.echo(f"  {key:<48} {'null' if value is None else f'{value:g}'}")
        if metrics["n_errors"]:
            click.secho(
                f"  the assistant raised on {metrics['n_errors']} case(s); see {out_dir / REPORT_FILE}",
                fg="red",
                err=True,
            )
    if thresholds is not None:
        failures = check_gate(metrics, thresholds)
        if failures:
            click.echo(
                f"error: gate failed, {len(failures)} of {len(thresholds)} threshold(s) in {gate_path} missed:",
                err=True,
            )
            for f in failures:
                click.echo(f"  {f.message}", err=True)
            sys.exit(1)
        click.echo(f"gate passed: {len(thresholds)} threshold(s) in {gate_path}", err=as_json)


@eval_group.command("validate")
@click.argument("set_path", metavar="FILE", type=existing_file)
@click.option(
    "--kb",
    "kb_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="KEFU_KB_DIR",
    help="Knowledge-base directory (default: the shipped demo KB).",
)
@user_errors
def eval_validate(set_path: Path, kb_dir: Path | None) -> None:
    """Check an eval set: well-formed lines, known intents, doc ids in the KB, grounded must_include facts.

    Unknown keys are warnings (printed, exit 0); any error exits 1.
    """
    kb = Runtime(kb_dir).kb
    cases, warnings = validate_set(set_path, kb)
    _warn(warnings)
    click.echo(
        f"{set_path}: {len(cases)} valid case(s) against {kb.root}"
        + (f", {len(warnings)} warning(s)" if warnings else "")
    )
    labelled = {key: sum(getattr(c.expected, key) is not None for c in cases) for key in EXPECTED_KEYS}
    click.echo("  labelled: " + ", ".join(f"{k} {n}" for k, n in labelled.items()))
    uncovered = [i for i in kb.intent_names if all(c.expected.intent != i for c in cases)]
    if uncovered:
        click.echo(f"  intents with no case: {', '.join(uncovered)}")


@eval_group.command("compare")
@click.argument("run_a", type=run_dir)
@click.argument("run_b", type=run_dir)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the comparison as a self-contained HTML page.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the deltas and flipped cases as one JSON document.")
@user_errors
def eval_compare(run_a: Path, run_b: Path, html_path: Path | None, as_json: bool) -> None:
    """Metric deltas from RUN_A to RUN_B and the cases that flipped (`kefu eval run --out` directories)."""
    comparison = compare_runs(load_run(run_a), load_run(run_b))
    if as_json:
        emit_json(comparison.to_dict())
    else:
        click.echo(format_text(comparison))
    if html_path:
        html_path.write_text(render_html(comparison), encoding="utf-8")
        click.echo(f"wrote {html_path}", err=as_json)


@eval_group.command("ratchet")
@click.argument("run_path", metavar="RUN", type=run_dir)
@click.option("--gate", "gate_path", required=True, type=existing_file, help="Thresholds JSON to tighten.")
@click.option(
    "--allow-lower",
    "lower_keys",
    multiple=True,
    metavar="METRIC",
    help="Loosen this threshold to what RUN reached (repeatable); needs --reason, stored next to it.",
)
@click.option("--reason", default="", help="Why a threshold is lowered (required with --allow-lower).")
@user_errors
def eval_ratchet(run_path: Path, gate_path: Path, lower_keys: tuple[str, ...], reason: str) -> None:
    """Tighten the thresholds in --gate to what RUN reached; never loosens one unless --allow-lower names it."""
    old = load_thresholds(gate_path)
    metrics = load_run(run_path).metrics
    new = ratchet(metrics, old)
    if lower_keys:
        new = lower(metrics, new, lower_keys, reason=reason, date=datetime.now(UTC).date().isoformat())
    elif reason:
        raise click.UsageError("--reason goes with --allow-lower METRIC")
    changed = [k for k in old if old[k] != new[k]]
    for key in changed:
        lowered = new[key].lowered if key in lower_keys else None
        why = f"  (lowered: {lowered['reason']})" if lowered else ""
        click.echo(f"{key}: {old[key].describe()} → {new[key].describe()}{why}")
    if changed:
        gate_path.write_text(dump_thresholds(new), encoding="utf-8")
    n_lowered = sum(k in lower_keys for k in changed)
    click.echo(f"{len(changed) - n_lowered} threshold(s) tightened, {n_lowered} lowered in {gate_path}")


@eval_group.command("table")
@click.argument("runs", metavar="RUN...", nargs=-1, required=True, type=run_dir)
@user_errors
def eval_table(runs: tuple[Path, ...]) -> None:
    """Every metric of the RUNs side by side, as a Markdown table (e.g. `kefu eval table out/dev out/test`)."""
    click.echo(markdown_table([load_run(r) for r in runs]))


def _warn(warnings: list[Problem]) -> None:
    for w in warnings:
        click.secho(f"  {w}", fg="yellow", err=True)
