"""End to end: the editor mounted in the service app, driven with gradio_client over HTTP.

Create → publish in the editor, and the next /v1/suggest of the same running server cites the new document.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import httpx
import pytest
from fastapi.testclient import TestClient
from gradio_client import Client

from assistant.pipeline import Assistant
from assistant.service.app import create_app
from assistant.service.holder import AssistantHolder, assistant_factory
from assistant.service.store import FeedbackStore
from assistant.settings import AssistantSettings
from indexer.embedding import HashingEmbedder
from indexer.index import Index
from kb import load_kb
from tests.helpers.server import serving
from tests.ui.editor.conftest import GIFT_BODY, GIFT_FRONT
from ui.editor.access import editor_login
from ui.editor.app import build_editor
from ui.editor.standalone import guarded_editor
from ui.editor.versions import VersionStore

QUESTION = "可以帮忙礼品包装吗？"
KEYS = {"agent-key-0123456789": "agent", "editor-key-0123456789": "editor"}


@dataclass
class Served:
    url: str
    holder: AssistantHolder


@pytest.fixture
def served(kb_dir: Path, index_dir: Path, tmp_path: Path) -> Iterator[Served]:
    """The service app with the editor mounted at /editor, as `kefu serve` assembles it, on a loopback port."""
    embedder = HashingEmbedder()
    holder = AssistantHolder(assistant_factory(kb_dir, index_dir, embedder), index_dir=index_dir)
    store = FeedbackStore(f"sqlite:///{tmp_path / 'kefu.db'}")
    store.migrate()
    app = create_app(holder, store, AssistantSettings(api_keys=KEYS, rate_limit_per_minute=0))
    login = editor_login(KEYS)
    editor = build_editor(kb_dir, index_dir, embedder, feedback=store, on_change=holder.reload_now, login=login)
    app = gr.mount_gradio_app(app, editor, path="/editor", auth=login)
    with serving(app, force_exit=True) as url:  # Gradio's open event streams would hold a graceful exit
        yield Served(url, holder)


def _cited(url: str) -> list[str]:
    r = httpx.post(
        f"{url}/v1/suggest",
        json={"conversation": [{"role": "customer", "text": QUESTION}]},
        headers={"X-API-Key": "agent-key-0123456789"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return [c["doc_id"] for s in r.json()["suggestions"] for c in s["citations"]]


def test_create_publish_and_the_next_suggest_cites_it(served: Served, kb_dir: Path, index_dir: Path) -> None:
    assert "faq-gift-wrap" not in _cited(served.url)
    client = Client(f"{served.url}/editor/", auth=("小王", "editor-key-0123456789"), verbose=False)
    # The author field is free text: behind the login the key's principal is recorded, not what was typed.
    status, *_ = client.predict(GIFT_FRONT, GIFT_BODY, "冒名者", "新建礼品包装", api_name="/save_document")
    assert "已新建草稿 `faq-gift-wrap` v1" in status
    [first] = VersionStore(kb_dir / ".kefu" / "history").log("faq-gift-wrap")
    assert first.author.startswith("小王 · key:") and "冒名者" not in first.author
    assert "faq-gift-wrap" not in _cited(served.url)  # a draft is not retrieved
    start = time.perf_counter()
    status, *_ = client.predict("小王", "上线", api_name="/publish_document")
    assert "已发布 v2" in status, status
    assert "faq-gift-wrap" in _cited(served.url)  # the very next request
    served_after = time.perf_counter() - start
    assert served_after < 30
    # An assistant opened on the same index directory sees it too.
    bot = Assistant(Index.open(index_dir, HashingEmbedder()), load_kb(kb_dir))
    result = bot.run(conversation=[{"role": "customer", "text": QUESTION}])
    assert "faq-gift-wrap" in [c.doc_id for s in result.suggestions for c in s.citations]
    assert served.holder.status().reloads >= 1


def test_the_editor_needs_an_editor_key(served: Served) -> None:
    for auth in (("小王", "agent-key-0123456789"), ("小王", "wrong")):
        with pytest.raises(ValueError, match="Could not login"):
            Client(f"{served.url}/editor/", auth=auth, verbose=False)
    assert httpx.get(f"{served.url}/editor/config", timeout=30).status_code == 401  # no app without a login


# -- issue 14 (1, 6): the editor across origins, and login guessing -----------------------------------------


@pytest.fixture
def editor_app(kb_dir: Path, index_dir: Path, tmp_path: Path) -> gr.routes.App:
    """The service app with the editor mounted, as `kefu serve` assembles it (no server)."""
    embedder = HashingEmbedder()
    holder = AssistantHolder(assistant_factory(kb_dir, index_dir, embedder), index_dir=index_dir)
    store = FeedbackStore(f"sqlite:///{tmp_path / 'kefu.db'}")
    store.migrate()
    settings = AssistantSettings(
        api_keys=KEYS, rate_limit_per_minute=0, allowed_origins=["https://helpdesk.example"], failed_auth_per_minute=3
    )
    app = create_app(holder, store, settings)
    editor = build_editor(kb_dir, index_dir, embedder, feedback=store, on_change=holder.reload_now)
    return gr.mount_gradio_app(app, editor, path="/editor", auth=editor_login(KEYS))


@pytest.mark.parametrize("path", ["/editor/gradio_api/queue/join", "/editor/login", "/v1/feedback"])
def test_another_site_gets_no_cors_grant_and_cannot_post(editor_app: gr.routes.App, path: str) -> None:
    # The reproduction: Gradio's CORS layer echoed any Origin, with credentials, for a non-local Host.
    evil = {"Host": "kefu.example", "Origin": "https://evil.example"}
    with TestClient(editor_app) as c:
        preflight = c.options(path, headers={**evil, "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers
        posted = c.post(path, headers=evil, json={})
        assert posted.status_code == 403 and "KEFU_ALLOWED_ORIGINS" in posted.json()["error"]["message"]
        assert "access-control-allow-origin" not in posted.headers


def test_same_site_and_allowed_origins_may_call(editor_app: gr.routes.App) -> None:
    with TestClient(editor_app) as c:
        own = c.post("/editor/login", headers={"Host": "kefu.example", "Origin": "https://kefu.example"},
                     data={"username": "小王", "password": "editor-key-0123456789"})  # fmt: skip
        assert own.status_code == 200
        helpdesk = {"Host": "kefu.example", "Origin": "https://helpdesk.example"}
        preflight = c.options("/v1/suggest", headers={**helpdesk, "Access-Control-Request-Method": "POST"})
        assert preflight.headers["access-control-allow-origin"] == "https://helpdesk.example"
        assert c.get("/healthz", headers=helpdesk).headers["access-control-allow-origin"] == "https://helpdesk.example"


@pytest.fixture
def standalone_editor(kb_dir: Path, index_dir: Path) -> gr.routes.App:
    """`kefu editor` run alone, as its command assembles it (no server)."""
    settings = AssistantSettings(api_keys=KEYS, allowed_origins=["https://helpdesk.example"], failed_auth_per_minute=3)
    blocks = build_editor(kb_dir, index_dir, HashingEmbedder())
    return guarded_editor(blocks, editor_login(KEYS), settings)


def test_the_standalone_editor_refuses_other_sites_and_throttles_logins(standalone_editor: gr.routes.App) -> None:
    evil = {"Host": "kefu.example", "Origin": "https://evil.example"}
    with TestClient(standalone_editor) as c:
        preflight = c.options("/gradio_api/queue/join", headers={**evil, "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers
        assert c.post("/gradio_api/queue/join", headers=evil, json={}).status_code == 403
        own = {"Host": "kefu.example", "Origin": "https://kefu.example"}
        assert (
            c.post("/login", headers=own, data={"username": "小王", "password": "editor-key-0123456789"}).status_code
            == 200
        )
        codes = [c.post("/login", data={"username": "x", "password": f"guess-{n:012d}"}).status_code for n in range(5)]
        assert codes == [400, 400, 400, 429, 429]


def test_wrong_editor_logins_are_throttled(editor_app: gr.routes.App) -> None:
    with TestClient(editor_app) as c:
        codes = [
            c.post("/editor/login", data={"username": "x", "password": f"guess-{n:012d}"}).status_code for n in range(5)
        ]
        assert codes == [400, 400, 400, 429, 429]
        right = c.post("/editor/login", data={"username": "小王", "password": "editor-key-0123456789"})
        assert right.status_code == 429 and int(right.headers["retry-after"]) >= 1
