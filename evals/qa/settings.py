"""Settings of 质检, read only by assembly points (the CLI, the editor)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.settings import data_home


class QASettings(BaseSettings):
    """`KEFU_QA_DIR`: the folder the editor's 质检 tab shows the latest report of (a `kefu qa run --out` folder,
    or a folder of them); default `KEFU_HOME/qa`."""

    model_config = SettingsConfigDict(env_prefix="KEFU_QA_", extra="ignore")

    dir: Path | None = None

    def resolved_dir(self) -> Path:
        return (self.dir or data_home() / "qa").expanduser()
