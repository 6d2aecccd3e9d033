"""Typed views of knowledge-base content."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kb.rules import Rules, unique, words_as_text

DOC_TYPES = ("policy", "product", "faq", "script")
CATEGORIES = ("pre_sale", "in_sale", "after_sale", "general")
STATUSES = ("draft", "published", "archived")


@dataclass(frozen=True)
class Document:
    """One KB document: front matter plus Markdown body."""

    id: str
    title: str
    type: str
    category: str
    body: str
    tags: tuple[str, ...] = ()
    status: str = "published"
    version: int = 1
    updated: date | None = None
    sku: str | None = None
    price: float | None = None
    specs: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    path: str = ""
    # The file's (modification time in ns, size) taken before it was read, (0, 0) when not read from a file:
    # while they stay the same so does the content, so an index update need not hash it again.
    file_stamp: tuple[int, int] = field(default=(0, 0), compare=False, repr=False)

    @property
    def published(self) -> bool:
        return self.status == "published"

    @cached_property
    def content_hash(self) -> str:
        """Hash of everything that retrieval sees; changes when the document must be re-embedded."""
        h = hashlib.sha256()
        for part in (
            self.id,
            self.title,
            self.type,
            self.category,
            self.status,
            "|".join(self.tags),
            self.sku or "",
            str(self.price or ""),
            repr(sorted(self.specs.items())),
            self.body,
        ):
            h.update(part.encode("utf-8"))
            h.update(b"\x00")
        return h.hexdigest()[:16]


class Intent(BaseModel):
    """One intent of the taxonomy (an item of intents.yaml) with its stage and exemplar customer messages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    stage: Literal["pre_sale", "in_sale", "after_sale", "general"] = "general"
    description: str = ""
    examples: tuple[str, ...] = ()  # customer messages the classifier learns from
    keywords: tuple[str, ...] = ()  # words that, when a customer uses them, point strongly to the intent

    @field_validator("keywords", mode="before")
    @classmethod
    def _words(cls, value: Any) -> Any:
        return words_as_text(value)


class IntentsFile(BaseModel):
    """A whole intents.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intents: tuple[Intent, ...] = Field(min_length=1)

    @field_validator("intents")
    @classmethod
    def _unique(cls, intents: tuple[Intent, ...]) -> tuple[Intent, ...]:
        unique("intent names", [i.name for i in intents])
        return intents


@dataclass(frozen=True)
class KnowledgeBase:
    """A loaded KB directory: documents, reply rules and intents."""

    root: Path
    documents: tuple[Document, ...]
    rules: Rules
    intents: tuple[Intent, ...]

    def get(self, doc_id: str) -> Document | None:
        return next((d for d in self.documents if d.id == doc_id), None)

    @cached_property
    def published(self) -> tuple[Document, ...]:
        return tuple(d for d in self.documents if d.published)

    @cached_property
    def fingerprint(self) -> str:
        """Stable hash of the published documents; the 'KB version' shown to users."""
        return fingerprint((d.id, d.content_hash) for d in self.published)

    def summary(self) -> KBSummary:
        return KBSummary(self.root, self.rules, self.intents, self.fingerprint, len(self.published))

    @property
    def intent_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.intents)


@dataclass(frozen=True)
class KBSummary:
    """What answering needs of a KB: rules, intents and the version of its published documents, without the
    documents themselves (the bodies of a large KB took hundreds of MB in the serving process)."""

    root: Path
    rules: Rules
    intents: tuple[Intent, ...]
    fingerprint: str
    n_published: int


def fingerprint(id_hashes: Iterable[tuple[str, str]]) -> str:
    """The KB version of published documents given as (id, content hash) pairs."""
    h = hashlib.sha256()
    for doc_id, content_hash in sorted(id_hashes):
        h.update(f"{doc_id}:{content_hash}\n".encode())
    return h.hexdigest()[:12]
