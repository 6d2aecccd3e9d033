"""Heading-aware chunking that keeps Chinese sentences whole and carries the title into each chunk."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from kb.models import Document

# Bump when chunking changes what chunks contain: `kefu index update` then rebuilds everything.
CHUNKER_VERSION = 3

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# A sentence ends at 。！？； (or their ASCII forms followed by space/end) and any closing quotes.
_SENTENCE = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[」』”’）)]*|\n|$)")


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage of one document."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    doc_type: str
    category: str
    position: int
    tags: tuple[str, ...] = ()
    sku: str | None = None

    @property
    def embed_text(self) -> str:
        """What is embedded and BM25-indexed: title and section name carry the context."""
        head = self.title if not self.section or self.section == self.title else f"{self.title}｜{self.section}"
        return f"{head}\n{self.text}"

    @property
    def int_id(self) -> int:
        """63-bit integer form of the chunk id, used as the FAISS id."""
        return int(self.chunk_id[:15], 16)

    def to_dict(self) -> dict[str, object]:
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "section": self.section,
            "text": self.text,
            "doc_type": self.doc_type,
            "category": self.category,
            "position": self.position,
            "tags": list(self.tags),
            "sku": self.sku,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Chunk:
        tags = d.get("tags") or []
        assert isinstance(tags, list)
        return cls(
            chunk_id=str(d["chunk_id"]),
            doc_id=str(d["doc_id"]),
            title=str(d["title"]),
            section=str(d["section"]),
            text=str(d["text"]),
            doc_type=str(d["doc_type"]),
            category=str(d["category"]),
            position=int(str(d["position"])),
            tags=tuple(str(t) for t in tags),
            sku=str(d["sku"]) if d.get("sku") else None,
        )


def split_sentences(text: str) -> list[str]:
    """Split Chinese/English text into sentences, keeping the end punctuation with each."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _sections(body: str) -> list[tuple[str, str]]:
    """(heading path, text) pairs; text before the first heading gets an empty heading."""
    out: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            out.append((" > ".join(h for _, h in stack), text))
        lines.clear()

    for line in body.splitlines():
        m = _HEADING.match(line)
        if m:
            flush()
            level = len(m.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, m.group(2).strip()))
        else:
            lines.append(line)
    flush()
    return out


_TABLE_SEP = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


# A header cell that is a value rather than a column's name: a size (39, 110, M, XL, 2XL).
_VALUE_CELL = re.compile(r"^(?:\d+(?:\.\d+)?|[2-5]?X{0,3}[SML]|均码)$", re.IGNORECASE)


def _row_sentence(label: str, names: list[str], values: list[str]) -> str:
    pairs = [f"{h}{v}" if h and not v.startswith(h) else v for h, v in zip(names, values, strict=False) if v]
    return f"{label}：{'，'.join(pairs)}。"


def tables_to_sentences(lines: list[str]) -> list[str]:
    """Markdown tables become one sentence per row ("M：参考身高160-165，充绒量110g。"), so a row can be
    retrieved and quoted on its own; other lines pass through. A table laid out sideways, its header a row of
    sizes (| 尺码 | 39 | 40 |, | 脚长（mm） | 245 | 250 |), becomes one sentence per column ("尺码39：脚长（mm）245。")."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("|") and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1].strip()):
            header = _cells(line)
            i += 2
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            sideways = len(header) > 2 and all(_VALUE_CELL.match(h) for h in header[1:])
            if sideways:
                labels = [r[0] for r in rows if r and r[0]]
                for col, size in enumerate(header[1:], start=1):
                    values = [r[col] if col < len(r) else "" for r in rows if r and r[0]]
                    out.append(_row_sentence(f"{header[0]}{size}", labels, values))
            else:
                out.extend(_row_sentence(f"{header[0]}{row[0]}", header[1:], row[1:]) for row in rows if row and row[0])
            continue
        out.append(lines[i])
        i += 1
    return out


def _pack(sentences: list[str], max_chars: int) -> list[str]:
    """Greedily pack whole sentences into pieces of at most max_chars (a longer sentence stands alone)."""
    pieces: list[str] = []
    cur = ""
    for s in sentences:
        if cur and len(cur) + len(s) > max_chars:
            pieces.append(cur)
            cur = ""
        cur = f"{cur}{s}" if not cur or cur.endswith(("。", "！", "？", "；", "\n")) else f"{cur}\n{s}"
    if cur:
        pieces.append(cur)
    return pieces


def _specs_text(doc: Document) -> str:
    parts = [f"{k}：{v}" for k, v in doc.specs.items()]
    if doc.sku:
        parts.insert(0, f"货号：{doc.sku}")
    if doc.price is not None:
        parts.insert(1 if doc.sku else 0, f"价格：{doc.price:g}元")
    return "；".join(parts) + "。" if parts else ""


def chunk_document(doc: Document, *, max_chars: int = 320) -> list[Chunk]:
    """Chunks of one document: one per section, long sections split at sentence ends."""
    raw: list[tuple[str, str]] = []
    specs = _specs_text(doc)
    if specs:
        raw.append(("规格参数", specs))
    for heading, text in _sections(doc.body):
        lines = tables_to_sentences([ln for ln in text.splitlines() if ln.strip()])
        sentences = [s for ln in lines for s in split_sentences(ln)]
        for piece in _pack(sentences, max_chars):
            raw.append((heading, piece))
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for pos, (section, text) in enumerate(raw):
        digest = hashlib.sha256(f"{doc.id}\x00{doc.title}\x00{section}\x00{text}".encode()).hexdigest()
        chunk_id = digest[:16]
        if chunk_id in seen:  # the same passage twice in one document adds nothing
            continue
        seen.add(chunk_id)
        chunks.append(
            Chunk(
                chunk_id=chunk_id,
                doc_id=doc.id,
                title=doc.title,
                section=section,
                text=text,
                doc_type=doc.type,
                category=doc.category,
                position=pos,
                tags=doc.tags,
                sku=doc.sku,
            )
        )
    return chunks
