"""Build an index from a KB, or update it re-embedding only what changed."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from indexer.chunking import CHUNKER_VERSION, Chunk, chunk_document
from indexer.chunkstore import read_chunks, write_chunks
from indexer.dense import DenseIndex
from indexer.embedding import Embedder
from indexer.errors import IndexNotFoundError
from indexer.manifest import FORMAT, DocEntry, Manifest
from indexer.sparse import SparseIndex, add_words, load_tokens, save_tokens, tokenize, words_fingerprint
from indexer.store import commit_generation, current_generation, new_generation
from kb.models import KnowledgeBase


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

    def summary(self) -> str:
        parts = [f"{self.n_docs} documents, {self.n_chunks} chunks; embedded {self.embedded} chunks"]
        if self.added or self.changed or self.removed:
            parts.append(
                f"added {len(self.added)}, changed {len(self.changed)}, removed {len(self.removed)}, "
                f"unchanged {self.unchanged}"
            )
        return "; ".join(parts) + f" in {self.seconds:.1f}s"


def _embed(embedder: Embedder, chunks: list[Chunk], *, batch: int, progress: bool) -> np.ndarray:
    if not chunks:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    texts = [c.embed_text for c in chunks]
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


def _write(gen: Path, manifest: Manifest, chunks: list[Chunk], dense: DenseIndex, tokens: list[list[str]]) -> None:
    write_chunks(gen, chunks)
    dense.save(gen / "dense.faiss")
    SparseIndex(tokens).save(gen / "bm25")
    save_tokens(gen / "tokens", tokens)
    manifest.n_chunks = len(chunks)
    (gen / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")


def _chunker_id(chunk_chars: int) -> str:
    return f"v{CHUNKER_VERSION}:{chunk_chars}"


def _chunk_kb(kb: KnowledgeBase, max_chars: int) -> dict[str, list[Chunk]]:
    return {d.id: chunk_document(d, max_chars=max_chars) for d in kb.published}


def _teach_segmenter(kb: KnowledgeBase) -> str:
    """Teach jieba the KB's tags and SKUs; returns their fingerprint, under which cached tokens stay valid."""
    words = [t for d in kb.published for t in d.tags] + [d.sku for d in kb.published if d.sku]
    add_words(words)
    return words_fingerprint(words)


def _tokens(chunks: list[Chunk], old_gen: Path, old_ids: list[str], *, reuse: bool) -> list[list[str]]:
    """BM25 tokens of `chunks`, reusing the previous generation's (aligned with `old_ids`, its chunks.jsonl)
    when `reuse` says the segmenter's words are unchanged.

    Segmenting a chunk costs about 1 ms, so segmenting all of them again was most of an update's time.
    """
    cached: dict[str, list[str]] = {}
    old_tokens = load_tokens(old_gen / "tokens") if reuse else None
    if old_tokens is not None and len(old_tokens) == len(old_ids):
        cached = dict(zip(old_ids, old_tokens, strict=True))
    return [cached[c.chunk_id] if c.chunk_id in cached else tokenize(c.embed_text) for c in chunks]


def _manifest(
    kb: KnowledgeBase,
    embedder: Embedder,
    dense: DenseIndex,
    start: datetime,
    documents: dict[str, DocEntry],
    chunk_chars: int,
    stats: dict[str, Any],
) -> Manifest:
    return Manifest(
        model_name=embedder.name,
        model_id=embedder.model_id,
        dim=embedder.dim,
        dense_kind=dense.kind,
        kb_root=str(kb.root),
        kb_fingerprint=kb.fingerprint,
        created=start.isoformat(timespec="seconds"),
        documents=documents,
        chunker=_chunker_id(chunk_chars),
        stats=stats,
    )


def _publish(
    index_dir: Path, manifest: Manifest, chunks: list[Chunk], dense: DenseIndex, tokens: list[list[str]]
) -> Path:
    """Write a new generation and make it live; an interrupted write leaves the previous one in place."""
    gen = new_generation(index_dir)
    try:
        _write(gen, manifest, chunks, dense, tokens)
        return commit_generation(index_dir, gen)
    except BaseException:
        shutil.rmtree(gen, ignore_errors=True)
        raise


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
    """Build from scratch into a new generation and switch to it."""
    start = datetime.now(UTC)
    segmenter = _teach_segmenter(kb)
    per_doc = _chunk_kb(kb, chunk_chars)
    chunks = [c for cs in per_doc.values() for c in cs]
    vectors = _embed(embedder, chunks, batch=batch_size, progress=progress)
    dense = DenseIndex.for_size(embedder.dim, len(chunks), flat_threshold=flat_threshold)
    dense.add(np.array([c.int_id for c in chunks], dtype=np.int64), vectors)
    documents = {
        d.id: DocEntry(d.content_hash, d.version, d.title, [c.chunk_id for c in per_doc[d.id]]) for d in kb.published
    }
    manifest = _manifest(kb, embedder, dense, start, documents, chunk_chars, {"segmenter": segmenter})
    final = _publish(index_dir, manifest, chunks, dense, [tokenize(c.embed_text) for c in chunks])
    secs = (datetime.now(UTC) - start).total_seconds()
    return BuildReport(final, len(per_doc), len(chunks), len(chunks), added=sorted(per_doc), seconds=secs)


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
    """Re-embed only added or changed documents; drop removed or unpublished ones.

    Falls back to a full build when there is no index yet.
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
    old = Manifest.read(old_gen / "manifest.json")
    check_model(old, embedder, index_dir)
    if old.chunker != _chunker_id(chunk_chars) or old.format != FORMAT:  # start over: chunks or files differ
        return rebuild()
    segmenter = _teach_segmenter(kb)
    old_chunks = {c.chunk_id: c for c in read_chunks(old_gen)}
    published = {d.id: d for d in kb.published}
    added = sorted(set(published) - set(old.documents))
    removed = sorted(set(old.documents) - set(published))
    changed = sorted(
        i for i in set(published) & set(old.documents) if published[i].content_hash != old.documents[i].hash
    )
    if not (added or removed or changed):
        return BuildReport(
            old_gen,
            len(published),
            sum(len(e.chunk_ids) for e in old.documents.values()),
            0,
            unchanged=len(published),
            seconds=(datetime.now(UTC) - start).total_seconds(),
        )
    new_per_doc = {i: chunk_document(published[i], max_chars=chunk_chars) for i in added + changed}
    keep_ids = {cid for i, e in old.documents.items() if i in published and i not in new_per_doc for cid in e.chunk_ids}
    new_ids = {c.chunk_id for cs in new_per_doc.values() for c in cs}
    to_embed = [c for cs in new_per_doc.values() for c in cs if c.chunk_id not in old_chunks]
    drop = [c for cid, c in old_chunks.items() if cid not in keep_ids and cid not in new_ids]

    dense = DenseIndex.load(old_gen / "dense.faiss")
    dense.remove(np.array([c.int_id for c in drop], dtype=np.int64))
    vectors = _embed(embedder, to_embed, batch=batch_size, progress=progress)
    dense.add(np.array([c.int_id for c in to_embed], dtype=np.int64), vectors)

    chunks: list[Chunk] = []
    documents: dict[str, DocEntry] = {}
    for doc_id, doc in published.items():
        cs = new_per_doc.get(doc_id) or [old_chunks[cid] for cid in old.documents[doc_id].chunk_ids]
        chunks.extend(cs)
        documents[doc_id] = DocEntry(doc.content_hash, doc.version, doc.title, [c.chunk_id for c in cs])
    stats = {"tombstones": len(dense.tombstones), "segmenter": segmenter}
    manifest = _manifest(kb, embedder, dense, start, documents, chunk_chars, stats)
    tokens = _tokens(chunks, old_gen, list(old_chunks), reuse=old.stats.get("segmenter") == segmenter)
    final = _publish(index_dir, manifest, chunks, dense, tokens)
    secs = (datetime.now(UTC) - start).total_seconds()
    return BuildReport(
        final,
        len(published),
        len(chunks),
        len(to_embed),
        added=added,
        changed=changed,
        removed=removed,
        unchanged=len(published) - len(added) - len(changed),
        seconds=secs,
    )
