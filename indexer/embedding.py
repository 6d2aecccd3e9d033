"""Embedders: the real sentence-transformers model, and a fast deterministic fake with the same interface."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from indexer.errors import EmbeddingModelError
from indexer.onnx_encoder import OnnxEncoder, find_int8, unsupported_reason

QUERY_ENCODERS = ("auto", "onnx", "torch")


@runtime_checkable
class Embedder(Protocol):
    """Turns passages and queries into L2-normalised float32 vectors."""

    @property
    def name(self) -> str: ...  # human-readable model name

    @property
    def model_id(self) -> str: ...  # identity recorded in the index manifest

    @property
    def dim(self) -> int: ...

    def embed_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def _offline_env() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Idle OpenMP threads sleep instead of spinning: with more runnable threads than cores (concurrent
    # requests, a busy machine) spinning made a 2-thread query take 5-10x longer. Only effective when
    # torch is not imported yet.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def model_identity(path: Path) -> str:
    """Identity of a model folder: the prepared checksum if there is one, else a hash of config and sizes."""
    meta = path / "kefu_model.json"
    if meta.is_file():
        try:
            info = json.loads(meta.read_text(encoding="utf-8"))
            sha = info.get("model_sha256") or info.get("sha256")
            if sha:
                return f"sha256:{str(sha)[:16]}"
        except (OSError, ValueError):
            pass
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file():
            h.update(f"{f.relative_to(path)}:{f.stat().st_size}\n".encode())
            if f.suffix == ".json":
                h.update(f.read_bytes())
    return f"files:{h.hexdigest()[:16]}"


class SentenceTransformerEmbedder:
    """A local sentence-transformers folder, loaded offline; uses its `query`/`passage` prompts if defined.

    >>> emb = SentenceTransformerEmbedder(Path("~/.local/share/kefu/models/multilingual-e5-small"))
    >>> emb.warm_up(); emb.embed_query("尺码偏小能退吗").shape
    (384,)
    """

    def __init__(
        self,
        path: Path | str,
        *,
        batch_size: int = 32,
        query_cache: int = 2048,
        batch_precision: str = "auto",
        query_encoder: str = "auto",
    ) -> None:
        if batch_precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"batch_precision {batch_precision!r}: use auto, fp32 or bf16")
        if query_encoder not in QUERY_ENCODERS:
            raise ValueError(f"query_encoder {query_encoder!r}: use {', '.join(QUERY_ENCODERS)}")
        self.path = Path(path).expanduser()
        if not (self.path / "modules.json").is_file() and not (self.path / "config.json").is_file():
            raise EmbeddingModelError(
                f"{self.path}: not a sentence-transformers model folder (no modules.json/config.json). "
                "Run `make setup` (or `kefu model prepare`) to prepare the default model, or set "
                "KEFU_EMBEDDING_MODEL to a sentence-transformers folder"
            )
        self.batch_size = batch_size
        self._model: Any = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._torch_lock = threading.Lock()
        self._ready = False
        self._cache_size = query_cache
        self._model_id = model_identity(self.path)
        self._batch_precision = batch_precision
        self._bf16 = False
        self._query_encoder = query_encoder
        self._onnx: OnnxEncoder | None = None
        self.passages_embedded = 0  # counter: how many passages this embedder has encoded
        self.onnx_passages = 0  # of which by the int8 ONNX encoder (`embed_few_passages`)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def query_backend(self) -> str:
        """What embeds queries once loaded: `onnx-int8` or `torch`."""
        self.warm_up()
        return "onnx-int8" if self._onnx is not None else "torch"

    @property
    def dim(self) -> int:
        self.warm_up()
        if self._onnx is not None:
            return self._onnx.dim
        model = self._torch()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def warm_up(self) -> None:
        """Load what embedding queries needs: the int8 ONNX encoder when there is one, else the PyTorch model.
        PyTorch is loaded for passages only when they are first embedded (a serving process may never)."""
        if self._ready:
            return
        with self._load_lock:
            if not self._ready:
                self._onnx = self._load_onnx()
                if self._onnx is None:
                    self._torch()
                self._ready = True

    def _torch(self) -> Any:
        """The sentence-transformers model, loaded on first use."""
        if self._model is None:
            with self._torch_lock:
                if self._model is None:
                    self._model = self._load_torch()
        return self._model

    def _load_torch(self) -> Any:
        _offline_env()
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            native_bf16 = [
                getattr(torch.cpu, f, lambda: False)() for f in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
            ]
            self._bf16 = self._batch_precision == "bf16" or (self._batch_precision == "auto" and any(native_bf16))
        except Exception as e:  # any loading failure is a configuration problem for the user
            raise EmbeddingModelError(f"{self.path}: cannot load the embedding model: {e}") from e
        return model

    def _load_onnx(self) -> OnnxEncoder | None:
        if self._query_encoder == "torch":
            return None
        graph = find_int8(self.path, self._model_id)
        reason = unsupported_reason(self.path)
        if graph is None or reason:
            if self._query_encoder == "onnx":
                raise EmbeddingModelError(
                    f"{self.path}: no int8 ONNX query encoder for this model ({reason or 'not exported yet'}); run "
                    f"`kefu model optimize --model {self.path}` or set KEFU_QUERY_ENCODER=torch"
                )
            return None
        _offline_env()
        return OnnxEncoder(self.path, graph)

    def _encode_batch(self, texts: Sequence[str], kind: str, *, progress: bool = False) -> np.ndarray:
        """Batches in bfloat16 where the CPU has it natively (AMX / AVX512-BF16): 2-3x the passages per second,
        cosine to the float32 vectors >= 0.99999. Single queries stay float32, where bf16 gains nothing."""
        import torch

        model = self._torch()
        prompts = getattr(model, "prompts", None) or {}
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bf16):
            return model.encode(
                list(texts),
                batch_size=self.batch_size,
                prompt_name=kind if kind in prompts else None,
                normalize_embeddings=True,
                show_progress_bar=progress,
                convert_to_numpy=True,
            )

    def embed_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._encode_batch(texts, "passage", progress=progress)
        self.passages_embedded += len(texts)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_few_passages(self, texts: Sequence[str]) -> np.ndarray:
        """A handful of passages (an editor's update): through the int8 ONNX encoder when there is one and
        PyTorch is not loaded yet, so an update does not wait ~10 s for PyTorch. Its vectors are at cosine
        >= 0.998 to PyTorch's (NOTES, issue 17); a full build always uses PyTorch."""
        self.warm_up()
        if self._onnx is None or self._model is not None or not texts:
            return self.embed_passages(texts)
        vecs = self._onnx.encode([self._onnx.passage_prompt + t for t in texts])
        self.passages_embedded += len(texts)
        self.onnx_passages += len(texts)
        return vecs

    def _onnx_queries(self, onnx: OnnxEncoder, texts: Sequence[str]) -> np.ndarray:
        return onnx.encode([onnx.query_prompt + t for t in texts])

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Many queries (the intent exemplars), not cached; by the same encoder as single queries."""
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None:
            return self._onnx_queries(self._onnx, texts)
        vecs = self._encode_batch(texts, "query", progress=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:  # the service calls this from several threads
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        self.warm_up()
        if self._onnx is not None:
            vec = self._onnx_queries(self._onnx, [text])[0]
        else:
            model = self._torch()
            vec = model.encode(
                [text],
                prompt_name="query" if "query" in (getattr(model, "prompts", None) or {}) else None,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )[0].astype(np.float32)
        with self._lock:
            self._cache[text] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vec


_TOKEN = re.compile(r"[a-z0-9]+|[\u4e00-\u9fff]")


class HashingEmbedder:
    """Fast deterministic fake: hashed character uni/bi-grams. Lexical, not semantic; for tests and big benches."""

    def __init__(self, dim: int = 384, *, name: str = "hashing-fake") -> None:
        self._dim = dim
        self._name = name
        self.passages_embedded = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def model_id(self) -> str:
        return f"{self._name}:{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def warm_up(self) -> None:
        """Nothing to load."""

    def _one(self, text: str) -> np.ndarray:
        toks = _TOKEN.findall(text.lower())
        grams = toks + [a + b for a, b in itertools.pairwise(toks)]
        vec = np.zeros(self._dim, dtype=np.float32)
        for g in grams:
            d = hashlib.blake2b(g.encode(), digest_size=8).digest()
            idx = int.from_bytes(d[:4], "little") % self._dim
            vec[idx] += 1.0 if d[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def embed_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.passages_embedded += len(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([self._one(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._one(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([self._one(t) for t in texts])


FAKE_MODEL = "hashing"


def load_embedder(spec: str | Path, *, batch_size: int = 32, query_encoder: str = "auto") -> Embedder:
    """`hashing` for the fake (tests, large benches); otherwise a sentence-transformers folder.

    `query_encoder`: `auto` uses the folder's int8 ONNX copy for queries when `kefu model optimize` made one,
    `onnx` requires it, `torch` never uses it."""
    if str(spec) == FAKE_MODEL:
        return HashingEmbedder()
    path = Path(spec).expanduser()
    if not path.exists():
        raise EmbeddingModelError(
            f"{path}: embedding model folder not found. Run `kefu model prepare` (or `make setup`) to prepare "
            "the default multilingual-e5-small, or set KEFU_EMBEDDING_MODEL to a sentence-transformers folder"
        )
    return SentenceTransformerEmbedder(path, batch_size=batch_size, query_encoder=query_encoder)
