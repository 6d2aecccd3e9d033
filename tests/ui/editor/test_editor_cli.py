from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from click.testing import CliRunner

from ui.editor_cli import editor


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """Run `kefu editor` with the server replaced by a recorder: the guarded app's login and uvicorn's address."""
    import uvicorn

    import ui.editor.standalone as standalone

    seen: dict[str, Any] = {}
    guarded = standalone.guarded_editor

    def record_app(blocks: gr.Blocks, login: Any, settings: Any) -> Any:
        seen.update(blocks=blocks, auth=login)
        return guarded(blocks, login, settings)

    def run(app: Any, **kwargs: Any) -> None:
        seen.update(kwargs, app=app)

    monkeypatch.setattr(standalone, "guarded_editor", record_app)
    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setenv("KEFU_EMBEDDING_MODEL", "hashing")
    monkeypatch.setenv("KEFU_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KEFU_API_KEYS", raising=False)
    return seen


def test_runs_alone_on_loopback(launched: dict[str, Any], kb_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(editor, ["--kb", str(kb_dir), "--index", str(tmp_path / "idx"), "--port", "7999"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:7999" in result.output
    assert launched["host"] == "127.0.0.1" and launched["port"] == 7999
    assert launched["auth"] is None  # open mode: no API keys configured
    assert (tmp_path / "idx" / "CURRENT").is_file()  # the index was brought up to date first


def test_with_api_keys_only_editors_get_in(
    launched: dict[str, Any], kb_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "KEFU_API_KEYS",
        '{"ed-key-0123456789ab": "editor", "ag-key-0123456789ab": "agent", "ad-key-0123456789ab": "admin"}',
    )
    result = CliRunner().invoke(editor, ["--kb", str(kb_dir), "--index", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    auth = launched["auth"]
    assert auth("小王", "ed-key-0123456789ab") and auth("老板", "ad-key-0123456789ab")
    assert not auth("小李", "ag-key-0123456789ab") and not auth("小王", "wrong") and not auth("", "ed-key-0123456789ab")


def test_a_missing_kb_is_one_line(launched: dict[str, Any], tmp_path: Path) -> None:
    result = CliRunner().invoke(editor, ["--kb", str(tmp_path / "nope"), "--index", str(tmp_path / "idx")])
    assert result.exit_code == 1 and result.output.startswith("error: ") and "nope" in result.output
