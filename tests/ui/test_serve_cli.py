"""`kefu serve`: assembly of the app (index, store, sidebar) and the uvicorn call, without opening a port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.conftest import write_kb
from ui.serve_cli import serve


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KEFU_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("KEFU_HOME", str(tmp_path / "home"))
    for var in ("KEFU_API_KEYS", "KEFU_DATABASE_URL", "KEFU_HOST", "KEFU_PORT", "KEFU_INDEX_DIR", "KEFU_KB_DIR"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def run_serve(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> tuple[Any, dict[str, Any]]:
    calls: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.update(app=app, **kw))
    return CliRunner().invoke(serve, args), calls


def test_serve_builds_the_index_and_serves_the_sidebar(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = write_kb(env / "kb")
    result, calls = run_serve(monkeypatch, ["--kb", str(kb), "--index", str(env / "index"), "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert (calls["host"], calls["port"]) == ("127.0.0.1", 8123)
    assert "http://127.0.0.1:8123/sidebar" in result.output
    assert "OPEN" in result.stderr  # no keys configured: a loud warning
    assert (env / "index" / "CURRENT").is_file() and (env / "home" / "kefu.db").is_file()
    with TestClient(calls["app"]) as c:
        page = c.get("/sidebar")
        assert page.status_code == 200 and "客服助手" in page.text
        assert c.get("/static/sidebar.js").status_code == 200
        assert c.get("/", follow_redirects=False).headers["location"] == "/sidebar"
        assert c.get("/healthz").json()["store"] == {"ok": True}


def test_serve_with_keys_prints_how_to_open_the_sidebar(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_API_KEYS", '{"k1-0123456789abcdef": "agent"}')
    monkeypatch.setenv("KEFU_PORT", "9001")
    result, calls = run_serve(monkeypatch, ["--kb", str(write_kb(env / "kb")), "--index", str(env / "index")])
    assert result.exit_code == 0, result.output
    assert calls["port"] == 9001 and "OPEN" not in result.stderr
    assert "/sidebar?key=" in result.output


def test_serve_on_a_missing_kb_exits_with_one_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, calls = run_serve(monkeypatch, ["--kb", str(env / "nope"), "--index", str(env / "index")])
    assert result.exit_code == 1 and not calls
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
