"""Synthetic KBs for the benchmark: the demo KB plus perturbed copies of its documents, up to N chunks.

The original documents stay untouched (so eval labels such as `policy-return-7day` still hold); every
copy is a distractor with its own id (`policy-return-7day-s00042`), a store-specific title, swapped
synonyms, reordered sentences and changed numbers. Copies are written as Markdown files (CONTRACTS.md §1)
so the real loader and chunker run on them.

>>> grow_kb(demo_kb_dir(), tmp / "kb", chunks=10_000).n_chunks
10003
"""

from __future__ import annotations

import json
import random
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from indexer.chunking import chunk_document, split_sentences
from kb.loader import load_kb, parse_document
from kb.models import Document

STORES = (
    "栖木旗舰店",
    "栖木官方店",
    "栖木家居馆",
    "栖木优选",
    "栖木生活馆",
    "栖木工厂店",
    "栖木海外店",
    "栖木直播间",
    "栖木会员店",
    "栖木奥莱店",
    "栖木百货店",
    "栖木精品店",
)
# Pairs swapped in either direction, each with even odds per copy.
SYNONYMS = (
    ("商品", "宝贝"),
    ("签收", "收货"),
    ("客服", "售后专员"),
    ("申请", "提交"),
    ("可以", "能够"),
    ("快递", "物流"),
    ("店铺", "本店"),
    ("请勿", "切勿"),
    ("订单", "单子"),
    ("退款", "退回款项"),
    ("问题", "情况"),
    ("运费", "邮费"),
    ("联系", "咨询"),
    ("需要", "须"),
    ("包装", "外包装"),
)
_NUMBER = re.compile(r"(?<![A-Za-z0-9\-.])\d+(?:\.\d+)?")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.、)])\s+")
_ID_SUFFIX_WIDTH = 5


@dataclass(frozen=True)
class SynthKB:
    """A grown KB on disk: how many documents and chunks it has, and how long writing it took."""

    root: Path
    n_docs: int
    n_chunks: int
    n_copies: int
    seconds: float


def _nudge_numbers(text: str, rng: random.Random, p: float) -> str:
    def one(m: re.Match[str]) -> str:
        s = m.group(0)
        if rng.random() >= p:
            return s
        if "." in s:
            decimals = len(s.split(".")[1])
            return f"{float(s) * rng.uniform(0.8, 1.25):.{decimals}f}"
        v = int(s)
        if v == 0 or len(s) > 6:  # zero and long codes (dates, phone-like) stay as they are
            return s
        step = max(1, round(v * rng.uniform(0.1, 0.3)))
        return str(max(1, v + rng.choice((-step, step))))

    return _NUMBER.sub(one, text)


def _swap_synonyms(text: str, rng: random.Random) -> str:
    for a, b in SYNONYMS:
        if rng.random() < 0.5:
            continue
        if a in text:
            text = text.replace(a, b)
        elif b in text:
            text = text.replace(b, a)
    return text


def _reorder(body: str, rng: random.Random) -> str:
    """Shuffle the sentences inside plain paragraphs; headings, list items and Q&A lines keep their place."""
    out = []
    for line in body.splitlines():
        plain = line.strip() and not line.lstrip().startswith(("#", "**", "|", ">")) and not _LIST_ITEM.match(line)
        sentences = split_sentences(line) if plain else []
        if len(sentences) > 2 and rng.random() < 0.6:
            head, rest = sentences[0], sentences[1:]
            rng.shuffle(rest)  # the first sentence usually names the subject: keep it first
            line = "".join([head, *rest])
        out.append(line)
    return "\n".join(out)


def _front_matter(fields: dict[str, object]) -> str:
    # JSON scalars, lists and objects are valid YAML flow values and need no escaping rules of their own.
    lines = ["---"]
    for key, value in fields.items():
        if value is None or value == [] or value == {}:
            continue
        lines.append(f"{key}: {value if isinstance(value, int) else json.dumps(value, ensure_ascii=False)}")
    lines.append("---")
    return "\n".join(lines)


def perturb(doc: Document, n: int, seed: int = 0) -> str:
    """The Markdown text of copy number `n` of `doc`: new id, title, wording, sentence order and numbers."""
    rng = random.Random(f"{seed}:{doc.id}:{n}")
    store = STORES[n % len(STORES)]
    new_id = f"{doc.id}-s{n:0{_ID_SUFFIX_WIDTH}d}"
    title = f"{store}·{doc.title}"
    intro = f"本文适用于{store}（第{n}号店铺规则）。"
    body = _nudge_numbers(_swap_synonyms(_reorder(doc.body, rng), rng), rng, p=0.4)
    body = _insert_after_first_heading(body, intro)
    tags = [t for t in doc.tags if rng.random() < 0.8]
    specs = {k: _nudge_numbers(v, rng, p=0.5) for k, v in doc.specs.items()}
    fields: dict[str, object] = {
        "id": new_id,
        "title": title,
        "type": doc.type,
        "category": doc.category,
        "tags": tags,
        "status": doc.status,
        "version": 1 + rng.randrange(5),
        "updated": f"2026-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}",
        "sku": f"{doc.sku}-S{n}" if doc.sku else None,
        "price": round(doc.price * rng.uniform(0.8, 1.2), 1) if doc.price is not None else None,
        "specs": specs,
    }
    return f"{_front_matter(fields)}\n\n{body}\n"


def _insert_after_first_heading(body: str, sentence: str) -> str:
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            lines[i] = f"{sentence}{line}" if not _LIST_ITEM.match(line) else f"{sentence}\n{line}"
            return "\n".join(lines)
    return f"{sentence}\n{body}"


def grow_kb(source: Path, dest: Path, *, chunks: int, seed: int = 0, chunk_chars: int = 320) -> SynthKB:
    """Copy the KB at `source` to `dest` and add perturbed copies of its documents until `chunks` is reached.

    Copies cycle through the source's published documents in a fixed order, so a smaller KB grown with
    the same seed is a subset of a larger one. The count is exact as the indexer will chunk (with
    `chunk_chars`), overshooting by less than one document; a KB whose originals alone reach `chunks`
    is copied as is.
    """
    start = time.perf_counter()
    kb = load_kb(source)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "docs").mkdir(parents=True)
    for path in sorted((source / "docs").rglob("*.md")):
        target = dest / "docs" / path.relative_to(source / "docs")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    for name in ("rules.yaml", "intents.yaml"):
        if (source / name).is_file():
            shutil.copyfile(source / name, dest / name)
    originals = sorted(kb.published, key=lambda d: d.id)
    total = sum(len(chunk_document(d, max_chars=chunk_chars)) for d in originals)
    n_docs = len(kb.documents)
    n = 0
    while total < chunks:
        doc = originals[n % len(originals)]
        text = perturb(doc, n, seed)
        folder = dest / "docs" / "synth" / f"{n // 1000:04d}"
        if n % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        rel = Path("synth") / folder.name / f"{doc.id}-s{n:0{_ID_SUFFIX_WIDTH}d}.md"
        copy = parse_document(text, rel)  # the loader's own check: every copy is a valid document
        total += len(chunk_document(copy, max_chars=chunk_chars))
        (dest / "docs" / rel).write_text(text, encoding="utf-8")
        n += 1
        n_docs += 1
    return SynthKB(dest, n_docs, total, n, time.perf_counter() - start)
