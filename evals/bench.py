"""The performance benchmark behind `kefu bench` (CONTRACTS.md §7).

For each KB size: grow a synthetic KB from the demo KB (`evals.synth`), then, each in a fresh process so
that its peak RSS is its own,

1. *build*: build the index (real loader, chunker, embedder, FAISS, BM25), then edit one document and
   time the incremental update;
2. *serve*: open the index as `kefu serve` does and time retrieval and the full `suggest` on the eval
   queries, one at a time and from concurrent clients, with the query-embedding cache off;
3. *baseline*: the naive LangChain pipeline (`langchain_community` FAISS + `HuggingFaceEmbeddings` on the
   same model folder, `similarity_search` per query) on the same chunk texts and queries.

Recall compares equal budgets, documents with documents: our top 5 documents against the naive pipeline's
first 5 distinct documents, for which it retrieves as many chunks as it takes (`first_documents`).

Sizes up to `REAL_MAX_CHUNKS` embed passages with the real model. Larger ones use `NearCopyEmbedder`: each
synthetic chunk gets the real vector of the demo-KB chunk it was copied from plus seeded noise, so FAISS
sees a realistic, clustered distribution without hours of encoding; queries still go through the real
model. Results go to `bench.json`, `bench.md` and `latency.svg`.
"""

from __future__ import annotations

import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import resource
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evals.metrics import percentile
from evals.synth import grow_kb

DEFAULT_SIZES = (1_000, 10_000)
LARGE_SIZES = (100_000, 1_000_000)
REAL_MAX_CHUNKS = 10_000
BASELINE_FROM_TEXTS_MAX = 2_000  # above this the baseline's FAISS reuses our chunk vectors (same model)
EDIT = "\n\n## 补充说明\n\n工作日下午四点前付款的订单当天发出，节假日顺延到下一个工作日。\n"
NEAR_COPY_NOISE = 0.017  # per-dimension sigma: cosine to the source vector about 0.95, like a close paraphrase
K = 5

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BenchQuery:
    id: str
    conversation: list[dict[str, str]]
    context: dict[str, Any] | None
    doc_ids: tuple[str, ...]


@dataclass(frozen=True)
class BenchConfig:
    """What to run. `model_dir` None means the hashing fake everywhere (a smoke run without the model)."""

    out_dir: Path
    sizes: tuple[int, ...] = DEFAULT_SIZES
    model_dir: Path | None = None
    n_queries: int = 200
    concurrency: int = 4
    source_kb: Path | None = None
    eval_set: Path | None = None
    work_dir: Path | None = None
    baseline: bool = True
    profile: bool = False
    query_encoder: str = "auto"
    flat_threshold: int = 100_000
    seed: int = 0
    command: str = "kefu bench"


# --- queries -------------------------------------------------------------------------------------------------


def load_queries(eval_set: Path | None, source_kb: Path, n: int) -> list[BenchQuery]:
    """Labelled queries: cases of an eval set that name relevant documents, else the FAQ questions of the KB."""
    out: list[BenchQuery] = []
    if eval_set is not None and eval_set.is_file():
        from evals.cases import load_cases

        for case in load_cases(eval_set):
            if case.expected.doc_ids:
                out.append(
                    BenchQuery(
                        case.id,
                        [{"role": t.role, "text": t.text} for t in case.conversation],
                        case.context,
                        tuple(case.expected.doc_ids),
                    )
                )
    if not out:
        from indexer.chunking import chunk_document
        from kb.loader import load_kb

        for doc in load_kb(source_kb).published:
            for c in chunk_document(doc):
                if c.section.startswith("问："):
                    q = c.section.removeprefix("问：")
                    out.append(BenchQuery(f"{doc.id}#{c.position}", [{"role": "customer", "text": q}], None, (doc.id,)))
    return out[:n]


# --- the fake embedder for large sizes -----------------------------------------------------------------------


class NearCopyEmbedder:
    """Passages: the real vector of the demo-KB chunk a synthetic chunk copies (same title suffix and
    section, else the document's mean), plus noise seeded by the text; original chunks get their own real
    vector. Queries: the real model. Fast enough for a million chunks, and FAISS sees realistic clusters."""

    def __init__(
        self, real: Any, source_texts: Sequence[str], source_vectors: np.ndarray, *, noise: float = NEAR_COPY_NOISE
    ) -> None:
        self.real = real
        self.noise = noise
        self.passages_embedded = 0
        self._exact = {t: v for t, v in zip(source_texts, source_vectors, strict=True)}
        sections: dict[tuple[str, str], list[np.ndarray]] = {}
        docs: dict[str, list[np.ndarray]] = {}
        for text, vec in zip(source_texts, source_vectors, strict=True):
            title, _, section = text.split("\n", 1)[0].partition("｜")
            sections.setdefault((title, section), []).append(vec)
            docs.setdefault(title, []).append(vec)
        self._sections = {k: np.mean(v, axis=0) for k, v in sections.items()}
        self._docs = {k: np.mean(v, axis=0) for k, v in docs.items()}
        self._titles = sorted(self._docs, key=len, reverse=True)
        self._title_of: dict[str, str | None] = {}

    @property
    def name(self) -> str:
        return f"{self.real.name}+nearcopy"

    @property
    def model_id(self) -> str:
        return f"{self.real.model_id}+nearcopy"

    @property
    def dim(self) -> int:
        return int(self.real.dim)

    def warm_up(self) -> None:
        self.real.warm_up()

    def _source_title(self, title: str) -> str | None:
        if title not in self._title_of:
            self._title_of[title] = next((t for t in self._titles if title.endswith(t)), None)
        return self._title_of[title]

    def _one(self, text: str) -> np.ndarray:
        exact = self._exact.get(text)
        if exact is not None:
            return exact
        title, _, section = text.split("\n", 1)[0].partition("｜")
        source = self._source_title(title)
        base = self._sections.get((source, section)) if source else None
        if base is None:
            base = self._docs[source] if source else np.zeros(self.dim, dtype=np.float32)
        rng = np.random.default_rng(zlib.crc32(text.encode("utf-8")))
        vec = base + rng.normal(0.0, self.noise, self.dim).astype(np.float32)
        return vec / np.linalg.norm(vec)

    def embed_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.passages_embedded += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._one(t) for t in texts]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.real.embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.real.embed_queries(texts)


class TimedEmbedder:
    """Counts the seconds spent embedding passages, to split a build's time."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def model_id(self) -> str:
        return str(self.inner.model_id)

    @property
    def dim(self) -> int:
        return int(self.inner.dim)

    def embed_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        t = time.perf_counter()
        try:
            return self.inner.embed_passages(texts)
        finally:
            self.seconds += time.perf_counter() - t

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)


def embedder_kind(chunks: int, model_dir: Path | None) -> str:
    if model_dir is None:
        return "hashing"
    return "real" if chunks <= REAL_MAX_CHUNKS else "nearcopy"


def make_embedder(
    kind: str,
    model_dir: Path | None,
    source_kb: Path,
    *,
    query_cache: int = 0,
    passages: bool = True,
    query_encoder: str = "auto",
) -> Any:
    """The embedder of a size; `passages` False skips encoding the source KB (a near-copy embedder that will
    only embed queries, as in the serving process)."""
    from indexer.embedding import HashingEmbedder, SentenceTransformerEmbedder

    if kind == "hashing":
        return HashingEmbedder()
    assert model_dir is not None
    real = SentenceTransformerEmbedder(model_dir, query_cache=query_cache, query_encoder=query_encoder)
    real.warm_up()
    if kind == "real":
        return real
    if not passages:
        return NearCopyEmbedder(real, [], np.zeros((0, real.dim), dtype=np.float32))
    from indexer.chunking import chunk_document
    from kb.loader import load_kb

    texts = [c.embed_text for d in load_kb(source_kb).published for c in chunk_document(d)]
    return NearCopyEmbedder(real, texts, real.embed_passages(texts))


# --- the three worker processes ------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # kB on Linux


def _generation_bytes(index_dir: Path) -> int:
    from indexer.store import current_generation

    return sum(f.stat().st_size for f in current_generation(index_dir).rglob("*") if f.is_file())


def build_worker(job: dict[str, Any]) -> dict[str, Any]:
    """Build the index of the KB at job['kb'], then time a one-document update."""
    from indexer.builder import build_index, update_index
    from kb.loader import load_kb

    kb_root, index_dir = Path(job["kb"]), Path(job["index"])
    embedder = TimedEmbedder(
        make_embedder(
            job["kind"],
            job["model_dir"] and Path(job["model_dir"]),
            Path(job["source_kb"]),
            query_cache=2048,
            query_encoder=job["query_encoder"],
        )
    )
    t = time.perf_counter()
    kb = load_kb(kb_root)
    kb_load_s = time.perf_counter() - t
    t = time.perf_counter()
    report = build_index(kb, embedder, index_dir, flat_threshold=job["flat_threshold"])
    build_s = time.perf_counter() - t
    build_embed_s = embedder.seconds

    edited = kb.published[len(kb.published) // 2]  # in the middle of the KB: not the last rows written
    path = next(p for p in (kb_root / "docs").rglob("*.md") if p.stem == edited.id or p.stem.endswith(edited.id))
    path.write_text(path.read_text(encoding="utf-8").rstrip() + EDIT, encoding="utf-8")
    t = time.perf_counter()
    kb = load_kb(kb_root)
    update_kb_load_s = time.perf_counter() - t
    embedder.seconds = 0.0
    t = time.perf_counter()
    update = update_index(kb, embedder, index_dir, flat_threshold=job["flat_threshold"])
    update_s = time.perf_counter() - t
    return {
        "chunks": report.n_chunks,
        "docs": report.n_docs,
        "build_s": round(build_s, 2),
        "build_chunks_per_s": round(report.n_chunks / build_s, 1),
        "build_embed_s": round(build_embed_s, 2),
        "kb_load_s": round(kb_load_s, 2),
        "update_one_doc_s": round(update_s, 3),
        "update_embed_s": round(embedder.seconds, 3),
        "update_kb_load_s": round(update_kb_load_s, 2),
        "update_changed": update.changed,
        "update_embedded": update.embedded,
        "segments": update.segments,
        "dead_rows": update.dead_rows,
        "index_bytes": _generation_bytes(index_dir),
        "build_peak_rss_mb": _peak_rss_mb(),
    }


def _pcts(values: Sequence[float]) -> dict[str, float | None]:
    return {f"p{q}": None if (v := percentile(values, q)) is None else round(v, 2) for q in (50, 95, 99)}


def first_documents(search: Callable[[int], Sequence[str]], n: int = K, *, start: int = 2 * K) -> list[str]:
    """The first `n` distinct documents of a chunk search (`search(k)` → the doc ids of the top k chunks),
    asking for twice as many chunks until there are `n` or the index has no more."""
    k = start
    while True:
        doc_ids = search(k)
        docs = list(dict.fromkeys(doc_ids))
        if len(docs) >= n or len(doc_ids) < k:
            return docs[:n]
        k *= 2


def _recall(retrieved: Sequence[Sequence[str]], queries: Sequence[BenchQuery]) -> float | None:
    if not queries:
        return None
    hits = [any(d in q.doc_ids for d in list(dict.fromkeys(r))[:K]) for r, q in zip(retrieved, queries, strict=True)]
    return round(sum(hits) / len(hits), 4)


def serve_worker(job: dict[str, Any]) -> dict[str, Any]:
    """Open the index as the service does and time retrieval and suggest, alone and under concurrency."""
    from assistant.conversation import formulate_query
    from assistant.pipeline import parse_conversation
    from assistant.service.holder import assistant_factory
    from assistant.settings import AssistantSettings

    started = time.perf_counter()
    queries = [BenchQuery(**q) for q in job["queries"]]
    embedder = make_embedder(
        job["kind"],
        job["model_dir"] and Path(job["model_dir"]),
        Path(job["source_kb"]),
        passages=False,
        query_encoder=job["query_encoder"],
    )
    settings = AssistantSettings()  # the service's: the same k, retriever and threshold as `kefu serve`
    t = time.perf_counter()
    t_embedder = t - started
    bot = assistant_factory(
        Path(job["kb"]),
        Path(job["index"]),
        embedder,
        k=settings.k,
        mode=settings.retriever,
        answerable_threshold=settings.answerable_threshold,
    )()
    index = bot.index
    bot.warm_up()
    open_index_s = time.perf_counter() - t
    bot.run(conversation=queries[0].conversation, context=queries[0].context)
    open_s = time.time() - float(job["t_start"])  # the process was started for this job at t_start
    texts = [formulate_query(parse_conversation(q.conversation), names=index.names) for q in queries]
    for q in queries[:5]:
        bot.run(conversation=q.conversation, context=q.context)

    retrieval_ms, retrieved_plain = [], []
    for text in texts:
        t = time.perf_counter()
        hits = bot.retriever.run(query=text)
        retrieval_ms.append((time.perf_counter() - t) * 1000)
        retrieved_plain.append(hits.doc_ids)

    profiler = cProfile.Profile() if job.get("profile") else None
    suggest_ms, embed_ms, stages, retrieved = [], [], {}, []  # type: ignore[var-annotated]
    for q in queries:
        if profiler:
            profiler.enable()
        t = time.perf_counter()
        result = bot.run(conversation=q.conversation, context=q.context)
        suggest_ms.append((time.perf_counter() - t) * 1000)
        if profiler:
            profiler.disable()
        embed_ms.append(result.latency_ms.get("embed", 0.0))
        for stage, ms in result.latency_ms.items():
            stages.setdefault(stage, []).append(ms)
        retrieved.append([r["doc_id"] for r in result.retrieved])

    def timed(q: BenchQuery) -> float:
        t0 = time.perf_counter()
        bot.run(conversation=q.conversation, context=q.context)
        return (time.perf_counter() - t0) * 1000

    concurrency = int(job["concurrency"])
    t = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        concurrent_ms = list(pool.map(timed, queries))
    wall = time.perf_counter() - t
    profile_text = None
    if profiler:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(40)
        profile_text = buf.getvalue()
    return {
        "open_s": round(open_s, 2),
        "open_index_s": round(open_index_s, 2),
        "open_model_s": round(t_embedder, 2),
        "queries": texts,
        "n_queries": len(queries),
        "retrieval_ms": _pcts(retrieval_ms),
        "suggest_ms": _pcts(suggest_ms),
        "suggest_concurrent_ms": _pcts(concurrent_ms),
        "concurrency": concurrency,
        "concurrent_qps": round(len(queries) / wall, 2) if wall else None,
        "query_embed_ms": _pcts(embed_ms),
        "query_embed_share": round(sum(embed_ms) / sum(suggest_ms), 3) if suggest_ms else None,
        "suggest_stages_ms_p50": {k: round(percentile(v, 50) or 0.0, 2) for k, v in stages.items()},
        "recall@5": _recall(retrieved, queries),
        "retrieval_recall@5": _recall(retrieved_plain, queries),
        "peak_rss_mb": _peak_rss_mb(),
        "query_backend": str(getattr(getattr(embedder, "real", embedder), "query_backend", "n/a")),
        "profile": profile_text,
    }


def baseline_worker(job: dict[str, Any]) -> dict[str, Any]:
    """The naive LangChain pipeline on the same chunk texts and queries."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings

    from assistant.retrieval import HybridRetriever
    from indexer.index import Index

    index = Index.open(
        Path(job["index"]),
        make_embedder("real", Path(job["model_dir"]), Path(job["source_kb"]), query_encoder=job["query_encoder"]),
    )
    chunks = list(index.chunks)
    texts = [c.embed_text for c in chunks]
    metadatas = [{"doc_id": c.doc_id} for c in chunks]
    # The e5 prompts ("query: ", "passage: ") are the model card's usage; without them the baseline would be a
    # straw man, and with them our stored passage vectors are exactly what it would compute itself.
    embeddings = HuggingFaceEmbeddings(
        model_name=job["model_dir"],
        encode_kwargs={"normalize_embeddings": True, "prompt_name": "passage"},
        query_encode_kwargs={"normalize_embeddings": True, "prompt_name": "query"},
    )
    t = time.perf_counter()
    if len(texts) <= BASELINE_FROM_TEXTS_MAX:
        store = FAISS.from_texts(texts, embeddings, metadatas=metadatas)
        how = "from_texts"
    else:
        vectors = [
            v
            for seg in index.segments
            for v in seg.dense.vectors_of(seg.ids_by_row[~seg.dead])  # flat segments: the stored vectors exactly
        ]
        pairs = [(text, v.tolist()) for text, v in zip(texts, vectors, strict=True)]
        store = FAISS.from_embeddings(pairs, embeddings, metadatas=metadatas)
        how = "from_embeddings (our chunk vectors)"
    build_s = time.perf_counter() - t
    # Our retriever in the same process, query by query in turn with the baseline, so that both meet the
    # same machine load: the ratio holds even on a busy machine where absolute figures drift.
    retriever = HybridRetriever(index, k=K)
    queries = job["queries"]

    def documents(q: str) -> list[str]:
        return first_documents(lambda k: [d.metadata["doc_id"] for d in store.similarity_search(q, k=k)])

    for q in queries[:3]:
        documents(q)
        retriever.run(query=q)
    latencies, ours, retrieved = [], [], []
    for q in queries:
        t = time.perf_counter()
        retrieved.append(documents(q))  # timed as a whole: the baseline pays for its extra chunks
        latencies.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        retriever.run(query=q)
        ours.append((time.perf_counter() - t) * 1000)
    labelled = [BenchQuery(**q) for q in job["labelled"]]
    return {
        "baseline_ms": _pcts(latencies),
        "baseline_recall@5": _recall(retrieved, labelled),
        "retrieval_paired_ms": _pcts(ours),
        "baseline_build": how,
        "baseline_build_s": round(build_s, 2),
        "baseline_peak_rss_mb": _peak_rss_mb(),
    }


def _in_child(fn: Callable[[dict[str, Any]], dict[str, Any]], job: dict[str, Any]) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, {**job, "t_start": time.time()}).result()


# --- one size, the whole run ---------------------------------------------------------------------------------


def bench_size(cfg: BenchConfig, size: int, queries: list[BenchQuery], work: Path, log: Log) -> dict[str, Any]:
    from kb.loader import demo_kb_dir

    source = cfg.source_kb or demo_kb_dir()
    kind = embedder_kind(size, cfg.model_dir)
    log(f"[{size}] growing a synthetic KB")
    synth = grow_kb(source, work / f"kb-{size}", chunks=size, seed=cfg.seed)
    log(
        f"[{size}] {synth.n_docs} documents, {synth.n_chunks} chunks in {synth.seconds:.1f}s; "
        f"building with the {kind} embedder"
    )
    job = {
        "kb": str(synth.root),
        "index": str(work / f"index-{size}"),
        "kind": kind,
        "model_dir": str(cfg.model_dir) if cfg.model_dir else None,
        "source_kb": str(source),
        "flat_threshold": cfg.flat_threshold,
        "concurrency": cfg.concurrency,
        "profile": cfg.profile,
        "query_encoder": cfg.query_encoder,
        "queries": [asdict(q) for q in queries],
    }
    built = _in_child(build_worker, job)
    log(
        f"[{size}] build {built['build_chunks_per_s']} chunks/s, one-document update {built['update_one_doc_s']}s; "
        f"timing {len(queries)} queries"
    )
    served = _in_child(serve_worker, job)
    log(
        f"[{size}] suggest p50/p95 {served['suggest_ms']['p50']}/{served['suggest_ms']['p95']} ms, "
        f"recall@5 {served['recall@5']}"
    )
    base: dict[str, Any] = {"baseline_ms": {"p50": None, "p95": None, "p99": None}, "baseline_recall@5": None}
    if cfg.baseline and kind == "real":
        log(f"[{size}] naive LangChain baseline")
        base = _in_child(baseline_worker, {**job, "queries": served["queries"], "labelled": job["queries"]})
        log(f"[{size}] baseline p50 {base['baseline_ms']['p50']} ms, recall@5 {base['baseline_recall@5']}")
    ours_p50 = (base.get("retrieval_paired_ms") or served["retrieval_ms"])["p50"]
    their_p50 = base["baseline_ms"]["p50"]
    sugg_p50 = served["suggest_ms"]["p50"]
    profile = served.pop("profile")
    if profile:
        (cfg.out_dir / f"profile-{size}.txt").write_text(profile, encoding="utf-8")
    served.pop("queries")
    return {
        "chunks": built["chunks"],
        "embedder": "real" if kind == "real" else "fake",
        "build_chunks_per_s": built["build_chunks_per_s"],
        "update_one_doc_s": built["update_one_doc_s"],
        "open_s": served["open_s"],
        "segments": built["segments"],
        "dead_rows": built["dead_rows"],
        "peak_rss_mb": served["peak_rss_mb"],
        "index_bytes": built["index_bytes"],
        "retrieval_ms": served["retrieval_ms"],
        "suggest_ms": served["suggest_ms"],
        "baseline_ms": base["baseline_ms"],
        "speedup_vs_baseline_p50": round(their_p50 / ours_p50, 2) if their_p50 and ours_p50 else None,
        "recall@5": served["recall@5"],
        "baseline_recall@5": base["baseline_recall@5"],
        # extras
        "target_chunks": size,
        "embedder_detail": kind,
        "docs": built["docs"],
        "suggest_speedup_vs_baseline_p50": round(their_p50 / sugg_p50, 2) if their_p50 and sugg_p50 else None,
        "recall_ratio_vs_baseline": (
            round(served["recall@5"] / base["baseline_recall@5"], 3)
            if base["baseline_recall@5"] and served["recall@5"] is not None
            else None
        ),
        **{
            k: v
            for k, v in built.items()
            if k
            not in ("chunks", "docs", "build_chunks_per_s", "update_one_doc_s", "index_bytes", "segments", "dead_rows")
        },
        **{
            k: v
            for k, v in served.items()
            if k not in ("retrieval_ms", "suggest_ms", "recall@5", "peak_rss_mb", "open_s")
        },
        **{k: v for k, v in base.items() if k not in ("baseline_ms", "baseline_recall@5")},
        "synth_kb_s": round(synth.seconds, 1),
    }


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        info["cpu"] = cpu
    except (OSError, StopIteration):
        pass
    return info


def run_bench(cfg: BenchConfig, *, log: Log = _stderr) -> dict[str, Any]:
    """Run every size and write bench.json, bench.md and latency.svg to `cfg.out_dir`."""
    from kb.loader import demo_kb_dir

    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    source = cfg.source_kb or demo_kb_dir()
    queries = load_queries(cfg.eval_set, source, cfg.n_queries)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "machine": machine_info(),
        "model": cfg.model_dir.name if cfg.model_dir else "hashing-fake",
        "sizes": [],
        "command": cfg.command,
        "queries": {
            "n": len(queries),
            "source": str(cfg.eval_set)
            if cfg.eval_set and cfg.eval_set.is_file()
            else "FAQ questions of the source KB",
        },
        "notes": _notes(cfg),
    }
    own_work = cfg.work_dir is None
    work = cfg.work_dir or Path(tempfile.mkdtemp(prefix="kefu-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for size in cfg.sizes:
            result["sizes"].append(bench_size(cfg, size, queries, work, log))
            write_outputs(cfg.out_dir, result)  # partial results survive an interrupted large run
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["targets"] = check_targets(result["sizes"])
    write_outputs(cfg.out_dir, result)
    return result


def _notes(cfg: BenchConfig) -> dict[str, str]:
    return {
        "embedder": f"'real' sizes embed passages with the model; sizes above {REAL_MAX_CHUNKS} chunks are 'fake' "
        "(near-copy vectors: the real vector of the copied demo chunk plus noise), queries always "
        "go through the real model"
        if cfg.model_dir
        else "hashing fake everywhere (no model)",
        "latency": "retrieval = query embedding + dense + BM25 + fusion; suggest = Assistant.run with the "
        "template drafter and the guard; the query-embedding cache is off, so every query is cold",
        "speedup_vs_baseline_p50": "baseline p50 / our retrieval p50, both timed in one process query by query in "
        "turn (retrieval_paired_ms), like for like: both embed the query and search; "
        "suggest_speedup_vs_baseline_p50 = baseline p50 / our suggest p50",
        "peak_rss_mb": "the serving process (index opened, all queries run); build_peak_rss_mb is the build's",
        "update_one_doc_s": "update_index after one document in the middle of the KB was edited, KB loaded and "
        "model warm (update_kb_load_s is the KB reload before it); it writes a delta segment, and `segments` / "
        "`dead_rows` are the index's after it",
        "open_s": "a serving process from its start (spawned) to its first answer: imports, query encoder, index "
        "and KB summary opened, warm-up, one suggestion (open_model_s, open_index_s are parts of it)",
    }


# --- targets, Markdown, SVG ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    chunks: int
    key: str
    limit: float
    higher_is_better: bool = False
    value: float | None = field(default=None)

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit


TARGETS = (
    Target("suggest p95 ≤ 100 ms at 10k", 10_000, "suggest_ms.p95", 100),
    Target("suggest p95 ≤ 150 ms at 1M", 1_000_000, "suggest_ms.p95", 150),
    Target("≥ 5× faster than the naive pipeline at 10k (p50)", 10_000, "speedup_vs_baseline_p50", 5, True),
    Target("recall@5 ≥ the naive pipeline's at 10k", 10_000, "recall_ratio_vs_baseline", 1.0, True),
    Target("one-document update ≤ 2 s at 10k", 10_000, "update_one_doc_s", 2),
    Target("one-document update ≤ 2 s at 1M", 1_000_000, "update_one_doc_s", 2),
    Target("open (process start → first answer) ≤ 15 s at 1M", 1_000_000, "open_s", 15),
    Target("build ≥ 150 chunks/s with the real model (largest real size)", 0, "build_chunks_per_s", 150, True),
    Target("peak RSS ≤ 2 GiB at 1M", 1_000_000, "peak_rss_mb", 2048),
)


def _get(size: dict[str, Any], key: str) -> float | None:
    value: Any = size
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def check_targets(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in TARGETS:
        if t.chunks:
            size = next((s for s in sizes if s.get("target_chunks") == t.chunks), None)
        else:  # the largest size embedded with the real model: the longest, steadiest build
            size = max((s for s in sizes if s.get("embedder") == "real"), key=lambda s: s["chunks"], default=None)
        if size is None:
            continue
        checked = Target(t.name, t.chunks, t.key, t.limit, t.higher_is_better, _get(size, t.key))
        out.append({"target": t.name, "value": checked.value, "met": checked.met})
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _trio(d: dict[str, Any] | None) -> str:
    d = d or {}
    return " / ".join(_fmt(d.get(p)) for p in ("p50", "p95", "p99"))


def markdown(result: dict[str, Any]) -> str:
    rows = [
        "| chunks | embedder | build chunks/s | 1-doc update s | segments (dead rows) | open s "
        "| retrieval ms p50/p95/p99 | suggest ms p50/p95/p99 "
        "| suggest ×{c} clients p50/p95 | query-embed share | baseline ms p50/p95/p99 | speedup (retrieval / "
        "suggest) | recall@5 ours / baseline | peak RSS MB | index MB |",
        "|" + "---|" * 15,
    ]
    conc = 4
    for s in result["sizes"]:
        conc = s.get("concurrency", conc)
        sc = s.get("suggest_concurrent_ms") or {}
        rows.append(
            f"| {s['chunks']:,} | {s['embedder']} ({s.get('embedder_detail')}) | {_fmt(s['build_chunks_per_s'])} "
            f"| {_fmt(s['update_one_doc_s'])} | {_fmt(s.get('segments'))} ({_fmt(s.get('dead_rows'))}) "
            f"| {_fmt(s.get('open_s'))} | {_trio(s['retrieval_ms'])} | {_trio(s['suggest_ms'])} "
            f"| {_fmt(sc.get('p50'))} / {_fmt(sc.get('p95'))} | {_fmt(s.get('query_embed_share'))} "
            f"| {_trio(s['baseline_ms'])} | {_fmt(s['speedup_vs_baseline_p50'])}× / "
            f"{_fmt(s.get('suggest_speedup_vs_baseline_p50'))}× | {_fmt(s['recall@5'])} / "
            f"{_fmt(s['baseline_recall@5'])} | {_fmt(s['peak_rss_mb'])} | {_fmt(s['index_bytes'] / 2**20)} |"
        )
    rows[0] = rows[0].replace("{c}", str(conc))
    m = result["machine"]
    lines = [
        "# Kefu benchmark",
        "",
        f"`{result.get('command', 'kefu bench')}` — {m.get('cpus')} CPUs ({m.get('cpu', '?')}), Python "
        f"{m.get('python')}, model {result['model']}, {result['queries']['n']} queries "
        f"({result['queries']['source']}); load average at start {m.get('loadavg_start')}, "
        f"end {m.get('loadavg_end')}.",
        "",
        *rows,
        "",
    ]
    stages = [s for s in result["sizes"] if s.get("suggest_stages_ms_p50")]
    if stages:
        lines.append(
            "Where a suggestion's time goes (p50 ms of each stage timed inside `Assistant.run`; "
            "'outside' = suggest p50 − the stages' total p50, work after the pipeline's own clock stops):"
        )
        lines.append("")
        for s in stages:
            st = s["suggest_stages_ms_p50"]
            parts = ", ".join(f"{k} {_fmt(v)}" for k, v in st.items() if k != "total")
            outside = (s["suggest_ms"].get("p50") or 0.0) - st.get("total", 0.0)
            lines.append(f"- {s['chunks']:,} chunks: {parts}; outside {_fmt(outside)}")
        lines.append("")
    if result.get("targets"):
        lines += ["| target | value | met |", "|---|---|---|"]
        lines += [f"| {t['target']} | {_fmt(t['value'])} | {'yes' if t['met'] else 'no'} |" for t in result["targets"]]
        lines.append("")
    lines += [f"- {k}: {v}" for k, v in result.get("notes", {}).items()]
    return "\n".join(lines) + "\n"


def latency_svg(sizes: list[dict[str, Any]], *, width: int = 640, height: int = 380) -> str:
    """p50/p95 of suggest, retrieval and the baseline against KB size (log x)."""
    series = [
        ("suggest p50", "suggest_ms", "p50", "#1f77b4", ""),
        ("suggest p95", "suggest_ms", "p95", "#1f77b4", "6,4"),
        ("retrieval p50", "retrieval_ms", "p50", "#2ca02c", ""),
        ("retrieval p95", "retrieval_ms", "p95", "#2ca02c", "6,4"),
        ("baseline p50", "baseline_ms", "p50", "#d62728", ""),
        ("baseline p95", "baseline_ms", "p95", "#d62728", "6,4"),
    ]
    pts = [(s["chunks"], (s.get(key) or {}).get(p)) for s in sizes for _, key, p, _, _ in series]
    xs = [x for x, _ in pts if x]
    ys = [y for _, y in pts if y is not None]
    left, right, top, bottom = 60, 150, 30, 50
    pw, ph = width - left - right, height - top - bottom
    lo, hi = (np.log10(min(xs)), np.log10(max(xs))) if xs else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1
    ymax = max(ys) * 1.1 if ys else 1.0

    def sx(x: float) -> float:
        return left + (np.log10(x) - lo) / (hi - lo) * pw

    def sy(y: float) -> float:
        return top + ph - y / ymax * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="11">',
        f'<text x="{left}" y="18" font-size="13">Latency against KB size</text>',
        f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333"/>',
        f'<text x="{left + pw / 2}" y="{height - 10}" text-anchor="middle">chunks (log scale)</text>',
        f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" text-anchor="middle">ms</text>',
    ]
    for s in sizes:
        x = sx(s["chunks"])
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{s["chunks"]:,}</text>')
    for i in range(5):
        y = ymax * i / 4
        out.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y:.0f}</text>')
        out.append(f'<line x1="{left}" y1="{sy(y):.1f}" x2="{left + pw}" y2="{sy(y):.1f}" stroke="#eee"/>')
    for n, (label, key, p, color, dash) in enumerate(series):
        line = [(sx(s["chunks"]), sy(v)) for s in sizes if (v := (s.get(key) or {}).get(p)) is not None]
        if not line:
            continue
        d = " ".join(f"{x:.1f},{y:.1f}" for x, y in line)
        out.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>')
        out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>' for x, y in line]
        ly = top + 14 * n
        out.append(
            f'<line x1="{left + pw + 10}" y1="{ly}" x2="{left + pw + 30}" y2="{ly}" stroke="{color}" '
            f'stroke-width="2" stroke-dasharray="{dash}"/>'
        )
        out.append(f'<text x="{left + pw + 34}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_outputs(out_dir: Path, result: dict[str, Any]) -> None:
    (out_dir / "bench.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    (out_dir / "bench.md").write_text(markdown(result), encoding="utf-8")
    (out_dir / "latency.svg").write_text(latency_svg(result["sizes"]), encoding="utf-8")
