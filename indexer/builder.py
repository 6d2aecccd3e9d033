"""Build an index from a KB, update it with a delta segment, or compact its segments into one.

An update writes a new generation (indexer/store.py) made of the live generation's segments, hard-linked,
plus one new segment holding the added and changed documents, and tombstones for the rows those documents
(and removed ones) had. Searches merge the segments with the index-wide statistics, so the results are those
of a full rebuild of the same KB. Past `MAX_DELTAS` delta segments the deltas are merged into one; past
`COMPACT_FRACTION` of dead or delta rows the whole index is compacted into a single segment.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from indexer.chunking import CHUNKER_VERSION, Chunk, chunk_document
from indexer.embedding import Embedder
from indexer.errors import IndexNotFoundError
from indexer.manifest import FORMAT, DocEntry, Manifest
from indexer.names import LEAD_POSITIONS, Lead, exact_names, read_names, write_names
from indexer.segment import (
    SEGMENTS,
    Segment,
    link_segment,
    new_segment_name,
    read_tombstones,
    write_segment,
    write_tombstones,
)
from indexer.sparse import EMPTY, add_words, tokenize, words_fingerprint
from indexer.store import commit_generation, current_generation, new_generation
from indexer.summary import write_summary
from kb.models import Document, KnowledgeBase, fingerprint

log = logging.getLogger("kefu.indexer")

FEW_PASSAGES = 64  # an update embedding at most this many may use the embedder's fast path (embed_few_passages)
MAX_DELTAS = 8  # more delta segments than this and an update merges them into one
COMPACT_FRACTION = 0.2  # dead rows plus delta rows above this share of the live rows: compact everything


@dataclass
class BuildReport:
    """What a build or update did; `embedded` counts passages sent to the embedder."""

    index_path: Path
    n_docs: int
    n_chunks: int
    embedded: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    seconds: float = 0.0
    segments: int = 1
    dead_rows: int = 0
    compacted: str = ""  # "", "deltas" or "all"

    def summary(self) -> str:
        parts = [f"{self.n_docs} documents, {self.n_chunks} chunks; embedded {self.embedded} chunks"]
        if self.added or self.changed or self.removed:
            parts.append(
                f"added {len(self.added)}, changed {len(self.changed)}, removed {len(self.removed)}, "
                f"unchanged {self.unchanged}"
            )
        parts.append(f"{self.segments} segment{'s' if self.segments != 1 else ''}, {self.dead_rows} dead rows")
        if self.compacted:
            parts.append(f"compacted {self.compacted}")
        return "; ".join(parts) + f" in {self.seconds:.1f}s"


def _embed(embedder: Embedder, chunks: Sequence[Chunk], *, batch: int, progress: bool, few: bool = False) -> np.ndarray:
    """Passage vectors; with `few` (an update), a handful go through the embedder's fast path if it has one."""
    if not chunks:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    texts = [c.embed_text for c in chunks]
    fast = getattr(embedder, "embed_few_passages", None) if few else None
    if fast is not None and len(texts) <= FEW_PASSAGES:
        return np.asarray(fast(texts), dtype=np.float32)
    parts = []
    with Progress(
        TextColumn("embedding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not progress,
        transient=True,
    ) as bar:
        task = bar.add_task("embed", total=len(texts))
        for i in range(0, len(texts), batch):
            parts.append(embedder.embed_passages(texts[i : i + batch]))
            bar.advance(task, len(texts[i : i + batch]))
    return np.concatenate(parts).astype(np.float32)


def _chunker_id(chunk_chars: int) -> str:
    return f"v{CHUNKER_VERSION}:{chunk_chars}"


def _teach_segmenter(kb: KnowledgeBase) -> str:
    """Teach jieba the KB's tags and SKUs; returns their fingerprint, under which stored tokens stay valid."""
    words = [t for d in kb.published for t in d.tags] + [d.sku for d in kb.published if d.sku]
    add_words(words)
    return words_fingerprint(words)


def _leads(chunks: Sequence[Chunk]) -> int:
    """How many of a document's first rows are lead passages (positions grow along the rows)."""
    return sum(1 for c in chunks if c.position < LEAD_POSITIONS)


@dataclass
class _NewSegment:
    """The rows of the segment a write adds, in order, with their vectors and tokens."""

    chunks: list[Chunk] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)


@dataclass
class _Plan:
    """A generation to write: segments kept from the live one (by name), dead rows in them, one new segment."""

    keep: list[str]
    dead: dict[str, np.ndarray]
    new: _NewSegment
    documents: dict[str, DocEntry]
    names: dict[str, set[str]]


def _write_generation(
    index_dir: Path,
    old_gen: Path | None,
    plan: _Plan,
    manifest: Manifest,
    summary: Callable[[Path], None],
    *,
    flat_threshold: int,
) -> Path:
    """Write the planned generation and make it live; an interrupted write leaves the previous one in place."""
    gen = new_generation(index_dir)
    try:
        segments = list(plan.keep)
        for name in plan.keep:
            assert old_gen is not None
            link_segment(old_gen / SEGMENTS / name, gen / SEGMENTS / name)
        if plan.new.chunks:
            name = new_segment_name()
            vectors = np.stack(plan.new.vectors).astype(np.float32)
            write_segment(
                gen / SEGMENTS / name, plan.new.chunks, vectors, plan.new.tokens, flat_threshold=flat_threshold
            )
            segments.append(name)
        write_tombstones(gen, plan.dead)
        leads: dict[str, Lead] = {d: (e.segment, e.row, e.leads) for d, e in plan.documents.items()}
        write_names(gen, plan.names, leads)
        summary(gen)
        manifest.segments = segments
        manifest.documents = plan.documents
        manifest.n_chunks = sum(e.n for e in plan.documents.values())
        manifest.stats["dead_rows"] = int(sum(len(v) for v in plan.dead.values()))
        (gen / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        return commit_generation(index_dir, gen)
    except BaseException:
        shutil.rmtree(gen, ignore_errors=True)
        raise


def _manifest(
    kb: KnowledgeBase, embedder: Embedder, start: datetime, chunk_chars: int, kb_fingerprint: str, stats: dict[str, Any]
) -> Manifest:
    return Manifest(
        model_name=embedder.name,
        model_id=embedder.model_id,
        dim=embedder.dim,
        dense_kind="segments",
        kb_root=str(kb.root),
        kb_fingerprint=kb_fingerprint,
        created=start.isoformat(timespec="seconds"),
        chunker=_chunker_id(chunk_chars),
        stats=stats,
    )


def _stamp(kb: KnowledgeBase, doc: Document) -> str:
    """A document file's modification time and size: while they stay the same, its content hash does too."""
    try:
        st = os.stat(os.path.join(kb.root, doc.path))  # not pathlib: ~3x faster over 170k documents
    except (OSError, ValueError):
        return ""
    return f"{st.st_mtime_ns}:{st.st_size}"


def _doc_names(docs: Sequence[Document], documents: dict[str, DocEntry]) -> dict[str, set[str]]:
    return exact_names((d.id, d.tags, d.sku) for d in docs if documents.get(d.id) and documents[d.id].n)


def _report(final: Path, plan: _Plan, embedded: int, start: datetime, **kw: Any) -> BuildReport:
    return BuildReport(
        final,
        len(plan.documents),
        sum(e.n for e in plan.documents.values()),
        embedded,
        seconds=(datetime.now(UTC) - start).total_seconds(),
        segments=len(plan.keep) + (1 if plan.new.chunks else 0),
        dead_rows=int(sum(len(v) for v in plan.dead.values())),
        **kw,
    )


def build_index(
    kb: KnowledgeBase,
    embedder: Embedder,
    index_dir: Path,
    *,
    flat_threshold: int = 100_000,
    batch_size: int = 32,
    chunk_chars: int = 320,
    progress: bool = False,
) -> BuildReport:
    """Build from scratch into a new generation of one segment and switch to it."""
    start = datetime.now(UTC)
    segmenter = _teach_segmenter(kb)
    per_doc = {d.id: chunk_document(d, max_chars=chunk_chars) for d in kb.published}
    chunks = [c for cs in per_doc.values() for c in cs]
    vectors = _embed(embedder, chunks, batch=batch_size, progress=progress)
    new = _NewSegment(chunks, list(vectors), [tokenize(c.embed_text) for c in chunks])
    documents: dict[str, DocEntry] = {}
    row = 0
    for d in kb.published:
        cs = per_doc[d.id]
        documents[d.id] = DocEntry(d.content_hash, d.version, d.title, 0, row, len(cs), _leads(cs), _stamp(kb, d))
        row += len(cs)
    plan = _Plan([], {}, new, documents, _doc_names(kb.published, documents))
    manifest = _manifest(kb, embedder, start, chunk_chars, kb.fingerprint, {"segmenter": segmenter})
    final = _write_generation(
        index_dir,
        None,
        plan,
        manifest,
        lambda gen: write_summary(gen, kb.fingerprint, len(kb.published)),
        flat_threshold=flat_threshold,
    )
    return _report(final, plan, len(chunks), start, added=sorted(per_doc))


class _OldIndex:
    """The live generation, opened for reading rows, vectors and tokens out of its segments."""

    def __init__(self, gen: Path, manifest: Manifest) -> None:
        self.gen = gen
        self.manifest = manifest
        self.dead = read_tombstones(gen)
        self._open: dict[int, Segment] = {}

    def segment(self, i: int) -> Segment:
        if i not in self._open:
            name = self.manifest.segments[i]
            self._open[i] = Segment.open(self.gen / SEGMENTS / name, self.dead.get(name, np.zeros(0, np.int64)))
        return self._open[i]

    def rows(self, entry: DocEntry) -> list[Chunk]:
        seg = self.segment(entry.segment)
        return [seg.store[r] for r in range(entry.row, entry.row + entry.n)]

    def vectors(self, entry: DocEntry, chunks: Sequence[Chunk]) -> np.ndarray:
        ids = np.fromiter((c.int_id for c in chunks), dtype=np.int64, count=len(chunks))
        return self.segment(entry.segment).dense.vectors_of(ids)

    def tokens(self, entry: DocEntry) -> list[list[str]]:
        p = self.segment(entry.segment).postings
        return [[t for t in p.row_tokens(r) if t != EMPTY] for r in range(entry.row, entry.row + entry.n)]

    def exact_vectors(self, entry: DocEntry) -> bool:
        """Whether this document's stored vectors are the embedder's own (flat), not 8-bit codes (HNSW)."""
        return self.segment(entry.segment).dense.kind == "flat"


def _carry(old: _OldIndex, entry: DocEntry, new: _NewSegment, *, retokenize: bool) -> list[Chunk]:
    """Move an unchanged document's rows, vectors and tokens into the new segment."""
    chunks = old.rows(entry)
    new.chunks.extend(chunks)
    new.vectors.extend(old.vectors(entry, chunks))
    new.tokens.extend([tokenize(c.embed_text) for c in chunks] if retokenize else old.tokens(entry))
    return chunks


def _rewrite(
    old: _OldIndex,
    heads: dict[str, tuple[str, int, str, str]],
    edited: dict[str, list[Chunk]],
    removed: set[str],
    embedder: Embedder,
    *,
    merge_from: int,
    retokenize: bool,
    batch_size: int,
    progress: bool,
) -> tuple[_Plan, int]:
    """Plan the next generation: segments before `merge_from` stay (with more dead rows); the documents in the
    later ones, and the `edited` ones (added or changed, already chunked; `heads` gives their hash, version and
    title and file stamp), go into one new segment. `removed` documents are dropped.

    Only edited, removed and moved documents are visited, so an edit costs what it touches, not what the KB
    holds. A changed document's passages that did not change keep their vectors and tokens where the vectors
    are exact (a flat segment); the rest are embedded and segmented.
    """
    m = old.manifest
    keep = m.segments[:merge_from]
    dead = {name: set(old.dead.get(name, np.zeros(0, np.int64)).tolist()) for name in keep}
    for doc_id in removed | set(edited):
        e = m.documents.get(doc_id)
        if e is not None and e.segment < merge_from:
            dead[keep[e.segment]].update(range(e.row, e.row + e.n))
    documents = {k: v for k, v in m.documents.items() if k not in removed}
    new = _NewSegment()
    to_embed: list[int] = []
    seg_index = len(keep)
    for doc_id, cs in edited.items():
        e = m.documents.get(doc_id)
        reuse: dict[str, tuple[np.ndarray, list[str]]] = {}
        if e is not None and old.exact_vectors(e):
            before = old.rows(e)
            vecs = old.vectors(e, before)
            toks = old.tokens(e) if not retokenize else [tokenize(c.embed_text) for c in before]
            reuse = {c.chunk_id: (v, t) for c, v, t in zip(before, vecs, toks, strict=True)}
        row = len(new.chunks)
        for c in cs:
            if c.chunk_id in reuse:
                v, t = reuse[c.chunk_id]
            else:
                v, t = np.zeros(0, dtype=np.float32), tokenize(c.embed_text)
                to_embed.append(len(new.chunks))
            new.chunks.append(c)
            new.vectors.append(v)
            new.tokens.append(t)
        h, version, title, stamp = heads[doc_id]
        documents[doc_id] = DocEntry(h, version, title, seg_index, row, len(cs), _leads(cs), stamp)
    if merge_from < len(m.segments):
        for doc_id, e in m.documents.items():
            if e.segment >= merge_from and doc_id not in removed and doc_id not in edited:
                row = len(new.chunks)
                cs = _carry(old, e, new, retokenize=retokenize)
                documents[doc_id] = DocEntry(e.hash, e.version, e.title, seg_index, row, len(cs), e.leads, e.stamp)
    vectors = _embed(embedder, [new.chunks[i] for i in to_embed], batch=batch_size, progress=progress, few=True)
    for i, v in zip(to_embed, vectors, strict=True):
        new.vectors[i] = v
    dead_arrays = {name: np.array(sorted(rows), dtype=np.int64) for name, rows in dead.items()}
    return _Plan(keep, dead_arrays, new, documents, {}), len(to_embed)


def _merge_from(old: _OldIndex, n_new: int) -> tuple[int, str]:
    """Which segments the next write merges: none (a new delta), the deltas, or all of them."""
    m = old.manifest
    dead = sum(len(v) for v in old.dead.values())
    delta_rows = sum(e.n for e in m.documents.values() if e.segment > 0) + n_new
    if dead + delta_rows > COMPACT_FRACTION * m.n_chunks:
        return 0, "all"
    if len(m.segments) > MAX_DELTAS:  # the base and MAX_DELTAS deltas, plus the one this write adds
        return 1, "deltas"
    return len(m.segments), ""


def update_index(
    kb: KnowledgeBase,
    embedder: Embedder,
    index_dir: Path,
    *,
    flat_threshold: int = 100_000,
    batch_size: int = 32,
    chunk_chars: int = 320,
    progress: bool = False,
) -> BuildReport:
    """Embed only added or changed documents, into a delta segment; tombstone removed or unpublished ones.

    Builds from scratch when there is no index yet, or one of another format or chunker (an index of an
    older kefu is rebuilt here). Compacts when the deltas grew past the thresholds (module docstring), and
    when the KB's tags or SKUs changed: they change how every passage is segmented for BM25.
    """
    from indexer.index import check_model

    start = datetime.now(UTC)

    def rebuild() -> BuildReport:
        return build_index(
            kb,
            embedder,
            index_dir,
            flat_threshold=flat_threshold,
            batch_size=batch_size,
            chunk_chars=chunk_chars,
            progress=progress,
        )

    try:
        old_gen = current_generation(index_dir)
    except IndexNotFoundError:
        return rebuild()
    m = Manifest.read(old_gen / "manifest.json")
    check_model(m, embedder, index_dir)
    if m.format != FORMAT or m.chunker != _chunker_id(chunk_chars):
        log.info("%s: index format %s / chunker %s differ from this kefu's; rebuilding", index_dir, m.format, m.chunker)
        return rebuild()
    published = {d.id: d for d in kb.published}
    heads: dict[str, tuple[str, int, str, str]] = {}
    for doc_id, d in published.items():  # a file whose time and size did not change keeps its hash unread
        e, stamp = m.documents.get(doc_id), _stamp(kb, d)
        same = e is not None and stamp and e.stamp == stamp
        heads[doc_id] = (e.hash if same and e else d.content_hash, d.version, d.title, stamp)
    added = sorted(set(published) - set(m.documents))
    removed = sorted(set(m.documents) - set(published))
    changed = sorted(i for i in set(published) & set(m.documents) if heads[i][0] != m.documents[i].hash)
    old = _OldIndex(old_gen, m)
    renamed = (
        any(_naming(published[i]) != _old_naming(old, m.documents[i]) for i in changed)
        or any(published[i].tags or published[i].sku for i in added)
        or any(_old_naming(old, m.documents[i]) != ((), None) for i in removed)
    )
    if renamed:  # tags or SKUs changed: the segmenter's words and the exact names may have
        segmenter = _teach_segmenter(kb)
    else:
        add_words(w for d in kb.published for w in (*d.tags, d.sku or ""))
        segmenter = str(m.stats.get("segmenter", ""))
    retokenize = m.stats.get("segmenter") != segmenter
    if not (added or removed or changed or retokenize):
        return BuildReport(
            old_gen,
            len(published),
            m.n_chunks,
            0,
            unchanged=len(published),
            seconds=(datetime.now(UTC) - start).total_seconds(),
            segments=len(m.segments),
            dead_rows=int(m.stats.get("dead_rows", 0)),
        )
    edited = {i: chunk_document(published[i], max_chars=chunk_chars) for i in sorted(set(added) | set(changed))}
    if retokenize:  # every passage is segmented again: rewrite all of it
        merge_from, compacted = 0, "all"
    else:
        merge_from, compacted = _merge_from(old, sum(len(cs) for cs in edited.values()))
    plan, embedded = _rewrite(
        old,
        {i: heads[i] for i in edited},
        edited,
        set(removed),
        embedder,
        merge_from=merge_from,
        retokenize=retokenize,
        batch_size=batch_size,
        progress=progress,
    )
    for doc_id, (h, _, _, stamp) in heads.items():  # files touched without a change: remember them unread
        e = plan.documents.get(doc_id)
        if e is not None and e.hash == h and e.stamp != stamp:
            e.stamp = stamp
    if renamed:
        plan.names = _doc_names(kb.published, plan.documents)
    else:
        plan.names = {n: set(docs) for n, docs in read_names(old_gen)[0].items()}
    kb_fingerprint = fingerprint((i, h[0]) for i, h in heads.items())
    manifest = _manifest(kb, embedder, start, chunk_chars, kb_fingerprint, {"segmenter": segmenter})
    final = _write_generation(
        index_dir,
        old_gen,
        plan,
        manifest,
        lambda gen: write_summary(gen, kb_fingerprint, len(published)),
        flat_threshold=flat_threshold,
    )
    return _report(
        final,
        plan,
        embedded,
        start,
        added=added,
        changed=changed,
        removed=removed,
        unchanged=len(published) - len(added) - len(changed),
        compacted=compacted,
    )


def _naming(doc: Document) -> tuple[tuple[str, ...], str | None]:
    return tuple(doc.tags), doc.sku


def _old_naming(old: _OldIndex, e: DocEntry) -> tuple[tuple[str, ...], str | None]:
    """The tags and SKU a document had when it was indexed (its first passage carries them)."""
    if not e.n:
        return (), None
    first = old.segment(e.segment).store[e.row]
    return first.tags, first.sku


def compact_index(index_dir: Path, embedder: Embedder, *, flat_threshold: int = 100_000) -> BuildReport:
    """Merge every segment of the live generation into one, dropping dead rows; nothing is embedded."""
    from indexer.index import check_format, check_model

    start = datetime.now(UTC)
    old_gen = current_generation(index_dir)
    m = Manifest.read(old_gen / "manifest.json")
    check_format(m, old_gen, index_dir)
    check_model(m, embedder, index_dir)
    old = _OldIndex(old_gen, m)
    plan, _ = _rewrite(old, {}, {}, set(), embedder, merge_from=0, retokenize=False, batch_size=32, progress=False)
    plan.names = {n: set(docs) for n, docs in read_names(old_gen)[0].items()}
    manifest = Manifest(**{**m.__dict__, "created": start.isoformat(timespec="seconds"), "stats": dict(m.stats)})

    def summary(gen: Path) -> None:
        shutil.copy2(old_gen / "kb_summary.json", gen / "kb_summary.json")

    final = _write_generation(index_dir, old_gen, plan, manifest, summary, flat_threshold=flat_threshold)
    return _report(final, plan, 0, start, unchanged=len(plan.documents), compacted="all")
