"""An int8 ONNX Runtime copy of a sentence-transformers model's transformer, for fast query embedding.

A customer question is ~20 tokens; PyTorch spends ~25 ms on it on 2 cores, most of it per-operator overhead.
The same network exported to ONNX and dynamically quantized to int8 (per-channel weights) runs it in ~3.5 ms
on one thread, with cosine >= 0.99 to the float32 vector. It lives beside the model, in the layout
sentence-transformers itself uses for ONNX backends:

    MODEL_DIR/onnx/model_qint8.onnx     the quantized graph
    MODEL_DIR/onnx/kefu_onnx.json       which model it was made from (stale copies are ignored)

Only models whose pooling is plain mean pooling are supported (e5, MiniLM, most sentence-transformers models);
for others the embedder keeps using PyTorch.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import EmbeddingModelError

ONNX_DIR = "onnx"
ONNX_FILE = "model_qint8.onnx"
RECORD_FILE = "kefu_onnx.json"
FORMAT = 1


def _modules(model_dir: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads((model_dir / "modules.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return []


def unsupported_reason(model_dir: Path) -> str | None:
    """Why this folder cannot use the ONNX encoder, or None if it can (one Transformer, then mean pooling)."""
    mods = _modules(model_dir)
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in mods]
    if not mods or kinds[0] != "Transformer" or "Pooling" not in kinds:
        return "not a Transformer + Pooling sentence-transformers folder"
    if any(k not in ("Transformer", "Pooling", "Normalize") for k in kinds):
        return f"has modules other than Transformer/Pooling/Normalize ({', '.join(kinds)})"
    pooling = mods[kinds.index("Pooling")]
    try:
        cfg = json.loads((model_dir / pooling["path"] / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return "its pooling config cannot be read"
    modes = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"]:
        return f"pooling is {', '.join(modes) or 'unset'}, not mean pooling"
    if not (model_dir / str(mods[0].get("path", "")) / "tokenizer.json").is_file():
        return "it has no tokenizer.json (a fast tokenizer)"
    return None


def _transformer_dir(model_dir: Path) -> Path:
    return model_dir / str(_modules(model_dir)[0].get("path", ""))


def read_record(model_dir: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((model_dir / ONNX_DIR / RECORD_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def find_int8(model_dir: Path, model_id: str) -> Path | None:
    """The int8 graph made from exactly this model, if there is one."""
    record = read_record(model_dir)
    path = model_dir / ONNX_DIR / ONNX_FILE
    if record and record.get("model_id") == model_id and record.get("format") == FORMAT and path.is_file():
        return path
    return None


def export_int8(model_dir: Path, model_id: str) -> Path:
    """Export the folder's transformer to ONNX and quantize it to int8; atomic, offline, ~20 s for e5-small."""
    reason = unsupported_reason(model_dir)
    if reason:
        raise EmbeddingModelError(f"{model_dir}: no ONNX query encoder possible: {reason}")
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel, AutoTokenizer
    except ImportError as e:
        raise EmbeddingModelError(f"the ONNX export needs torch, transformers and onnxruntime ({e})") from e

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the unused pooler "newly initialized" notice
    source = _transformer_dir(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    model = AutoModel.from_pretrained(str(source), local_files_only=True).eval()

    class _LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = tokenizer(["query: 衣服尺码偏小能退吗", "passage: 七天无理由退货"], return_tensors="pt", padding=True)
    out_dir = model_dir / ONNX_DIR
    out_dir.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        axes = {0: "batch", 1: "tokens"}
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # onnxruntime.quantization logs "consider pre-processing" advice on root
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    _LastHidden(model),
                    (sample["input_ids"], sample["attention_mask"]),
                    str(tmp / "model.onnx"),
                    input_names=["input_ids", "attention_mask"],
                    output_names=["last_hidden_state"],
                    dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                    opset_version=17,
                    dynamo=False,
                )
                quantize_dynamic(
                    tmp / "model.onnx",
                    tmp / ONNX_FILE,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    nodes_to_exclude=_float_nodes(tmp / "model.onnx"),
                )
        finally:
            root.setLevel(level)
        os.replace(tmp / ONNX_FILE, out_dir / ONNX_FILE)
        record = {
            "format": FORMAT,
            "model_id": model_id,
            "quantization": "dynamic int8, per-channel weights; feed-forward output projections kept float32",
        }
        (out_dir / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir / ONNX_FILE


def _float_nodes(graph: Path) -> list[str]:
    """MatMuls left in float32: each layer's feed-forward output projection, whose GELU-activated input has
    outliers that int8 clips. On e5-small this halves the error (mean cosine to float32 0.9974 -> 0.9991, dev
    recall@5 unchanged instead of -0.012) for 3.4 -> 6.5 ms a query."""
    import onnx

    model = onnx.load(str(graph), load_external_data=False)
    return [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul" and n.name.endswith("/output/dense/MatMul") and "/attention/" not in n.name
    ]


def _json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


class OnnxEncoder:
    """Tokenizer + transformer forward on ONNX Runtime + mean pooling + L2 normalisation, without PyTorch: a
    serving process that only embeds queries never loads torch or the float32 weights (~0.6 GB less).

    One intra-op thread: a short query does not split usefully over cores, and concurrent requests each get one.
    """

    def __init__(self, model_dir: Path, graph: Path, *, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as e:
            raise EmbeddingModelError(f"onnxruntime or tokenizers is not installed ({e})") from e
        source = _transformer_dir(model_dir)
        try:
            self._tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        except Exception as e:  # missing or unreadable: the folder cannot use this encoder
            raise EmbeddingModelError(f"{source}: cannot read tokenizer.json for the ONNX encoder: {e}") from e
        st_config = _json(model_dir / "sentence_bert_config.json")
        tok_config = _json(source / "tokenizer_config.json")
        self.max_length = int(min(st_config.get("max_seq_length") or 512, tok_config.get("model_max_length") or 512))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_length)
        prompts = _json(model_dir / "config_sentence_transformers.json").get("prompts") or {}
        self.query_prompt = str(prompts.get("query", ""))
        self.passage_prompt = str(prompts.get("passage", ""))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # a corrupt or foreign file: a configuration problem for the user
            raise EmbeddingModelError(f"{graph}: cannot load the ONNX encoder: {e}") from e
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = int(self.encode(["dim"]).shape[1])

    def _one(self, text: str) -> np.ndarray:
        enc = self._tokenizer.encode(text)
        feed = {
            "input_ids": np.asarray([enc.ids], dtype=np.int64),
            "attention_mask": np.asarray([enc.attention_mask], dtype=np.int64),
            "token_type_ids": np.asarray([enc.type_ids], dtype=np.int64),
        }
        hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0][0]
        vec = hidden.mean(axis=0)  # no padding, so a plain mean over the tokens
        return np.asarray(vec / max(float(np.linalg.norm(vec)), 1e-12), dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One text per run: no padding, and int8 activation scales are per run, so a text's vector does not
        depend on what it was batched with. Many texts (intent exemplars) run on two threads side by side."""
        if len(texts) <= 8:
            rows = [self._one(t) for t in texts]
        else:
            with ThreadPoolExecutor(2) as pool:
                rows = list(pool.map(self._one, texts))
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
