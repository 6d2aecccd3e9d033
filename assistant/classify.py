"""Intent (the KB's taxonomy) and emotion (calm / anxious / angry) of the customer's message."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.embedding import Embedder
from kb.models import Intent
from kb.rules import EmotionCues, EmotionLexicon

_INTENT_TEMPERATURE = 0.03
# Exemplar embeddings survive an assistant reload (a KB publish) when the taxonomy and model are unchanged.
_EXEMPLAR_CACHE: dict[tuple[str, str, tuple[str, ...]], np.ndarray] = {}
_EXEMPLAR_LOCK = threading.Lock()


def _cue_score(text: str, cues: EmotionCues) -> float:
    low = text.lower()
    words = sum(w for k, w in cues.words.items() if k.lower() in low)
    return words + sum(w * len(re.findall(p, text)) for p, w in cues.patterns.items())


def _scores(text: str, lexicon: EmotionLexicon) -> tuple[float, float]:
    return _cue_score(text, lexicon.angry), _cue_score(text, lexicon.anxious)


def _reads_angry(angry: float, anxious: float) -> bool:
    return angry >= 2 and angry >= anxious


def detect_emotion(customer_turns: list[str], lexicon: EmotionLexicon) -> tuple[str, float]:
    """Emotion of the latest customer turn, with the two turns before it counting half (anger lingers).
    The cues and their weights are the KB's (`rules.yaml` → emotion); the thresholds are here."""
    if not customer_turns:
        return "calm", 1.0
    angry, anxious = _scores(customer_turns[-1], lexicon)
    earlier_angry, earlier_anxious = _scores(" ".join(customer_turns[-3:-1]), lexicon)
    angry += 0.5 * earlier_angry
    anxious += 0.5 * earlier_anxious
    if _reads_angry(angry, anxious):
        return "angry", min(1.0, 0.5 + angry / 10)
    if anxious >= 1.5 or (angry >= 1 and anxious >= 1):
        return "anxious", min(1.0, 0.5 + anxious / 10)
    return "calm", 0.6 if angry or anxious else 0.9


def angry_turns(customer_turns: Sequence[str], lexicon: EmotionLexicon) -> int:
    """How many customer turns read as angry on their own, counted only when the latest does: frustration
    that is still rising, not anger that has passed."""
    flags = [_reads_angry(*_scores(t, lexicon)) for t in customer_turns]
    return sum(flags) if flags and flags[-1] else 0


@dataclass(frozen=True)
class IntentPrediction:
    name: str
    confidence: float
    scores: dict[str, float]


class IntentClassifier:
    """Nearest exemplars (embedding similarity) plus keyword evidence, per intent of the taxonomy.

    >>> clf = IntentClassifier(kb.intents, embedder); clf.warm_up()
    >>> clf.run(text="衣服大了能换小一码吗").name
    'exchange'
    """

    def __init__(
        self, intents: tuple[Intent, ...], embedder: Embedder, *, keyword_weight: float = 0.035, top_n: int = 3
    ) -> None:
        if not intents:
            raise ValueError("the intent taxonomy is empty; check intents.yaml")
        self.intents = intents
        self.embedder = embedder
        self.keyword_weight = keyword_weight
        self.top_n = top_n
        self._matrix: np.ndarray | None = None
        self._rows: list[np.ndarray] = []  # per intent, its exemplars' rows in the matrix

    def warm_up(self) -> None:
        if self._matrix is not None:
            return
        texts, owner = [], []
        for n, intent in enumerate(self.intents):
            for ex in intent.examples or (intent.description,):
                texts.append(ex)
                owner.append(n)
        key = (self.embedder.model_id, str(getattr(self.embedder, "query_backend", "")), tuple(texts))
        with _EXEMPLAR_LOCK:
            matrix = _EXEMPLAR_CACHE.get(key)
        if matrix is None and texts:
            matrix = self.embedder.embed_queries(texts)
            with _EXEMPLAR_LOCK:
                _EXEMPLAR_CACHE.clear()  # one taxonomy at a time is what a process serves
                _EXEMPLAR_CACHE[key] = matrix
        self._rows = [np.flatnonzero(np.asarray(owner) == n) for n in range(len(self.intents))]
        self._matrix = matrix

    def _keyword_hits(self, text: str, intent: Intent) -> float:
        return sum(1.0 if len(k) >= 3 else 0.7 for k in intent.keywords if k.lower() in text)

    def run(self, *, text: str, vector: np.ndarray | None = None) -> IntentPrediction:
        self.warm_up()
        assert self._matrix is not None
        q = vector if vector is not None else self.embedder.embed_query(text)
        sims = self._matrix @ q
        low = text.lower()
        scores: dict[str, float] = {}
        for n, intent in enumerate(self.intents):
            own = np.sort(sims[self._rows[n]])[::-1][: self.top_n]
            sim = float(own.mean()) if len(own) else 0.0
            scores[intent.name] = sim + self.keyword_weight * min(self._keyword_hits(low, intent), 3.0)
        best = max(scores, key=lambda k: scores[k])
        z = sum(math.exp((s - scores[best]) / _INTENT_TEMPERATURE) for s in scores.values())
        return IntentPrediction(best, 1.0 / z, scores)
