"""Settings of the indexer, read only by assembly points (CLI, service, editor)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


def data_home() -> Path:
    """Per-user data directory: $KEFU_HOME, else $XDG_DATA_HOME/kefu, else ~/.local/share/kefu."""
    if os.environ.get("KEFU_HOME"):
        return Path(os.environ["KEFU_HOME"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "kefu"


class IndexerSettings(BaseSettings):
    """`KEFU_EMBEDDING_MODEL` points at any sentence-transformers folder; empty = the prepared e5-small.

    `KEFU_QUERY_ENCODER`: `auto` embeds queries with the model's int8 ONNX copy when there is one (made by
    `kefu model prepare` / `kefu model optimize`), `onnx` requires it, `torch` always uses PyTorch."""

    model_config = SettingsConfigDict(env_prefix="KEFU_", env_nested_delimiter="__", extra="ignore")

    embedding_model: str | None = None
    index_dir: Path | None = None
    kb_dir: Path | None = None
    flat_threshold: int = 100_000
    batch_size: int = 32
    chunk_chars: int = 320
    query_encoder: Literal["auto", "onnx", "torch"] = "auto"

    def resolved_index_dir(self, kb_dir: Path) -> Path:
        """The configured index dir, else one per KB folder under the data directory."""
        if self.index_dir:
            return self.index_dir
        resolved = kb_dir.expanduser().resolve()
        tag = hashlib.sha256(str(resolved).encode()).hexdigest()[:8]
        return data_home() / "indexes" / f"{resolved.name}-{tag}"

    def resolved_model_dir(self) -> Path:
        if self.embedding_model:
            return Path(self.embedding_model).expanduser()
        return data_home() / "models" / "multilingual-e5-small"
