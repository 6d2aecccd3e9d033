"""Build an index from a KB, update it with a delta segment, or compact its segments into one.

An update writes a new generation (indexer/store.py) made of the live generation's segments, hard-linked,
plus one new segment holding the added and changed documents, and tombstones for the rows those documents
(and removed ones) had. Searches merge the segments with the index-wide statistics, so the results are those
of a full rebuild of the same KB. Past `MAX_DELTAS` delta segments the deltas are merged into one; past
`COMPACT_FRACTION` of dead or delta rows the whole index is compacted into a single segment.

What an update does per document of the KB is array work: the document table (indexer/documents.py) is
compared with the KB's ids and file stamps (taken by the KB loader) in numpy, and only the documents whose
stamp changed are hashed; the names, the document table's base and the live segments are hard-linked. Python
work per document is for the edited, removed and moved ones.
"""

from __future__ import annotations

import itertools
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from indexer.chunking import CHUNKER_VERSION, Chunk, chunk_document
from indexer.chunkstore import ChunkStore
from indexer.dense import DenseIndex
from indexer.documents import DocEntry, DocTable, Row, member, records, write_documents
from indexer.documents import fingerprint as table_fingerprint
from indexer.embedding import Embedder
from indexer.errors import IndexNotFoundError
from indexer.manifest import FORMAT, MANIFEST, Manifest
from indexer.names import LEAD_POSITIONS, exact_names, keep_names, write_names
from indexer.segment import (
    BM25,
    DENSE,
    SEGMENTS,
    dense_kind,
    link_segment,
    new_segment_name,
    read_tombstones,
    write_segment,
    write_tombstones,
)
from indexer.sparse import EMPTY, Postings, taught, teach, tokenize
from indexer.store import commit_generation, current_generation, new_generation
from indexer.summary import write_summary
from kb.models import Document, KnowledgeBase

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
    return teach([t for d in kb.published for t in d.tags] + [d.sku for d in kb.published if d.sku])


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
    """A generation to write: segments kept from the live one (by name), dead rows in them, one new segment,
    the document table, and the exact names (None: the live generation's, unchanged)."""

    keep: list[str]
    dead: dict[str, np.ndarray]
    new: _NewSegment
    table: DocTable
    names: dict[str, set[str]] | None


def _write_generation(
    index_dir: Path,
    old_gen: Path | None,
    plan: _Plan,
    manifest: Manifest,
    summary: Callable[[Path], None],
    *,
    base_of: Path | None,
    flat_threshold: int,
) -> Path:
    """Write the planned generation and make it live; an interrupted write leaves the previous one in place.
    `base_of`: the generation whose document table base this one shares (hard-linked), if any."""
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
        write_documents(gen, plan.table, base_of=base_of)
        if plan.names is None:
            assert old_gen is not None
            keep_names(gen, old_gen)
        else:
            write_names(gen, plan.names)
        summary(gen)
        manifest.segments = segments
        manifest.n_chunks = int(plan.table.records["n"].sum())
        manifest.n_docs = len(plan.table)
        manifest.stats["dead_rows"] = int(sum(len(v) for v in plan.dead.values()))
        (gen / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
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


def _doc_names(docs: Sequence[Document], table: DocTable) -> dict[str, set[str]]:
    recs = table.records
    indexed = {i.decode() for i in recs["id"][recs["n"] > 0]}
    return exact_names((d.id, d.tags, d.sku) for d in docs if d.id in indexed)


def _report(final: Path, plan: _Plan, embedded: int, start: datetime, **kw: Any) -> BuildReport:
    return BuildReport(
        final,
        len(plan.table),
        int(plan.table.records["n"].sum()),
        embedded,
        seconds=(datetime.now(UTC) - start).total_seconds(),
        segments=len(plan.keep) + (1 if plan.new.chunks else 0),
        dead_rows=int(sum(len(v) for v in plan.dead.values())),
        **kw,
    )


def _row(doc: Document, content_hash: str, segment: int, row: int, chunks: Sequence[Chunk]) -> Row:
    """The document table's record of a document written into `segment` from `row` on."""
    return (doc.id, content_hash, doc.version, segment, row, len(chunks), _leads(chunks), *doc.file_stamp, False)


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
    rows: list[Row] = []
    row = 0
    for d in kb.published:
        rows.append(_row(d, d.content_hash, 0, row, per_doc[d.id]))
        row += len(per_doc[d.id])
    table = DocTable.empty().updated(records(rows), fold=True)
    plan = _Plan([], {}, new, table, _doc_names(kb.published, table))
    manifest = _manifest(kb, embedder, start, chunk_chars, kb.fingerprint, {"segmenter": segmenter})
    final = _write_generation(
        index_dir,
        None,
        plan,
        manifest,
        lambda gen: write_summary(gen, kb.fingerprint, len(kb.published)),
        base_of=None,
        flat_threshold=flat_threshold,
    )
    return _report(final, plan, len(chunks), start, added=sorted(per_doc))


class _OldIndex:
    """The live generation, opened for reading rows, vectors and tokens out of its segments. Each part of a
    segment is opened when first needed: an edit of one document reads a few rows of one chunk store, not
    the FAISS graph or the BM25 vocabulary of a million-row base."""

    def __init__(self, gen: Path, manifest: Manifest) -> None:
        self.gen = gen
        self.manifest = manifest
        self.dead = read_tombstones(gen)
        self._stores: dict[int, ChunkStore] = {}
        self._dense: dict[int, DenseIndex] = {}
        self._postings: dict[int, Postings] = {}

    def _path(self, i: int) -> Path:
        return self.gen / SEGMENTS / self.manifest.segments[i]

    def store(self, i: int) -> ChunkStore:
        if i not in self._stores:
            self._stores[i] = ChunkStore.open(self._path(i))
        return self._stores[i]

    def rows(self, entry: DocEntry) -> list[Chunk]:
        store = self.store(entry.segment) if entry.n else None
        return [store[r] for r in range(entry.row, entry.row + entry.n)] if store is not None else []

    def vectors(self, entry: DocEntry, chunks: Sequence[Chunk]) -> np.ndarray:
        if not chunks:
            return np.zeros((0, self.manifest.dim), dtype=np.float32)
        if entry.segment not in self._dense:
            self._dense[entry.segment] = DenseIndex.load(self._path(entry.segment) / DENSE, mmap=True)
        ids = np.fromiter((c.int_id for c in chunks), dtype=np.int64, count=len(chunks))
        return self._dense[entry.segment].vectors_of(ids)

    def tokens(self, entry: DocEntry) -> list[list[str]]:
        if not entry.n:
            return []
        if entry.segment not in self._postings:
            self._postings[entry.segment] = Postings.load(self._path(entry.segment) / BM25)
        p = self._postings[entry.segment]
        return [[t for t in p.row_tokens(r) if t != EMPTY] for r in range(entry.row, entry.row + entry.n)]

    def exact_vectors(self, entry: DocEntry) -> bool:
        """Whether this document's stored vectors are the embedder's own (flat), not 8-bit codes (HNSW)."""
        return entry.n > 0 and dense_kind(self._path(entry.segment)) == "flat"


def _carry(old: _OldIndex, entry: DocEntry, new: _NewSegment, *, retokenize: bool) -> list[Chunk]:
    """Move an unchanged document's rows, vectors and tokens into the new segment."""
    chunks = old.rows(entry)
    new.chunks.extend(chunks)
    new.vectors.extend(old.vectors(entry, chunks))
    new.tokens.extend([tokenize(c.embed_text) for c in chunks] if retokenize else old.tokens(entry))
    return chunks


@dataclass
class _Edit:
    """An added or changed document, chunked, with its content hash."""

    doc: Document
    hash: str
    chunks: list[Chunk]


def _rewrite(
    old: _OldIndex,
    edited: dict[str, _Edit],
    removed: set[str],
    embedder: Embedder,
    *,
    merge_from: int,
    retokenize: bool,
    batch_size: int,
    progress: bool,
) -> tuple[list[str], dict[str, np.ndarray], _NewSegment, list[Row], int]:
    """Plan the next generation: segments before `merge_from` stay (with more dead rows); the documents in the
    later ones, and the `edited` ones, go into one new segment. `removed` documents are dropped. Returns the
    kept segments, their dead rows, the new segment, the document records it changed, and how many passages
    were embedded.

    Only edited, removed and moved documents are visited, so an edit costs what it touches, not what the KB
    holds. A changed document's passages that did not change keep their vectors and tokens where the vectors
    are exact (a flat segment); the rest are embedded and segmented.
    """
    m = old.manifest
    docs = m.documents
    keep = m.segments[:merge_from]
    dead = {name: set(old.dead.get(name, np.zeros(0, np.int64)).tolist()) for name in keep}
    for doc_id in removed | set(edited):
        e = docs.get(doc_id)
        if e is not None and e.segment < merge_from:
            dead[keep[e.segment]].update(range(e.row, e.row + e.n))
    new = _NewSegment()
    rows: list[Row] = []
    to_embed: list[int] = []
    seg_index = len(keep)
    for doc_id, ed in edited.items():
        e = docs.get(doc_id)
        reuse: dict[str, tuple[np.ndarray, list[str]]] = {}
        if e is not None and old.exact_vectors(e):
            before = old.rows(e)
            vecs = old.vectors(e, before)
            toks = old.tokens(e) if not retokenize else [tokenize(c.embed_text) for c in before]
            reuse = {c.chunk_id: (v, t) for c, v, t in zip(before, vecs, toks, strict=True)}
        row = len(new.chunks)
        for c in ed.chunks:
            if c.chunk_id in reuse:
                v, t = reuse[c.chunk_id]
            else:
                v, t = np.zeros(0, dtype=np.float32), tokenize(c.embed_text)
                to_embed.append(len(new.chunks))
            new.chunks.append(c)
            new.vectors.append(v)
            new.tokens.append(t)
        rows.append(_row(ed.doc, ed.hash, seg_index, row, ed.chunks))
    if merge_from < len(m.segments):
        recs = docs.records
        for rec in recs[recs["segment"] >= merge_from]:
            doc_id = rec["id"].decode()
            if doc_id in removed or doc_id in edited:
                continue
            e = DocEntry.of(rec)
            row = len(new.chunks)
            cs = _carry(old, e, new, retokenize=retokenize)
            rows.append((doc_id, e.hash, e.version, seg_index, row, len(cs), e.leads, e.mtime, e.size, False))
    vectors = _embed(embedder, [new.chunks[i] for i in to_embed], batch=batch_size, progress=progress, few=True)
    for i, v in zip(to_embed, vectors, strict=True):
        new.vectors[i] = v
    dead_arrays = {name: np.array(sorted(rows_), dtype=np.int64) for name, rows_ in dead.items()}
    return keep, dead_arrays, new, rows, len(to_embed)


def _merge_from(old: _OldIndex, n_new: int) -> tuple[int, str]:
    """Which segments the next write merges: none (a new delta), the deltas, or all of them."""
    m = old.manifest
    recs = m.documents.records
    dead = sum(len(v) for v in old.dead.values())
    delta_rows = int(recs["n"][recs["segment"] > 0].sum()) + n_new
    if dead + delta_rows > COMPACT_FRACTION * m.n_chunks:
        return 0, "all"
    if len(m.segments) > MAX_DELTAS:  # the base and MAX_DELTAS deltas, plus the one this write adds
        return 1, "deltas"
    return len(m.segments), ""


@dataclass
class _Diff:
    """How the KB's published documents differ from an index's document table."""

    added: list[str]
    changed: list[str]
    removed: list[str]
    edited: dict[str, tuple[Document, str]]  # added and changed: the document and its content hash
    restamped: dict[str, tuple[int, int]]  # unchanged documents whose file was saved again: its new stamp


def _compare(kb: KnowledgeBase, recs: np.ndarray) -> _Diff:
    """Compare in arrays: a document whose file stamp (`Document.file_stamp`) is the one recorded keeps its
    recorded hash; only the others are hashed."""
    pub = kb.published
    n = len(pub)
    ids = np.array([d.id for d in pub], dtype="S") if n else np.zeros(0, dtype="S1")
    stamps = np.fromiter(itertools.chain.from_iterable(d.file_stamp for d in pub), np.int64, 2 * n).reshape(n, 2)
    order = np.argsort(ids, kind="stable")
    ids, stamps = ids[order], stamps[order]
    if len(recs):
        at = np.searchsorted(recs["id"], ids).clip(max=len(recs) - 1)
        found = np.asarray(recs["id"][at] == ids)
        mtime, size = np.asarray(recs["mtime"][at]), np.asarray(recs["size"][at])
    else:
        at = np.zeros(n, dtype=np.int64)
        found = np.zeros(n, dtype=bool)
        mtime = size = np.zeros(n, dtype=np.int64)
    same = found & (stamps[:, 0] != 0) & (mtime == stamps[:, 0]) & (size == stamps[:, 1])
    diff = _Diff([], [], [], {}, {})
    for i in np.flatnonzero(found & ~same).tolist():
        d = pub[order[i]]
        if d.content_hash != recs["hash"][at[i]].decode():
            diff.changed.append(d.id)
            diff.edited[d.id] = (d, d.content_hash)
        elif d.file_stamp != (int(mtime[i]), int(size[i])):
            diff.restamped[d.id] = d.file_stamp
    for i in np.flatnonzero(~found).tolist():
        d = pub[order[i]]
        diff.added.append(d.id)
        diff.edited[d.id] = (d, d.content_hash)
    diff.removed = [i.decode() for i in recs["id"][~member(recs["id"], ids)]]
    diff.changed.sort()
    diff.added.sort()
    return diff


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
    m = Manifest.read(old_gen / MANIFEST)
    check_model(m, embedder, index_dir)
    if m.format != FORMAT or m.chunker != _chunker_id(chunk_chars):
        log.info("%s: index format %s / chunker %s differ from this kefu's; rebuilding", index_dir, m.format, m.chunker)
        return rebuild()
    diff = _compare(kb, m.documents.records)
    old = _OldIndex(old_gen, m)
    renamed = (
        any(_naming(diff.edited[i][0]) != _old_naming(old, m.documents[i]) for i in diff.changed)
        or any(diff.edited[i][0].tags or diff.edited[i][0].sku for i in diff.added)
        or any(_old_naming(old, m.documents[i]) != ((), None) for i in diff.removed)
    )
    recorded = str(m.stats.get("segmenter", ""))
    # Tags or SKUs changed: the segmenter's words and the exact names may have. Otherwise the words are those
    # the index was built under, which this process may know already (a large KB has a few hundred thousand).
    segmenter = recorded if not renamed and taught(recorded) else _teach_segmenter(kb)
    retokenize = recorded != segmenter
    if not (diff.added or diff.removed or diff.changed or retokenize):
        return BuildReport(
            old_gen,
            len(kb.published),
            m.n_chunks,
            0,
            unchanged=len(kb.published),
            seconds=(datetime.now(UTC) - start).total_seconds(),
            segments=len(m.segments),
            dead_rows=int(m.stats.get("dead_rows", 0)),
        )
    edited = {i: _Edit(d, h, chunk_document(d, max_chars=chunk_chars)) for i, (d, h) in sorted(diff.edited.items())}
    if retokenize:  # every passage is segmented again: rewrite all of it
        merge_from, compacted = 0, "all"
    else:
        merge_from, compacted = _merge_from(old, sum(len(e.chunks) for e in edited.values()))
    keep, dead, new, rows, embedded = _rewrite(
        old,
        edited,
        set(diff.removed),
        embedder,
        merge_from=merge_from,
        retokenize=retokenize,
        batch_size=batch_size,
        progress=progress,
    )
    changes = {r[0]: r for r in rows}
    for doc_id, (mtime, size) in diff.restamped.items():  # files saved without a change: remember them unread
        r = changes.get(doc_id) or _as_row(doc_id, m.documents[doc_id])
        changes[doc_id] = (*r[:7], mtime, size, False)
    for doc_id in diff.removed:
        changes[doc_id] = (doc_id, "", 0, 0, 0, 0, 0, 0, 0, True)
    table = m.documents.updated(records(list(changes.values())), fold=merge_from == 0)
    names = _doc_names(kb.published, table) if renamed else None
    kb_fingerprint = table_fingerprint(table.records)
    manifest = _manifest(kb, embedder, start, chunk_chars, kb_fingerprint, {"segmenter": segmenter})
    final = _write_generation(
        index_dir,
        old_gen,
        _Plan(keep, dead, new, table, names),
        manifest,
        lambda gen: write_summary(gen, kb_fingerprint, len(kb.published)),
        base_of=old_gen if table.base is m.documents.base else None,
        flat_threshold=flat_threshold,
    )
    return _report(
        final,
        _Plan(keep, dead, new, table, names),
        embedded,
        start,
        added=diff.added,
        changed=diff.changed,
        removed=diff.removed,
        unchanged=len(kb.published) - len(diff.added) - len(diff.changed),
        compacted=compacted,
    )


def _as_row(doc_id: str, e: DocEntry) -> Row:
    return (doc_id, e.hash, e.version, e.segment, e.row, e.n, e.leads, e.mtime, e.size, False)


def _naming(doc: Document) -> tuple[tuple[str, ...], str | None]:
    return tuple(doc.tags), doc.sku


def _old_naming(old: _OldIndex, e: DocEntry) -> tuple[tuple[str, ...], str | None]:
    """The tags and SKU a document had when it was indexed (its first passage carries them)."""
    if not e.n:
        return (), None
    first = old.store(e.segment)[e.row]
    return first.tags, first.sku


def compact_index(index_dir: Path, embedder: Embedder, *, flat_threshold: int = 100_000) -> BuildReport:
    """Merge every segment of the live generation into one, dropping dead rows; nothing is embedded."""
    from indexer.index import check_format, check_model

    start = datetime.now(UTC)
    old_gen = current_generation(index_dir)
    m = Manifest.read(old_gen / MANIFEST)
    check_format(m, old_gen, index_dir)
    check_model(m, embedder, index_dir)
    old = _OldIndex(old_gen, m)
    keep, dead, new, rows, _ = _rewrite(
        old, {}, set(), embedder, merge_from=0, retokenize=False, batch_size=32, progress=False
    )
    plan = _Plan(keep, dead, new, m.documents.updated(records(rows), fold=True), None)
    manifest = Manifest(**{**m.__dict__, "created": start.isoformat(timespec="seconds"), "stats": dict(m.stats)})

    def summary(gen: Path) -> None:
        shutil.copy2(old_gen / "kb_summary.json", gen / "kb_summary.json")

    final = _write_generation(index_dir, old_gen, plan, manifest, summary, base_of=None, flat_threshold=flat_threshold)
    return _report(final, plan, 0, start, unchanged=len(plan.table), compacted="all")
