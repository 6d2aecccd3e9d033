"""The int8 ONNX query encoder: which folders can have one, stale copies, and agreement with PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import SentenceTransformerEmbedder, model_identity
from indexer.errors import EmbeddingModelError
from indexer.onnx_encoder import FORMAT, ONNX_DIR, ONNX_FILE, RECORD_FILE, find_int8, unsupported_reason


def _folder(tmp_path: Path, modules: list[str], pooling: dict[str, bool] | None = None) -> Path:
    paths = {"Transformer": "", "Pooling": "1_Pooling", "Normalize": "2_Normalize", "Dense": "2_Dense"}
    (tmp_path / "modules.json").write_text(
        json.dumps(
            [
                {"idx": i, "name": str(i), "path": paths[m], "type": f"sentence_transformers.models.{m}"}
                for i, m in enumerate(modules)
            ]
        )
    )
    (tmp_path / "1_Pooling").mkdir()
    cfg = {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False} if pooling is None else pooling
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 8, **cfg}))
    (tmp_path / "tokenizer.json").write_text("{}")
    return tmp_path


def test_mean_pooling_folder_is_supported(tmp_path: Path) -> None:
    assert unsupported_reason(_folder(tmp_path, ["Transformer", "Pooling", "Normalize"])) is None


def test_cls_pooling_is_not_supported(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["Transformer", "Pooling"], {"pooling_mode_cls_token": True})
    assert "pooling_mode_cls_token" in (unsupported_reason(folder) or "")


def test_extra_dense_layer_is_not_supported(tmp_path: Path) -> None:
    assert "Dense" in (unsupported_reason(_folder(tmp_path, ["Transformer", "Pooling", "Dense"])) or "")


def test_folder_without_a_fast_tokenizer_is_not_supported(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["Transformer", "Pooling"])
    (folder / "tokenizer.json").unlink()
    assert "tokenizer.json" in (unsupported_reason(folder) or "")


def test_folder_without_modules_is_not_supported(tmp_path: Path) -> None:
    assert unsupported_reason(tmp_path) is not None


def test_copy_made_from_another_model_is_ignored(tmp_path: Path) -> None:
    (tmp_path / ONNX_DIR).mkdir()
    (tmp_path / ONNX_DIR / ONNX_FILE).write_bytes(b"graph")
    record = {"format": FORMAT, "model_id": "sha256:aaaa"}
    (tmp_path / ONNX_DIR / RECORD_FILE).write_text(json.dumps(record))
    assert find_int8(tmp_path, "sha256:aaaa") == tmp_path / ONNX_DIR / ONNX_FILE
    assert find_int8(tmp_path, "sha256:bbbb") is None  # the model changed since the export
    (tmp_path / ONNX_DIR / RECORD_FILE).write_text(json.dumps({**record, "format": FORMAT + 1}))
    assert find_int8(tmp_path, "sha256:aaaa") is None


def test_requiring_onnx_without_a_copy_says_how_to_make_one(tmp_path: Path) -> None:
    _folder(tmp_path, ["Transformer", "Pooling"])
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(EmbeddingModelError, match="kefu model optimize"):
        SentenceTransformerEmbedder(tmp_path, query_encoder="onnx").warm_up()


def test_unknown_query_encoder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="auto, onnx, torch"):
        SentenceTransformerEmbedder(tmp_path, query_encoder="tensorrt")


@pytest.mark.model
def test_int8_queries_agree_with_pytorch(real_model_dir: Path) -> None:
    """`make setup` exports the copy; its query vectors stay within cosine 0.99 of PyTorch's."""
    assert find_int8(real_model_dir, model_identity(real_model_dir)) is not None, "run `kefu model optimize`"
    fast = SentenceTransformerEmbedder(real_model_dir, query_encoder="onnx")
    slow = SentenceTransformerEmbedder(real_model_dir, query_encoder="torch")
    assert fast.query_backend == "onnx-int8" and slow.query_backend == "torch"
    queries = [
        "衣服尺码偏小了，能换大一号吗",
        "[订单1]什么时候发货",
        "收到的杯子有裂缝，我要退款",
        "how do I return an item",
    ]
    a = np.stack([fast.embed_query(q) for q in queries])
    b = slow.embed_queries(queries)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    cos = (a * b).sum(axis=1)
    assert cos.min() >= 0.99, cos
    # Batches and single queries go through the same encoder, so intent exemplars match live queries.
    assert np.allclose(fast.embed_queries(queries), a, atol=1e-5)
    assert fast.dim == slow.dim == 384


@pytest.mark.model
def test_queries_alone_do_not_load_pytorch(real_model_dir: Path) -> None:
    """A serving process that only embeds queries never loads the PyTorch model; passages load it on demand."""
    emb = SentenceTransformerEmbedder(real_model_dir, query_encoder="onnx")
    emb.embed_query("尺码偏小能退吗")
    assert emb._model is None
    passages = emb.embed_passages(["七天无理由退货：签收次日起7天内可申请。"])
    assert emb._model is not None and passages.shape == (1, emb.dim)
