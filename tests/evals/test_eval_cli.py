import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.evals.fakes import case, write_set
from ui.cli import main


@pytest.fixture(autouse=True)
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KEFU_EMBEDDING_MODEL", "hashing")
    for var in ("KEFU_KB_DIR", "KEFU_INDEX_DIR"):
        monkeypatch.delenv(var, raising=False)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["eval", *(str(a) for a in args)])


@pytest.fixture
def eval_set(tmp_path: Path) -> Path:
    return write_set(
        tmp_path / "set.jsonl",
        [
            case(
                "ret-001",
                "衣服尺码偏小，签收3天了能退货吗",
                intent="return_request",
                doc_ids=["policy-return"],
                must_include=["7天"],
                must_not_include=["亲，"],
            ),
            case(
                "ship-001",
                "今天下单什么时候发货，运费多少",
                intent="shipping_info",
                doc_ids=["policy-shipping"],
            ),
            case(
                "kettle-001",
                "电热水壶保修多久",
                intent="product_info",
                doc_ids=["product-kettle"],
                handoff=False,
            ),
        ],
    )


def test_run_on_a_fresh_index_of_the_kb(tiny_kb: Path, eval_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = invoke("run", "--set", eval_set, "--kb", tiny_kb, "--out", out, "--retriever", "bm25", "-k", "3")
    assert res.exit_code == 0, res.output
    assert "3 cases" in res.output and "retrieval.recall@5" in res.output
    assert {p.name for p in out.iterdir()} == {"metrics.json", "cases.jsonl", "report.html"}
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n_cases"] == 3 and metrics["n_errors"] == 0
    # The plain-dense baseline is scored on the same cases beside the assistant's (here BM25) retrieval.
    assert 0 <= metrics["retrieval"]["dense_baseline.recall@5"] <= 1
    assert metrics["config"]["retriever"] == "bm25" and metrics["config"]["k"] == 3
    assert metrics["config"]["index"] == "fresh (temporary)"
    assert not (tmp_path / "home" / "indexes").exists()  # nothing left in the data directory
    records = [json.loads(x) for x in (out / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(len(r["retrieved"]) <= 3 for r in records)


def test_limit_and_json(tiny_kb: Path, eval_set: Path, tmp_path: Path) -> None:
    res = invoke("run", "--set", eval_set, "--kb", tiny_kb, "--out", tmp_path / "out", "--limit", "1", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["n_cases"] == 1


def test_gate_lists_the_missed_thresholds_and_exits_1(tiny_kb: Path, eval_set: Path, tmp_path: Path) -> None:
    gate = tmp_path / "t.json"
    gate.write_text(
        json.dumps({"n_errors": {"max": 0}, "latency_ms.p95": {"max": 0.0001}, "emotion.accuracy": {"min": 0.5}}),
        encoding="utf-8",
    )
    res = invoke("run", "--set", eval_set, "--kb", tiny_kb, "--out", tmp_path / "out", "--gate", gate)
    assert res.exit_code == 1
    assert f"error: gate failed, 2 of 3 threshold(s) in {gate} missed:" in res.stderr
    assert "latency_ms.p95 = " in res.stderr and "above the maximum 0.0001" in res.stderr
    assert "emotion.accuracy is null" in res.stderr
    assert (tmp_path / "out" / "report.html").is_file()  # the outputs are written before the gate is applied


def test_a_bad_gate_file_fails_before_the_run(tiny_kb: Path, eval_set: Path, tmp_path: Path) -> None:
    gate = tmp_path / "t.json"
    gate.write_text(json.dumps({"recall@5": {"min": 0.5}}), encoding="utf-8")
    res = invoke("run", "--set", eval_set, "--kb", tiny_kb, "--out", tmp_path / "out", "--gate", gate)
    assert res.exit_code == 1 and "'recall@5' is not a metric" in res.stderr
    assert "Traceback" not in res.output and not (tmp_path / "out").exists()


def test_run_refuses_a_set_that_does_not_match_the_kb(tiny_kb: Path, tmp_path: Path) -> None:
    bad = write_set(tmp_path / "bad.jsonl", [case("x", "能退吗", doc_ids=["policy-return-7day"])])
    res = invoke("run", "--set", bad, "--kb", tiny_kb, "--out", tmp_path / "out")
    assert res.exit_code == 1
    assert res.stderr.startswith("error: 1 problem(s) in the eval set")
    assert "line 1 (x): doc id 'policy-return-7day' is not in the knowledge base" in res.stderr


def test_validate(tiny_kb: Path, eval_set: Path, tmp_path: Path) -> None:
    res = invoke("validate", eval_set, "--kb", tiny_kb)
    assert res.exit_code == 0, res.output
    assert "3 valid case(s)" in res.output and "labelled: intent 3, emotion 0, doc_ids 3" in res.output
    assert "intents with no case: promotion" in res.output
    bad = write_set(tmp_path / "bad.jsonl", [case("x", "能退吗", intent="refund"), "{"])
    res = invoke("validate", bad, "--kb", tiny_kb)
    assert res.exit_code == 1
    assert "line 1 (x): unknown intent 'refund'" in res.stderr and "line 2: not valid JSON" in res.stderr


def test_compare_and_ratchet(tiny_kb: Path, eval_set: Path, tmp_path: Path) -> None:
    for name, retriever in (("a", "bm25"), ("b", "hybrid")):
        res = invoke("run", "--set", eval_set, "--kb", tiny_kb, "--out", tmp_path / name, "--retriever", retriever)
        assert res.exit_code == 0, res.output
    res = invoke("compare", tmp_path / "a", tmp_path / "b", "--html", tmp_path / "cmp.html")
    assert res.exit_code == 0, res.output
    assert "retriever=bm25" in res.output and "cases that flipped:" in res.output
    assert "<svg" not in res.output and (tmp_path / "cmp.html").read_text(encoding="utf-8").startswith("<!DOCTYPE")

    gate = tmp_path / "t.json"
    gate.write_text(json.dumps({"retrieval.recall@5": {"min": 0.0}, "latency_ms.p95": {"max": 1e6, "ratchet": False}}))
    res = invoke("ratchet", tmp_path / "b", "--gate", gate)
    assert res.exit_code == 0, res.output
    new = json.loads(gate.read_text(encoding="utf-8"))
    recall = json.loads((tmp_path / "b" / "metrics.json").read_text(encoding="utf-8"))["retrieval"]["recall@5"]
    assert new["retrieval.recall@5"]["min"] == pytest.approx(int(recall * 100) / 100)
    assert new["latency_ms.p95"] == {"max": 1e6, "ratchet": False}
    assert "1 threshold(s) tightened, 0 lowered" in res.output


def test_ratchet_lowers_only_a_named_threshold_with_a_reason(tiny_kb: Path, eval_set: Path, tmp_path: Path) -> None:
    res = invoke("run", "--set", eval_set, "--kb", tiny_kb, "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    gate = tmp_path / "t.json"
    before = {"retrieval.recall@5": {"min": 1.01, "note": "too high"}, "n_errors": {"max": 0}}
    gate.write_text(json.dumps(before), encoding="utf-8")

    res = invoke("ratchet", tmp_path / "run", "--gate", gate)  # ratcheting never loosens
    assert res.exit_code == 0 and json.loads(gate.read_text(encoding="utf-8")) == before
    res = invoke("ratchet", tmp_path / "run", "--gate", gate, "--allow-lower", "retrieval.recall@5")
    assert res.exit_code == 1 and "needs --reason" in res.stderr
    assert json.loads(gate.read_text(encoding="utf-8")) == before

    res = invoke(
        "ratchet", tmp_path / "run", "--gate", gate, "--allow-lower", "retrieval.recall@5", "--reason", "新增难例"
    )
    assert res.exit_code == 0, res.output
    entry = json.loads(gate.read_text(encoding="utf-8"))["retrieval.recall@5"]
    assert entry["min"] < 1.01 and entry["note"] == "too high"
    assert entry["lowered"]["from"] == ">= 1.01" and entry["lowered"]["reason"] == "新增难例"
    assert "0 threshold(s) tightened, 1 lowered" in res.output

    res = invoke("ratchet", tmp_path / "run", "--gate", gate, "--allow-lower", "n_errors", "--reason", "x")
    assert res.exit_code == 1 and "meets <= 0 already" in res.stderr


def test_table_prints_every_metric_of_the_runs_side_by_side(tiny_kb: Path, eval_set: Path, tmp_path: Path) -> None:
    for name in ("dev", "test"):
        res = invoke("run", "--set", eval_set, "--kb", tiny_kb, "--out", tmp_path / name, "--limit", "2")
        assert res.exit_code == 0, res.output
    res = invoke("table", tmp_path / "dev", tmp_path / "test")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == f"| metric | key | {tmp_path / 'dev'} | {tmp_path / 'test'} |"
    assert "| Handoff recall | `reply.handoff_recall` |" in res.output
    row = next(x for x in lines if "`retrieval.recall@5`" in x)
    assert row.count("(n=2)") == 2


def test_validate_warns_about_unknown_keys_and_exits_0(tiny_kb: Path, tmp_path: Path) -> None:
    raw = {**case("x", "能退吗", intent="return_request"), "source": "外部"}
    raw["expected"]["must_includes"] = ["7天"]
    res = invoke("validate", write_set(tmp_path / "s.jsonl", [raw]), "--kb", tiny_kb)
    assert res.exit_code == 0, res.output
    assert "line 1 (x): warning: unknown key 'source' is ignored" in res.stderr
    assert "unknown key in expected: 'must_includes' is ignored (did you mean 'must_include'?)" in res.stderr
    assert "1 valid case(s)" in res.output and "2 warning(s)" in res.output


def test_run_retrieves_as_many_documents_as_the_service(
    tiny_kb: Path, eval_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.settings import AssistantSettings

    res = invoke("run", "--set", eval_set, "--kb", tiny_kb, "--out", tmp_path / "default")
    assert res.exit_code == 0, res.output
    config = json.loads((tmp_path / "default" / "metrics.json").read_text(encoding="utf-8"))["config"]
    assert config["k"] == AssistantSettings().k == 10
    monkeypatch.setenv("KEFU_K", "4")
    res = invoke("run", "--set", eval_set, "--kb", tiny_kb, "--out", tmp_path / "env")
    assert json.loads((tmp_path / "env" / "metrics.json").read_text(encoding="utf-8"))["config"]["k"] == 4
