import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from evals.bench import NearCopyEmbedder, check_targets, first_documents, latency_svg, load_queries, markdown
from evals.synth import grow_kb, perturb
from indexer.chunking import chunk_document
from indexer.embedding import HashingEmbedder
from kb import demo_kb_dir, load_kb, parse_document
from ui.bench_cli import bench

CONTRACT_SIZE_KEYS = {
    "chunks",
    "embedder",
    "build_chunks_per_s",
    "update_one_doc_s",
    "peak_rss_mb",
    "index_bytes",
    "retrieval_ms",
    "suggest_ms",
    "baseline_ms",
    "speedup_vs_baseline_p50",
    "recall@5",
    "baseline_recall@5",
}


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return grow_kb(demo_kb_dir(), tmp_path_factory.mktemp("synth") / "kb", chunks=1200).root


def test_grown_kb_loads_with_distinct_ids_and_keeps_the_originals(grown: Path) -> None:
    kb = load_kb(grown)  # strict: any invalid document would raise
    ids = [d.id for d in kb.documents]
    assert len(ids) == len(set(ids))
    demo = load_kb(demo_kb_dir())
    assert all(kb.get(doc.id) == doc for doc in demo.documents)
    copies = [d for d in kb.documents if demo.get(d.id) is None]
    assert copies and all(c.id.rsplit("-s", 1)[0] in {d.id for d in demo.documents} for c in copies)


def test_grown_kb_reaches_the_size_within_one_document(grown: Path) -> None:
    chunks = [len(chunk_document(d)) for d in load_kb(grown).published]
    assert 1200 <= sum(chunks) < 1200 + max(chunks)


def test_a_smaller_kb_with_the_same_seed_is_a_subset(grown: Path, tmp_path: Path) -> None:
    small = grow_kb(demo_kb_dir(), tmp_path / "small", chunks=600)
    assert {d.id for d in load_kb(small.root).documents} < {d.id for d in load_kb(grown).documents}


def test_a_copy_is_a_perturbed_distractor() -> None:
    doc = load_kb(demo_kb_dir()).get("product-air-fryer")
    assert doc is not None
    copy = parse_document(perturb(doc, 42))
    assert copy.id == "product-air-fryer-s00042" and copy.type == doc.type and copy.category == doc.category
    assert copy.title.endswith(doc.title) and copy.title != doc.title
    assert copy.sku and copy.sku != doc.sku
    assert copy.body != doc.body and "空气炸锅" in copy.body
    assert perturb(doc, 42) == perturb(doc, 42)  # seeded: the same KB every run


def test_queries_come_from_the_eval_set_or_the_faq_questions(tmp_path: Path) -> None:
    case = {
        "id": "c1",
        "conversation": [{"role": "customer", "text": "空气炸锅多大功率"}],
        "expected": {"doc_ids": ["product-air-fryer"]},
    }
    unlabelled = {"id": "c2", "conversation": [{"role": "customer", "text": "你好"}], "expected": {}}
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in (case, unlabelled)), encoding="utf-8")
    assert [(q.id, q.doc_ids) for q in load_queries(path, demo_kb_dir(), 10)] == [("c1", ("product-air-fryer",))]
    faq = load_queries(None, demo_kb_dir(), 500)
    assert len(faq) > 20 and all(q.doc_ids and q.conversation[0]["text"] for q in faq)


def test_near_copy_vectors_sit_close_to_their_source_and_queries_use_the_real_model() -> None:
    real = HashingEmbedder()
    demo = load_kb(demo_kb_dir())
    doc, other = demo.get("policy-return-7day"), demo.get("product-air-fryer")
    assert doc is not None and other is not None
    own = [c.embed_text for c in chunk_document(doc)]
    others = [c.embed_text for c in chunk_document(other)]
    emb = NearCopyEmbedder(real, own + others, real.embed_passages(own + others))
    copies = emb.embed_passages([c.embed_text for c in chunk_document(parse_document(perturb(doc, 3)))])
    assert np.allclose(emb.embed_passages(own), real.embed_passages(own))
    assert np.allclose(np.linalg.norm(copies, axis=1), 1.0, atol=1e-5)
    to_own, to_other = copies @ real.embed_passages(own).T, copies @ real.embed_passages(others).T
    assert (to_own.max(axis=1) > to_other.max(axis=1)).all()
    assert np.array_equal(emb.embed_query("能退吗"), real.embed_query("能退吗"))
    assert emb.model_id == f"{real.model_id}+nearcopy"


def test_a_tiny_fake_run_writes_every_contract_key(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        bench,
        [
            "--out",
            str(out),
            "--sizes",
            "400",
            "--fake",
            "--queries",
            "6",
            "--concurrency",
            "2",
            "--work",
            str(tmp_path / "work"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert {"cpus", "python"} <= set(data["machine"]) and data["model"]
    [size] = data["sizes"]
    assert set(size) >= CONTRACT_SIZE_KEYS
    assert size["embedder"] == "fake" and size["chunks"] >= 400
    for key in ("retrieval_ms", "suggest_ms", "baseline_ms"):
        assert set(size[key]) == {"p50", "p95", "p99"}
    assert size["baseline_ms"]["p50"] is None and size["speedup_vs_baseline_p50"] is None
    assert 0 <= size["recall@5"] <= 1 and size["index_bytes"] > 0 and size["peak_rss_mb"] > 0
    assert "| fake (hashing)" in (out / "bench.md").read_text(encoding="utf-8")
    assert (out / "latency.svg").read_text(encoding="utf-8").startswith("<svg")


def test_bad_sizes_are_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(bench, ["--out", str(tmp_path), "--sizes", "ten", "--fake"])
    assert result.exit_code == 2 and "chunk counts" in result.output


def test_targets_and_report_handle_missing_figures() -> None:
    size = {
        "chunks": 10_004,
        "target_chunks": 10_000,
        "embedder": "real",
        "build_chunks_per_s": 40.0,
        "update_one_doc_s": 1.2,
        "peak_rss_mb": 900.0,
        "index_bytes": 2**21,
        "retrieval_ms": {"p50": 20.0, "p95": 30.0, "p99": 40.0},
        "suggest_ms": {"p50": 60.0, "p95": 120.0, "p99": 150.0},
        "baseline_ms": {"p50": None, "p95": None, "p99": None},
        "speedup_vs_baseline_p50": None,
        "recall@5": 0.9,
        "baseline_recall@5": None,
    }
    targets = {t["target"]: t["met"] for t in check_targets([size])}
    assert targets["suggest p95 ≤ 100 ms at 10k"] is False
    assert targets["one-document update ≤ 2 s at 10k"] is True
    assert targets["≥ 5× faster than the naive pipeline at 10k (p50)"] is None
    report = markdown({"machine": {"cpus": 2}, "model": "m", "queries": {"n": 1, "source": "s"}, "sizes": [size]})
    assert "10,004" in report and "–" in report
    assert latency_svg([size]).count("<polyline") == 4  # suggest and retrieval p50/p95; no baseline line


def test_the_baseline_gets_as_many_documents_as_we_do() -> None:
    chunks = ["a", "a", "a", "b", "a", "b", "c", "c", "d", "a", "a", "e", "f"]  # chunk hits, best first
    asked: list[int] = []

    def search(k: int) -> list[str]:
        asked.append(k)
        return chunks[:k]

    assert first_documents(search, 5, start=4) == ["a", "b", "c", "d", "e"]
    assert asked == [4, 8, 16]  # doubled until five distinct documents came back
    assert first_documents(lambda k: ["a", "b", "a"][:k], 5) == ["a", "b"]  # the index ran out
