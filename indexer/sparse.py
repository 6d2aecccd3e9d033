"""Sparse retrieval: BM25 over jieba-segmented text, in segments that rank as one index."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

_jieba_lock = threading.Lock()
_jieba_ready = False
_MASK = re.compile(r"\[[^\[\]]{1,8}\]")  # masked tokens in real chats: [订单x] [数字x] [手机号]
_TAUGHT_FREQ = 20000
_TOKENS: dict[str, str] = {}
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
    """Teach the segmenter product names, SKUs and tags so they stay whole tokens.

    jieba's `add_word` also adds the word's frequency to the dictionary's total, every time it is called, and
    the total weighs every segmentation: teaching the same words again (each index opened, each update) made
    a process segment the same text differently over time, and a KB of many tags shifted all of them. The
    total is kept at the dictionary's own, so a text's tokens depend only on which words were taught."""
    jb = _jieba()
    with _jieba_lock:
        total = jb.dt.total
        for w in words:
            w = w.strip().lower()
            if len(w) >= 2 and jb.dt.FREQ.get(w) != _TAUGHT_FREQ:
                jb.add_word(w, freq=_TAUGHT_FREQ)
        jb.dt.total = total


def words_fingerprint(words: Iterable[str]) -> str:
    """Identity of a set of taught words: tokens cached under one fingerprint are valid only under it."""
    return hashlib.sha256("\n".join(sorted({w.strip().lower() for w in words})).encode()).hexdigest()[:16]


_TAUGHT_SETS: set[str] = set()  # fingerprints of word sets this process was taught every word of


def teach(words: Iterable[str]) -> str:
    """Teach the segmenter these words (`add_words`) and return their fingerprint, which `taught` then knows."""
    words = list(words)
    add_words(words)
    fingerprint = words_fingerprint(words)
    _TAUGHT_SETS.add(fingerprint)
    return fingerprint


def taught(fingerprint: str) -> bool:
    """Whether this process was taught every word of the set with this fingerprint (jieba forgets none), so
    that an update of an index built under it need not teach a large KB's words again."""
    return fingerprint in _TAUGHT_SETS


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens, lower-cased, without punctuation, masks and stop words."""
    text = _MASK.sub(" ", text.lower())
    toks = []
    for t in _jieba().lcut_for_search(text):
        t = t.strip()
        if t and _KEEP.search(t) and t not in _STOP:
            toks.append(_TOKENS.setdefault(t, t))  # one object per distinct token: ~4 GB less at 1M chunks
    return toks


K1 = 1.2
B = 0.75
EMPTY = "\u2400"  # the one token of a passage that tokenises to nothing, so that it has a length


class Postings:
    """BM25 postings of one segment: for each term, the rows that contain it and how often; each row's tokens.

        DIR/vocab.json    the terms; a term's id is its position
        DIR/ptr.npy       start of each term's postings in rows/tf (V + 1 int64)
        DIR/rows.npy      rows, grouped by term, ascending within a term (int32)
        DIR/tf.npy        term frequency of each posting (float32)
        DIR/tokens.npy    every row's token ids in text order (int32), so an update need not segment it again
        DIR/offsets.npy   start of each row's tokens in tokens.npy (n + 1 int64); a row's length is its span

    Scores are not stored: the inverse document frequency and the average length are the whole index's
    (every live row of every segment), so that an index of several segments ranks exactly as one built at once.
    """

    FILES = ("ptr", "rows", "tf", "tokens", "offsets")

    def __init__(
        self,
        terms: list[str],
        ptr: np.ndarray,
        rows: np.ndarray,
        tf: np.ndarray,
        tokens: np.ndarray,
        offsets: np.ndarray,
    ) -> None:
        self.terms = terms
        self.vocab = {t: i for i, t in enumerate(terms)}
        self.ptr = ptr
        self.rows = rows
        self.tf = tf
        self.tokens = tokens
        self.offsets = offsets
        self.lens = np.diff(np.asarray(offsets)).astype(np.float32)

    @property
    def n(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_tokens(cls, corpus_tokens: Sequence[Sequence[str]]) -> Postings:
        vocab: dict[str, int] = {}
        n = len(corpus_tokens)
        ids = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for toks in corpus_tokens for t in (toks or (EMPTY,))), dtype=np.int32
        )
        lens = np.fromiter((len(t) or 1 for t in corpus_tokens), dtype=np.int64, count=n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        # (term, row) pairs as one sorted int64 key; runs of equal keys are a term's frequency in a row.
        keys = ids.astype(np.int64) * max(n, 1)
        keys += np.repeat(np.arange(n, dtype=np.int64), lens)
        keys.sort()
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if len(keys) else np.zeros(0, np.int64)
        tf = np.diff(np.append(starts, len(keys))).astype(np.float32)
        keys = keys[starts]
        ptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys // max(n, 1), minlength=len(vocab)), out=ptr[1:])
        rows = (keys % max(n, 1)).astype(np.int32)
        return cls(list(vocab), ptr, rows, tf, ids, offsets)

    def row_tokens(self, row: int) -> list[str]:
        a, b = int(self.offsets[row]), int(self.offsets[row + 1])
        return [self.terms[i] for i in np.asarray(self.tokens[a:b]).tolist()]

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "vocab.json").write_text(json.dumps(self.terms, ensure_ascii=False), encoding="utf-8")
        for name in self.FILES:
            np.save(path / f"{name}.npy", getattr(self, name))

    @classmethod
    def load(cls, path: Path) -> Postings:
        """Memory-mapped: a query reads only its terms' postings."""
        terms = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
        return cls(terms, *(np.load(path / f"{name}.npy", mmap_mode="r") for name in cls.FILES))

    def term(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, tf) of a term; empty when the segment lacks it."""
        i = self.vocab.get(token)
        if i is None:
            return _NO_ROWS, _NO_TF
        a, b = int(self.ptr[i]), int(self.ptr[i + 1])
        return np.asarray(self.rows[a:b]), np.asarray(self.tf[a:b])


_NO_ROWS = np.zeros(0, dtype=np.int32)
_NO_TF = np.zeros(0, dtype=np.float32)


class SparseIndex:
    """BM25 (Lucene variant, k1 1.2, b 0.75) over the postings of several segments, each with its dead rows.

    Document frequencies count live rows only, and the average length is over live rows, so the scores are
    those of one index holding exactly the live rows. Results are (segment, row, score), best first; equal
    scores keep segment-then-row order, which the caller breaks by chunk id.
    """

    def __init__(self, segments: Sequence[Postings], dead: Sequence[np.ndarray]) -> None:
        self.segments = list(segments)
        self.dead = list(dead)  # boolean masks, one per segment
        self._any_dead = [bool(d.any()) for d in self.dead]
        self.n = sum(p.n - int(d.sum()) for p, d in zip(self.segments, self.dead, strict=True))
        total = sum(float(p.lens[~d].sum(dtype=np.float64)) for p, d in zip(self.segments, self.dead, strict=True))
        self.avg_len = total / self.n if self.n else 1.0

    def knows(self, token: str) -> bool:
        """Whether some live passage has this token (a `tokenize` token, lower-cased)."""
        for p, dead, any_dead in zip(self.segments, self.dead, self._any_dead, strict=True):
            rows, _ = p.term(token)
            if len(rows) and (not any_dead or bool((~dead[rows]).any())):
                return True
        return False

    def search(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, int, float]]:
        if self.n == 0 or k <= 0:
            return []
        scores = [np.zeros(p.n, dtype=np.float32) for p in self.segments]
        touched = False
        for token in query_tokens:
            postings = []
            df = 0
            for p, dead, any_dead in zip(self.segments, self.dead, self._any_dead, strict=True):
                rows, tf = p.term(token)
                if len(rows) and any_dead:
                    live = ~dead[rows]
                    rows, tf = rows[live], tf[live]
                postings.append((rows, tf))
                df += len(rows)
            if not df:
                continue
            touched = True
            idf = np.float32(math.log(1 + (self.n - df + 0.5) / (df + 0.5)))
            for s, p, (rows, tf) in zip(scores, self.segments, postings, strict=True):
                if len(rows):
                    norm = np.float32(K1) * (
                        np.float32(1 - B) + np.float32(B) * p.lens[rows] / np.float32(self.avg_len)
                    )
                    s[rows] += idf * (tf / (norm + tf))
        if not touched:
            return []
        out: list[tuple[int, int, float]] = []
        for seg, s in enumerate(scores):
            kk = min(k, len(s))
            if kk == 0:
                continue
            top = np.argpartition(-s, kk - 1)[:kk]
            out.extend((seg, int(r), float(s[r])) for r in top if s[r] > 0)
        out.sort(key=lambda t: -t[2])
        return out
