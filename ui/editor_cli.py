"""`kefu editor`: the knowledge editor on its own (in `kefu serve` it is mounted at /editor)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ui.options import kb_options, user_errors
from ui.runtime import Runtime


@click.command("editor")
@kb_options
@click.option(
    "--port",
    envvar="KEFU_EDITOR_PORT",
    type=click.IntRange(1, 65535),
    default=7860,
    show_default=True,
    help="Port on 127.0.0.1.",
)
@click.option(
    "--db",
    "database_url",
    envvar="KEFU_DATABASE_URL",
    default=None,
    help="Feedback store URL for the analytics tab (default: the service's SQLite file, if any).",
)
@click.option(
    "--eval-set",
    "eval_set",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Eval set for the impact preview (default: evals/sets/dev.jsonl).",
)
@user_errors
def editor(
    kb_dir: Path | None, index_dir: Path | None, port: int, database_url: str | None, eval_set: Path | None
) -> None:
    """Edit the KB: documents, versions, publish, rules and intents, previews, feedback analytics."""
    from assistant.service.store import FeedbackStore
    from assistant.settings import AssistantSettings
    from indexer.settings import data_home
    from ui.editor.access import editor_login
    from ui.editor.app import build_editor

    settings = AssistantSettings()
    rt = Runtime(kb_dir, index_dir)
    rt.update(progress=sys.stderr.isatty())
    store = None
    default_db = data_home() / "kefu.db"
    if database_url or default_db.is_file():
        store = FeedbackStore(database_url or f"sqlite:///{default_db}")
        store.migrate()
    login = editor_login(settings.api_keys)
    demo = build_editor(
        rt.kb_path,
        rt.index_path,
        rt.embedder,
        feedback=store,
        eval_set=eval_set,
        login=login,
        k=settings.k,
        mode=settings.retriever,
        answerable_threshold=settings.answerable_threshold,
        chunk_chars=rt.settings.chunk_chars,
        batch_size=rt.settings.batch_size,
    )
    import uvicorn

    from ui.editor.standalone import guarded_editor

    app = guarded_editor(demo, login, settings)
    click.echo(f"Kefu editor: http://127.0.0.1:{port}  (KB {rt.kb_path}, index {rt.index_path})")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
