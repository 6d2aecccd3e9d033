"""`kefu handoff fit`: re-fit the handoff model (handoff_model.json) on labelled eval sets."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from evals.cases import read_cases
from evals.handoff_fit import Example, collect, evaluate, fit_examples, leave_one_out
from ui.options import emit_json, user_errors
from ui.runtime import Runtime


@click.group("handoff")
def handoff_group() -> None:
    """The fitted handoff model: when a conversation needs a person although no trigger of rules.yaml holds."""


@handoff_group.command("fit")
@click.option(
    "--set",
    "set_paths",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Eval set, JSONL (CONTRACTS.md §3); cases with expected.handoff are the examples. Repeat for several.",
)
@click.option(
    "--kb",
    "kb_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The KB of each --set, in the same order (one --kb for all sets, or none: the demo KB).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the weights: KB/handoff_model.json for one KB, kb/defaults/handoff_model.json to ship.",
)
@click.option("--l2", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True, help="Regularisation.")
@click.option(
    "--min-precision",
    type=click.FloatRange(0.5, 1.0),
    default=0.85,
    show_default=True,
    help="Of all handoffs, the table's and the model's together (held out in 5-fold cross-validation), the share "
    "that must need a person.",
)
@click.option(
    "--hold-out",
    "hold_out",
    default=None,
    metavar="SET",
    help="Fit without this set (its file name without .jsonl) and report how the table and the model hand over "
    "on it: how well the fit generalises to cases it did not see.",
)
@click.option(
    "--leave-one-out",
    "each_out",
    is_flag=True,
    help="Also fit once without each set in turn and report on the set left out, and on all of them pooled (the "
    "written weights are still fitted on every set): how a re-fit generalises to a set it did not see.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the fit summary as JSON.")
@user_errors
def handoff_fit(
    set_paths: tuple[Path, ...],
    kb_dirs: tuple[Path, ...],
    out_path: Path,
    l2: float,
    min_precision: float,
    hold_out: str | None,
    each_out: bool,
    as_json: bool,
) -> None:
    """Fit the handoff model on labelled eval sets and write its weights (handoff_model.json)."""
    if hold_out is not None and each_out:
        raise click.UsageError("give --hold-out SET or --leave-one-out, not both")
    if each_out and len(set_paths) < 2:
        raise click.UsageError("--leave-one-out needs at least two --set files")
    if len(kb_dirs) > 1 and len(kb_dirs) != len(set_paths):
        raise click.UsageError(f"{len(set_paths)} --set but {len(kb_dirs)} --kb: give one --kb per --set, or one")
    pairs = [
        (s, kb_dirs[i] if len(kb_dirs) > 1 else (kb_dirs[0] if kb_dirs else None)) for i, s in enumerate(set_paths)
    ]
    examples: list[Example] = []
    reasons: set[str] = set()
    for set_path, kb_dir in pairs:
        cases, problems = read_cases(set_path)
        for p in problems:
            click.echo(f"warning: {set_path}: {p}", err=True)
        assistant = Runtime(kb_dir, None).assistant()
        reasons.update(r.code for r in assistant.kb.rules.handoff.reasons)
        with click.progressbar(
            length=len(cases), label=f"reading {set_path.name}", file=sys.stderr, hidden=not sys.stderr.isatty()
        ) as bar:
            examples += collect(assistant, cases, set_path.stem, tick=lambda: bar.update(1))
    held = [e for e in examples if e.set_name == hold_out]
    if hold_out is not None and not held:
        names = ", ".join(sorted({e.set_name for e in examples}))
        raise click.BadParameter(f"no --set is named {hold_out!r}; the sets are {names}", param_hint="--hold-out")
    train = [e for e in examples if e.set_name != hold_out]
    report = fit_examples(train, reasons=sorted(reasons), l2=l2, min_precision=min_precision)
    if held:
        h = evaluate(report.weights, held)
        report.summary["hold_out"] = {"set": hold_out, **dataclasses.asdict(h)}
    each = leave_one_out(train, reasons=sorted(reasons), l2=l2, min_precision=min_precision) if each_out else {}
    if each:
        report.summary["leave_one_out"] = {name: dataclasses.asdict(x) for name, x in each.items()}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(
        json.dumps(report.weights.model_dump(mode="json"), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    if as_json:
        emit_json(report.summary)
        return
    s = report.summary
    click.echo(f"{s['cases']} labelled cases, {s['need_a_person']} needing a person → {out_path}")
    click.echo(
        f"  threshold {s['threshold']}: cross-validated precision {s['cv_precision']}, recall {s['cv_recall']} "
        f"(the handoff table and the model together); the model adds {s['added_by_model']}, "
        f"{s['added_needing_a_person']} of them needing a person"
    )
    click.echo(f"  reasons it can name: {', '.join(f'{c} ({n})' for c, n in s['reasons'].items()) or 'none'}")
    top = sorted(report.weights.detector.weights.items(), key=lambda x: -abs(x[1]))[:12]
    click.echo("  strongest signals: " + ", ".join(f"{n} {w:+.2f}" for n, w in top))
    if held:
        click.echo(
            f"  held out {hold_out} ({h.cases} cases, {h.need_a_person} needing a person): precision / recall "
            f"{h.table[0]} / {h.table[1]} by the table alone, {h.with_model[0]} / {h.with_model[1]} with the model"
        )
    if each:
        click.echo("  each set left out of the fit in turn (precision / recall: table alone → with the model):")
        for name, x in each.items():
            click.echo(
                f"    {name:<14} {x.cases:>4} cases, {x.need_a_person:>3} needing a person: "
                f"{x.table[0]} / {x.table[1]} → {x.with_model[0]} / {x.with_model[1]}"
            )
