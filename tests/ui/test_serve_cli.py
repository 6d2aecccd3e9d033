"""`kefu serve`: assembly of the app (index, store, sidebar) and the uvicorn call, without opening a port."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.conftest import write_kb
from ui.serve_cli import drop_query_strings, is_loopback, serve


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KEFU_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("KEFU_HOME", str(tmp_path / "home"))
    for var in ("KEFU_API_KEYS", "KEFU_DATABASE_URL", "KEFU_HOST", "KEFU_PORT", "KEFU_INDEX_DIR", "KEFU_KB_DIR",
                "KEFU_ALLOW_OPEN", "KEFU_HELPDESK_ORIGINS"):  # fmt: skip
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
    assert "/sidebar#key=" in result.output  # issue 14 (7): a fragment never reaches a server


def test_serve_on_a_missing_kb_exits_with_one_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result, calls = run_serve(monkeypatch, ["--kb", str(env / "nope"), "--index", str(env / "index")])
    assert result.exit_code == 1 and not calls
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


# -- issue 14 (7, 11, 14) ---------------------------------------------------------------------------------


def test_without_keys_a_public_address_is_refused_unless_allowed(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["--kb", str(write_kb(env / "kb")), "--index", str(env / "index"), "--host", "0.0.0.0"]
    result, calls = run_serve(monkeypatch, args)
    assert result.exit_code == 2 and not calls and "--allow-open" in result.output
    result, calls = run_serve(monkeypatch, [*args, "--allow-open"])
    assert result.exit_code == 0 and calls["host"] == "0.0.0.0"


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                ("0.0.0.0", False), ("192.168.1.5", False), ("kefu.example", False)])  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_access_log_leaves_out_query_strings() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "GET", "/v1/search?q=我的手机13812345678", "1.1", 200), None)  # fmt: skip
    assert drop_query_strings(record) and "13812345678" not in record.getMessage()
    assert "/v1/search" in record.getMessage()


def test_sidebar_names_its_helpdesks_and_swagger_is_not_served(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_HELPDESK_ORIGINS", '["https://Help.Example:443"]')
    result, calls = run_serve(monkeypatch, ["--kb", str(write_kb(env / "kb")), "--index", str(env / "index")])
    assert result.exit_code == 0, result.output
    with TestClient(calls["app"]) as c:
        page = c.get("/sidebar")
        assert page.headers["content-security-policy"] == "frame-ancestors 'self' https://help.example"
        assert '<meta name="kefu-helpdesk-origins" content="https://help.example">' in page.text
        assert c.get("/docs").status_code == 404 and c.get("/redoc").status_code == 404  # no CDN scripts
        assert c.get("/openapi.json").status_code == 200
