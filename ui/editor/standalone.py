"""`kefu editor` on its own: the editor behind the same browser guards as in `kefu serve`.

Gradio's own server answers CORS by echoing any Origin (with credentials) when the Host is not localhost, and
does not throttle its login form. Run alone, the editor is therefore mounted in a small parent app with the
service's guards: CORS for `KEFU_ALLOWED_ORIGINS` only, state-changing calls refused from other sites, and
failed logins throttled per client.

>>> app = guarded_editor(blocks, login, settings)
>>> uvicorn.run(app, host="127.0.0.1", port=7860)
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
from fastapi import FastAPI

from assistant.service.browser import add_browser_guards
from assistant.service.ratelimit import RateLimiter
from assistant.settings import AssistantSettings
from ui.editor.access import LOGIN_MESSAGE


def guarded_editor(blocks: gr.Blocks, login: Callable[[str, str], bool] | None, settings: AssistantSettings) -> FastAPI:
    """A parent app serving `blocks` at `/`, with the allow-list CORS, the Origin guard and the login throttle."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    failures = RateLimiter(settings.failed_auth_per_minute, name="failed-auth")
    add_browser_guards(app, allowed_origins=settings.allowed_origins, failures=failures, login_path="/login")
    return gr.mount_gradio_app(app, blocks, path="", auth=login, auth_message=LOGIN_MESSAGE, footer_links=[])
