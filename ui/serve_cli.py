"""`kefu serve`: the HTTP API with the agent sidebar (CONTRACTS.md §5, §6)."""

from __future__ import annotations

import html
import ipaddress
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import click
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from assistant.service.app import OPEN_MODE_WARNING, create_app
from assistant.service.browser import origin_of
from assistant.service.holder import AssistantHolder
from assistant.service.logs import ACCESS, configure_json_logging
from assistant.service.store import FeedbackStore
from assistant.settings import AssistantSettings
from indexer.settings import data_home
from ui.options import kb_options, user_errors
from ui.runtime import Runtime

STATIC = Path(__file__).parent / "static"


def sidebar_router(helpdesk_origins: Sequence[str] = ()) -> APIRouter:
    """The sidebar page at /sidebar (its script and styles are under /static); / leads there.

    The page may be framed only by this site and the helpdesk origins (CSP frame-ancestors), and its script
    accepts conversations only from those origins, which the page names in a meta tag.
    """
    router = APIRouter(include_in_schema=False)
    origins = [origin_of(o) for o in helpdesk_origins]
    page = (
        (STATIC / "sidebar.html")
        .read_text(encoding="utf-8")
        .replace(
            '<meta name="kefu-helpdesk-origins" content="">',
            f'<meta name="kefu-helpdesk-origins" content="{html.escape(" ".join(origins))}">',
        )
    )
    headers = {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": "frame-ancestors " + " ".join(["'self'", *origins]),
        "Referrer-Policy": "no-referrer",
    }

    @router.get("/sidebar")
    @router.get("/sidebar/")
    def sidebar() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)

    @router.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/sidebar")

    return router


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def drop_query_strings(record: logging.LogRecord) -> bool:
    """An access-log filter: the path without its query string, which may hold a customer's words
    (/v1/search?q=…)."""
    args = record.args
    if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
        record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
    return True


def default_database_url() -> str:
    home = data_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'kefu.db'}"


def build_app(
    kb_dir: Path | None = None,
    index_dir: Path | None = None,
    *,
    settings: AssistantSettings | None = None,
    store: FeedbackStore | None = None,
    progress: bool = False,
    mounts: Sequence[tuple[str, ASGIApp]] = (),
    with_editor: bool = True,
) -> FastAPI:
    """Everything `kefu serve` runs: the index brought up to date, the store migrated, the app assembled.

    The assistant itself is loaded by the app's start-up (and reloaded when the index changes).
    """
    settings = settings or AssistantSettings()
    rt = Runtime(kb_dir, index_dir)
    rt.update(progress=progress)  # builds the index when there is none, re-embeds what changed otherwise
    factory = rt.assistant_factory(settings)
    if store is None:
        store = FeedbackStore(settings.database_url or default_database_url())
        store.migrate()
    holder = AssistantHolder(factory, index_dir=rt.index_path)
    app = create_app(
        holder,
        store,
        settings,
        routers=[sidebar_router(settings.helpdesk_origins)],
        mounts=[("/static", StaticFiles(directory=STATIC)), *mounts],
    )
    if not with_editor:
        return app
    import gradio as gr

    from ui.editor.access import LOGIN_MESSAGE, editor_login
    from ui.editor.app import build_editor

    login = editor_login(settings.api_keys)
    editor = build_editor(
        rt.kb_path,
        rt.index_path,
        rt.embedder,
        feedback=store,
        on_change=holder.reload_now,  # a publish (or a rules/intents save) is served by the next request
        login=login,
        k=settings.k,
        mode=settings.retriever,
        answerable_threshold=settings.answerable_threshold,
        chunk_chars=rt.settings.chunk_chars,
        batch_size=rt.settings.batch_size,
    )
    return gr.mount_gradio_app(app, editor, path="/editor", auth=login, auth_message=LOGIN_MESSAGE, footer_links=[])


@click.command()
@click.option("--host", envvar="KEFU_HOST", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", envvar="KEFU_PORT", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@kb_options
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True
)
@click.option("--allow-open", is_flag=True, help="Serve without API keys on a non-loopback address.")
@click.option(
    "--log-format",
    envvar="KEFU_LOG_FORMAT",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object a line, with an access record per request (id, path, status, ms).",
)
@click.option(
    "--drain-timeout",
    envvar="KEFU_DRAIN_TIMEOUT_S",
    type=click.IntRange(1, 3600),
    default=30,
    show_default=True,
    help="On SIGTERM, seconds to let requests in flight finish (no new ones are accepted).",
)
@user_errors
def serve(
    host: str | None,
    port: int | None,
    log_level: str,
    allow_open: bool,
    log_format: str,
    drain_timeout: int,
    kb_dir: Path | None,
    index_dir: Path | None,
) -> None:
    """Start the HTTP API and the agent sidebar (/sidebar)."""
    import uvicorn

    if log_format == "json":
        configure_json_logging(log_level)
    else:
        logging.basicConfig(level=log_level.upper(), format="%(levelname)-8s %(name)s: %(message)s")
        logging.getLogger("uvicorn.access").addFilter(drop_query_strings)
        ACCESS.setLevel(logging.WARNING)  # uvicorn's own access lines say it in text
    settings = AssistantSettings()
    host = host or settings.host
    port = port or settings.port
    if not settings.api_keys and not (allow_open or settings.allow_open) and not is_loopback(host):
        raise click.UsageError(
            f"no API keys configured and --host {host} is reachable from other machines: anyone there could use "
            "the API and edit the KB; set KEFU_API_KEYS, or pass --allow-open (KEFU_ALLOW_OPEN=1) to serve openly"
        )
    app = build_app(kb_dir, index_dir, settings=settings, progress=sys.stderr.isatty())
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    click.echo(f"Kefu: sidebar {url}/sidebar · API schema {url}/openapi.json · health {url}/healthz")
    if settings.api_keys:
        click.echo(
            f"open {url}/sidebar#key=YOUR_KEY once: the sidebar remembers the key (a #fragment never reaches a server)"
        )
    else:
        click.secho(f"WARNING: {OPEN_MODE_WARNING}", fg="yellow", bold=True, err=True)
    json_logs = log_format == "json"
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=drain_timeout,
        # JSON: uvicorn's loggers go through the root handler, and the app writes the access records.
        log_config=None if json_logs else uvicorn.config.LOGGING_CONFIG,
        access_log=not json_logs,
    )
