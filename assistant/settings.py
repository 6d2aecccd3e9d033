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
    # The whole LLM drafting of one request, retries included; after it the composed drafts are served, so a
    # stuck or slow LLM server never holds a request (or a worker thread) longer than this.
    timeout_s: float = Field(default=8.0, gt=0)
    max_retries: int = Field(default=0, ge=0)


class ChatwootSettings(BaseModel):
    """The Chatwoot integration (CONTRACTS.md §6), e.g. KEFU_CHATWOOT__URL=https://chat.example.com.

    The webhook endpoint needs `webhook_secret` (the secret Chatwoot shows for the webhook); posting notes needs
    `url` and `api_token` (an agent's or agent bot's access token). `post_notes` is on by default once a URL
    is set.
    """

    url: str | None = None
    api_token: SecretStr | None = Field(default=None, repr=False)
    webhook_secret: SecretStr | None = Field(default=None, repr=False)
    post_notes: bool | None = None  # None: on when `url` is set
    max_skew_s: int = Field(default=300, ge=1)  # a signed timestamp older (or newer) than this is refused
    timeout_s: float = Field(default=5.0, gt=0)  # per API call
    retries: int = Field(default=3, ge=0)  # API calls retried on 429, 5xx and network errors, with backoff
    backoff_s: float = Field(default=0.2, ge=0)  # first wait; doubled at each retry
    timezone: str = "Asia/Shanghai"  # the shop's time zone: due times in notes are shown in it

    @property
    def notes_enabled(self) -> bool:
        return bool(self.url) and (self.post_notes if self.post_notes is not None else True)


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
    failed_auth_per_minute: int = Field(default=10, ge=1)  # wrong keys per client IP (API and editor login)
    # Both limits above shared by every replica (redis://host:6379/0); none = each process counts alone.
    redis_url: str | None = Field(default=None, repr=False)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    retention_days: int = Field(default=365, ge=0)  # suggestions and feedback older than this are deleted; 0 = keep
    # Browser origins (https://host[:port]) allowed to call the API and the editor besides this service's own.
    allowed_origins: list[str] = Field(default_factory=list)
    # Parent frames (helpdesk origins) that may embed the sidebar and send it conversations.
    helpdesk_origins: list[str] = Field(default_factory=list)
    chatwoot: ChatwootSettings = ChatwootSettings()
    allow_open: bool = False  # serve without API keys on an address other than loopback
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
