"""`kefu qa run`: 质检 of agents' own replies (NOTES.md, issue 19), from a JSONL file, the feedback store or
Chatwoot; writes qa.json, turns.jsonl and qa.html."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, date, datetime
from importlib.metadata import version
from pathlib import Path

import click

from evals.qa.checks import QualityChecker
from evals.qa.conversations import QAConversation, read_conversations
from evals.qa.runner import QA_FILE, REPORT_FILE, TURNS_FILE, run_qa
from evals.qa.sampling import daily_sample
from ui.options import emit_json, kb_options, user_errors
from ui.runtime import Runtime, assistant_settings


@click.group("qa")
def qa_group() -> None:
    """质检: check agents' own replies against the KB's rules and the service standards."""


def _day(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; give YYYY-MM-DD", param_hint=name) from None


def _from_store(dsn: str, since: datetime | None, until: datetime | None) -> list[QAConversation]:
    from assistant.service.store import FeedbackStore
    from assistant.settings import AssistantSettings
    from evals.qa.sources import from_store
    from indexer.settings import data_home

    if dsn == "default":
        dsn = AssistantSettings().database_url or f"sqlite:///{data_home() / 'kefu.db'}"
        if dsn.startswith("sqlite:///") and not Path(dsn.removeprefix("sqlite:///")).is_file():
            raise click.UsageError(f"no feedback store at {dsn}; give --from-store URL (KEFU_DATABASE_URL)")
    store = FeedbackStore(dsn)
    try:
        store.migrate()
        return from_store(store, since=since, until=until)
    finally:
        store.close()


def _from_chatwoot(account_id: int, status: str, since: datetime | None) -> list[QAConversation]:
    from assistant.helpdesk.chatwoot import ChatwootClient
    from assistant.settings import AssistantSettings
    from evals.qa.sources import from_chatwoot

    cw = AssistantSettings().chatwoot
    if not cw.url or cw.api_token is None:
        raise click.UsageError("--from-chatwoot needs KEFU_CHATWOOT__URL and KEFU_CHATWOOT__API_TOKEN")
    client = ChatwootClient(
        cw.url, cw.api_token.get_secret_value(), timeout_s=cw.timeout_s, retries=cw.retries, backoff_s=cw.backoff_s
    )
    try:
        return from_chatwoot(client, account_id=account_id, status=status, since=since)
    finally:
        client.close()


@qa_group.command("run")
@click.option(
    "--conversations",
    "conversations_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help='JSONL, one {"id", "agent_id", "turns": [{"role", "text", "at"}]} a line.',
)
@click.option(
    "--from-store",
    "store_dsn",
    default=None,
    metavar="URL|default",
    help="Read the replies recorded in the feedback store instead ('default': KEFU_DATABASE_URL or the SQLite file "
    "in KEFU_HOME).",
)
@click.option(
    "--from-chatwoot",
    "chatwoot_account",
    type=click.IntRange(1),
    default=None,
    metavar="ACCOUNT_ID",
    help="Read the account's conversations from Chatwoot instead (KEFU_CHATWOOT__URL, __API_TOKEN).",
)
@click.option(
    "--status",
    type=click.Choice(["resolved", "open", "pending", "snoozed", "all"]),
    default="resolved",
    show_default=True,
    help="With --from-chatwoot: which conversations.",
)
@click.option("--since", default=None, metavar="YYYY-MM-DD", help="With a store or Chatwoot: from this day (UTC).")
@click.option("--until", default=None, metavar="YYYY-MM-DD", help="With the store: before this day (UTC).")
@click.option(
    "--sample",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Check this share of each agent's conversations of each day (e.g. 0.2), the same ones on every run.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the daily sample.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write qa.json, turns.jsonl and qa.html.",
)
@click.option("--worst", type=click.IntRange(0), default=30, show_default=True, help="Failed replies shown in qa.html.")
@click.option("--json", "as_json", is_flag=True, help="Print qa.json on stdout.")
@kb_options
@user_errors
def qa_run(
    conversations_path: Path | None,
    store_dsn: str | None,
    chatwoot_account: int | None,
    status: str,
    since: str | None,
    until: str | None,
    sample: float | None,
    seed: int,
    out_dir: Path,
    worst: int,
    as_json: bool,
    kb_dir: Path | None,
    index_dir: Path | None,
) -> None:
    """Check every agent reply of the conversations: the guard's rules (as `kefu check`), numbers against the
    KB, response time, empathy after anger, a next step with a time in complaints. Kefu's own suggestion for
    each failed moment is shown beside it in qa.html."""
    sources = [s for s in (conversations_path, store_dsn, chatwoot_account) if s is not None]
    if len(sources) != 1:
        raise click.UsageError("give one source: --conversations FILE.jsonl, --from-store URL or --from-chatwoot ID")
    start, end = _day(since, "--since"), _day(until, "--until")
    if conversations_path is not None:
        conversations, source = read_conversations(conversations_path), str(conversations_path)
    elif store_dsn is not None:
        conversations, source = _from_store(store_dsn, start, end), "feedback store"
    else:
        assert chatwoot_account is not None
        conversations, source = _from_chatwoot(chatwoot_account, status, start), f"chatwoot account {chatwoot_account}"
    total = len(conversations)
    if sample is not None:
        conversations = daily_sample(conversations, rate=sample, seed=seed)
    if not conversations:
        raise click.UsageError(f"{source}: no conversations with an agent reply to check")
    rt = Runtime(kb_dir, index_dir)
    progress = sys.stderr.isatty()
    settings = assistant_settings()
    if progress:
        rt.update(progress=True)  # the index brought up to date with a bar, before the assistant opens it
    bot = rt.assistant(settings)
    config = {
        "source": source,
        "kb": str(rt.kb_path),
        "kb_version": rt.kb.fingerprint,
        "conversations_in": total,
        "sample": sample,
        "seed": seed if sample is not None else None,
        "drafter": settings.drafter,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "kefu": version("kefu"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    checker = QualityChecker(bot, rt.kb.rules.qa, rt.kb.rules.emotion)
    report = run_qa(checker, conversations, out_dir, config=config, progress=progress, worst=worst)
    if as_json:
        emit_json(report)
        return
    team = report["team"]
    rate = "—" if team["pass_rate"] is None else f"{team['pass_rate'] * 100:.1f}%"
    click.echo(
        f"{team['conversations']} of {total} conversations, {team['turns_checked']} replies checked in "
        f"{report['config']['seconds']:.1f}s, pass rate {rate} → {out_dir}/{{{QA_FILE}, {TURNS_FILE}, {REPORT_FILE}}}"
    )
    target = report["standards"]["target_pass_rate"]
    for a in report["agents"]:
        mark = "✓" if a["pass_rate"] is not None and a["pass_rate"] >= target else "✗"
        rules = ", ".join(f"{r} {n}" for r, n in a["violations_by_rule"].items())
        click.echo(f"  {mark} {a['agent_id']:<16} {a['turns_passed']}/{a['turns_checked']}  {rules}")
