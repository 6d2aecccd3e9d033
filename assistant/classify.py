"""Intent (the KB's taxonomy) and emotion (calm / anxious / angry) of the customer's message."""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass

import numpy as np

from indexer.embedding import Embedder
from kb.models import Intent

# Signals of emotion in customer messages; weights are per hit.
_ANGRY: dict[str, float] = {
    "投诉": 2,
    "差评": 2,
    "骗子": 3,
    "垃圾": 3,
    "什么破": 3,
    "太过分": 2,
    "气死": 3,
    "欺骗": 2,
    "坑人": 2,
    "曝光": 3,
    "消协": 3,
    "12315": 3,
    "工商": 2,
    "律师": 2,
    "起诉": 3,
    "赔偿": 1,
    "退一赔三": 2,
    "无语": 1,
    "恶心": 2,
    "滚": 2,
    "有病": 2,
    "智障": 3,
    "废物": 3,
    "傻": 2,
    "搞什么": 2,
    "第三次": 2,
    "第二次": 1,
    "还没解决": 2,
    "没人管": 2,
    "态度": 1,
    "忍无可忍": 3,
    "离谱": 2,
    "过分": 1,
    "什么玩意": 3,
    "凭什么": 2,
    "黑店": 3,
    "差劲": 2,
    "破店": 3,
    "假货": 2,
    "敷衍": 2,
    "再也不": 2,
    "tm": 2,
    "妈的": 3,
    "凭啥": 2,
    "啥质量": 3,
    "什么质量": 3,
    "质量也太差": 3,
    "太差了": 2,
    "干什么吃的": 3,
    "没完": 2,
    "告你们": 3,
    "弄死": 3,
    "少一分": 2,
    "还想不想": 3,
    "糊弄": 2,
    "态度太差": 3,
    "答非所问": 2,
    "管不管": 2,
    "拖这么久": 2,
    "才买几天": 2,
    "又发错": 3,
    "又是": 1,
    "听不懂人话": 3,
    "看着办": 2,
    "到底想怎样": 3,
    "坑": 1,
    "不然": 1,
    "一点都不": 1,
    "退了！": 2,
}
_ANXIOUS: dict[str, float] = {
    "急": 2,
    "着急": 2,
    "赶紧": 2,
    "快点": 2,
    "尽快": 1,
    "怎么还没": 2,
    "还没到": 1,
    "还没发": 1,
    "催": 1,
    "等了": 1,
    "还要多久": 2,
    "明天就要": 3,
    "后天就要": 3,
    "送人": 1,
    "生日": 1,
    "救命": 2,
    "担心": 2,
    "怎么办": 1,
    "咋办": 1,
    "会不会": 1,
    "能不能快": 2,
    "马上": 1,
    "在线等": 2,
    "到底": 1,
    "丢了": 1,
    "一直没": 1,
    "好几天": 1,
    "出差": 1,
    "赶时间": 2,
    "来不及": 2,
    "慌": 2,
    "焦虑": 2,
    "咋回事": 1.5,
    "怎么回事": 1.5,
    "咋整": 2,
    "咋弄": 1.5,
    "吓死": 2,
    "求求": 2,
    "急死": 3,
    "急用": 2,
    "还没退": 1.5,
    "没看到钱": 2,
    "都两天": 1.5,
    "都过了": 1.5,
    "一个多星期": 1.5,
    "压根": 1,
    "会不会没": 2,
    "会不会化": 1.5,
    "要不要签收": 2,
    "比较在意": 1.5,
    "泛红": 1,
    "起了": 1,
    "不给我送": 1.5,
    "还能退不": 1,
    "咋还没": 2,
    "到哪了": 1,
    "明天要": 2,
    "刚付": 1,
}
_PUNCT_ANGRY = re.compile(r"[!！]{2,}")
_PUNCT_ANXIOUS = re.compile(r"[?？]{2,}")
_INTENT_TEMPERATURE = 0.03
# Exemplar embeddings survive an assistant reload (a KB publish) when the taxonomy and model are unchanged.
_EXEMPLAR_CACHE: dict[tuple[str, str, tuple[str, ...]], np.ndarray] = {}
_EXEMPLAR_LOCK = threading.Lock()


def _lexicon_score(text: str, lexicon: dict[str, float]) -> float:
    return sum(w for k, w in lexicon.items() if k in text)


def detect_emotion(customer_turns: list[str]) -> tuple[str, float]:
    """Emotion of the latest customer turn, with earlier turns counting half (anger lingers)."""
    if not customer_turns:
        return "calm", 1.0
    last = customer_turns[-1].lower()
    earlier = " ".join(customer_turns[-3:-1]).lower()
    angry = _lexicon_score(last, _ANGRY) + 0.5 * _lexicon_score(earlier, _ANGRY)
    anxious = _lexicon_score(last, _ANXIOUS) + 0.5 * _lexicon_score(earlier, _ANXIOUS)
    angry += 2 * len(_PUNCT_ANGRY.findall(last))
    anxious += 1.5 * len(_PUNCT_ANXIOUS.findall(last))
    if angry >= 2 and angry >= anxious:
        return "angry", min(1.0, 0.5 + angry / 10)
    if anxious >= 1.5 or (angry >= 1 and anxious >= 1):
        return "anxious", min(1.0, 0.5 + anxious / 10)
    return "calm", 0.6 if angry or anxious else 0.9


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
