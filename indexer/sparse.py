"""Sparse retrieval: BM25 (bm25s) over jieba-segmented text."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np

_jieba_lock = threading.Lock()
_jieba_ready = False
_MASK = re.compile(r"\[[^\[\]]{1,8}\]")  # masked tokens in real chats: [订单x] [数字x] [手机号]
_KEEP = re.compile(r"[0-9a-z\u4e00-\u9fff]")
_STOP = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "哦",
        "嘛",
        "么",
        "是",
        "我",
        "你",
        "他",
        "她",
        "它",
        "们",
        "这",
        "那",
        "在",
        "有",
        "和",
        "与",
        "就",
        "都",
        "也",
        "还",
        "要",
        "会",
        "能",
        "可以",
        "一下",
        "请问",
        "亲",
        "您好",
        "你好",
        "怎么",
        "什么",
        "为什么",
        "多少",
        "几",
        "个",
    ]
)


def _jieba():  # type: ignore[no-untyped-def]
    global _jieba_ready
    import jieba

    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba_ready = True
    return jieba


def add_words(words: Iterable[str]) -> None:
    """Teach the segmenter product names, SKUs and tags so they stay whole tokens."""
    jb = _jieba()
    for w in words:
        w = w.strip().lower()
        if len(w) >= 2:
            jb.add_word(w, freq=20000)


def words_fingerprint(words: Iterable[str]) -> str:
    """Identity of a set of taught words: tokens cached under one fingerprint are valid only under it."""
    return hashlib.sha256("\n".join(sorted({w.strip().lower() for w in words})).encode()).hexdigest()[:16]


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens, lower-cased, without punctuation, masks and stop words."""
    text = _MASK.sub(" ", text.lower())
    toks = []
    for t in _jieba().lcut_for_search(text):
        t = t.strip()
        if t and _KEEP.search(t) and t not in _STOP:
            toks.append(t)
    return toks


class SparseIndex:
    """BM25 over pre-tokenised passages; rows are addressed by position, mapped to chunk ids by the caller."""

    def __init__(self, corpus_tokens: Sequence[Sequence[str]]) -> None:
        self.n = len(corpus_tokens)
        self._bm25 = bm25s.BM25(k1=1.2, b=0.75)
        if self.n:
            # A placeholder token keeps bm25s happy with passages that tokenise to nothing.
            docs = [list(t) if t else ["\u2400"] for t in corpus_tokens]
            self._bm25.index(docs, show_progress=False)
        self._vocab: dict[str, int] = dict(getattr(self._bm25, "vocab_dict", {}) or {})

    def knows(self, token: str) -> bool:
        """Whether some passage has this token (a `tokenize` token, lower-cased)."""
        return token in self._vocab

    def search(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(row, score) pairs with a positive score, best first."""
        ids = [self._vocab[t] for t in query_tokens if t in self._vocab]
        if not ids or self.n == 0 or k <= 0:
            return []
        scores = self._bm25.get_scores(query_tokens_single=[t for t in query_tokens if t in self._vocab])
        k = min(k, self.n)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def save(self, path: Path) -> None:
        self._bm25.save(str(path), show_progress=False)

    @classmethod
    def load(cls, path: Path, n: int) -> SparseIndex:
        obj = cls.__new__(cls)
        obj.n = n
        # Memory-mapped: a query reads only its tokens' postings, so the rest need not be resident.
        obj._bm25 = bm25s.BM25.load(str(path), mmap=True, show_progress=False, verbosity=0) if n else bm25s.BM25()
        obj._vocab = getattr(obj._bm25, "vocab_dict", None) or {}
        return obj


def save_tokens(path: Path, corpus_tokens: Sequence[Sequence[str]]) -> None:
    """Store each passage's tokens (as ids into one vocabulary) so an update need not segment them again."""
    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(t, len(vocab)) for toks in corpus_tokens for t in toks), dtype=np.int32)
    offsets = np.cumsum([0, *(len(toks) for toks in corpus_tokens)], dtype=np.int64)
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.json").write_text(json.dumps(list(vocab), ensure_ascii=False), encoding="utf-8")
    np.save(path / "ids.npy", ids)
    np.save(path / "offsets.npy", offsets)


def load_tokens(path: Path) -> list[list[str]] | None:
    """The tokens written by `save_tokens`, or None when there are none (an index built before they were kept)."""
    if not (path / "offsets.npy").is_file():
        return None
    vocab = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
    ids = np.load(path / "ids.npy").tolist()
    offsets = np.load(path / "offsets.npy").tolist()
    return [[vocab[i] for i in ids[a:b]] for a, b in itertools.pairwise(offsets)]
