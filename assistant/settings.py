"""Settings of the assistant and its service (env prefix KEFU_, nested with __)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["agent", "editor", "admin"]


class LLMSettings(BaseModel):
    """The optional LLM drafter, e.g. KEFU_LLM__PROVIDER=openai KEFU_LLM__BASE_URL=http://127.0.0.1:8080/v1."""

    provider: Literal["openai", "ollama", "llamacpp"] | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str | None = None
    model_path: Path | None = None  # a GGUF file for llama.cpp
    temperature: float = 0.3
    timeout_s: float = 30.0


class AssistantSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEFU_", env_nested_delimiter="__", extra="ignore")

    k: int = 10  # documents retrieved (and reported); drafts quote the top three
    retriever: Literal["hybrid", "dense", "bm25"] = "hybrid"
    drafter: Literal["template", "llm"] = "template"
    answerable_threshold: float | None = None
    llm: LLMSettings = LLMSettings()

    # The HTTP service (`kefu serve`).
    # KEFU_API_KEYS='{"key1": "agent", "key2": "editor", "key3": "admin"}'; none = open mode (local use only).
    api_keys: dict[str, Role] = Field(default_factory=dict, repr=False)
    database_url: str | None = Field(default=None, repr=False)  # default: sqlite in the data directory
    rate_limit_per_minute: int = Field(default=240, ge=0)  # per key (per client IP in open mode); 0 = off
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
