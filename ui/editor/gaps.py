"""Knowledge gaps: customer questions the KB did not answer well, grouped by similarity.

A question is a gap signal when none of the suggestions served for it cites a document (retrieval found
nothing confident enough to answer from), when its recorded retrieval confidence is low (rows that carry
a `confidence`), or when the agent rejected a suggestion. Similar questions are grouped by embedding them
with the index's embedder and clustering greedily by cosine.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from indexer.embedding import Embedder
from kb.models import Intent
from ui.editor.analytics import FeedbackData
from ui.editor.documents import join_text

# Intents whose unanswered questions are not knowledge gaps: small talk and requests for a person.
NOT_GAPS = ("other", "human_handoff")
LOW_CONFIDENCE = "低置信"
REJECTED = "被拒绝"
IGNORED = "坐席另写回复"  # the agent sent something none of the suggestions was close to (issue 15)
MAX_GAP_QUESTIONS = 300
MAX_QUESTION_CHARS = 300  # embedded of each question; the question is shown whole
_TURN = re.compile(r"^(客户|客服)[：:]\s?")


def last_customer_text(conversation_text: str) -> str:
    """The last customer turn of a stored conversation ('客户：…' / '客服：…' lines)."""
    turns: list[tuple[str, list[str]]] = []
    for line in conversation_text.splitlines():
        m = _TURN.match(line)
        if m:
            turns.append((m.group(1), [line[m.end() :]]))
        elif turns:
            turns[-1][1].append(line)
        else:
            turns.append(("客户", [line]))
    customer = [t for t in turns if t[0] == "客户"]
    return "\n".join(customer[-1][1]).strip() if customer else conversation_text.strip()


@dataclass(frozen=True)
class GapQuestion:
    text: str
    intent: str
    reasons: tuple[str, ...]
    count: int  # how many times it was asked
    last_seen: str


@dataclass(frozen=True)
class GapCluster:
    id: str
    questions: tuple[GapQuestion, ...]  # the first is the representative: the most asked
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def representative(self) -> str:
        return self.questions[0].text

    @property
    def size(self) -> int:
        return sum(q.count for q in self.questions)

    @property
    def intent(self) -> str:
        return Counter({q.intent: q.count for q in self.questions}).most_common(1)[0][0]


def gap_questions(data: FeedbackData, *, confidence_threshold: float | None = None) -> list[GapQuestion]:
    """Distinct customer questions with a gap signal, most asked first."""
    actions = data.actions()
    requests: dict[str, list[dict[str, Any]]] = {}
    for s in data.suggestions:
        requests.setdefault(str(s.get("request_id") or s["id"]), []).append(s)
    found: dict[str, dict[str, Any]] = {}
    for rows in requests.values():
        intent = str(rows[0].get("intent") or "")
        reasons = []
        confidence = rows[0].get("confidence")
        low = confidence is not None and confidence_threshold is not None and confidence < confidence_threshold
        if intent not in NOT_GAPS and (low or not any(r.get("citations") for r in rows)):
            reasons.append(LOW_CONFIDENCE)
        if any("rejected" in actions.get(str(r["id"]), set()) for r in rows):
            reasons.append(REJECTED)
        if all("ignored" in actions.get(str(r["id"]), set()) for r in rows):
            reasons.append(IGNORED)
        if not reasons:
            continue
        text = last_customer_text(str(rows[0].get("conversation_text") or ""))
        if not text:
            continue
        seen = found.setdefault(text, {"intent": Counter(), "reasons": set(), "count": 0, "last": ""})
        seen["intent"][intent] += 1
        seen["reasons"].update(reasons)
        seen["count"] += 1
        seen["last"] = max(seen["last"], str(rows[0].get("created_at") or ""))
    out = [
        GapQuestion(t, v["intent"].most_common(1)[0][0], tuple(sorted(v["reasons"])), v["count"], v["last"])
        for t, v in found.items()
    ]
    out.sort(key=lambda q: q.last_seen, reverse=True)
    out.sort(key=lambda q: -q.count)  # stable: most asked first, the most recent first among equals
    return out


def default_threshold(embedder: Embedder) -> float:
    """Cosine above which two questions ask the same thing: e5-style models score related texts high."""
    return 0.5 if embedder.name.startswith("hashing") else 0.9


def cluster_questions(
    questions: list[GapQuestion], embedder: Embedder, *, threshold: float | None = None
) -> list[GapCluster]:
    """Greedy leader clustering: each question joins the first cluster whose leader it is close enough to.

    Questions come most asked first, so each cluster's leader (its representative) is its most asked one.
    Only the MAX_GAP_QUESTIONS most asked are clustered: the view runs on every page load, and comparing
    each question with every leader is quadratic in their number.
    """
    questions = questions[:MAX_GAP_QUESTIONS]
    if not questions:
        return []
    threshold = default_threshold(embedder) if threshold is None else threshold
    vectors = np.asarray(embedder.embed_queries([q.text[:MAX_QUESTION_CHARS] for q in questions]))
    leaders: list[int] = []
    members: list[list[int]] = []
    for i, vec in enumerate(vectors):
        sims = vectors[leaders] @ vec if leaders else np.zeros(0)
        best = int(np.argmax(sims)) if len(sims) else -1
        if best >= 0 and sims[best] >= threshold:
            members[best].append(i)
        else:
            leaders.append(i)
            members.append([i])
    clusters = []
    for group in members:
        qs = tuple(questions[i] for i in group)
        reasons: Counter[str] = Counter()
        for q in qs:
            for r in q.reasons:
                reasons[r] += q.count
        cid = hashlib.sha256(qs[0].text.encode()).hexdigest()[:8]
        clusters.append(GapCluster(cid, qs, dict(reasons)))
    clusters.sort(key=lambda c: -c.size)
    return clusters


def faq_draft(cluster: GapCluster, intents: tuple[Intent, ...] = ()) -> str:
    """A draft FAQ for a gap: the question as title and heading, its other phrasings, no answer yet."""
    question = cluster.representative.replace("\n", " ").strip()
    stage = {i.name: i.stage for i in intents}.get(cluster.intent, "general")
    title = question if len(question) <= 40 else question[:39] + "…"
    others = [q.text.replace("\n", " ") for q in cluster.questions[1:6]]
    body = [f"## 问：{question}", "", "（请在这里写答案：能做什么、怎么做、多久。）"]
    if others:
        body += ["", "客户的其他问法：" + "；".join(others)]
    front = "\n".join(
        [
            f"id: faq-gap-{cluster.id}",
            f"title: {_quote(title)}",
            "type: faq",
            f"category: {stage}",
            "tags: []",
        ]
    )
    return join_text(front, "\n".join(body))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
