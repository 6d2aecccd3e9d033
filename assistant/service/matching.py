"""Feedback without clicks: what the agent actually sent, matched against the suggestions shown for it.

The same text → `accepted`; a close edit of one (at most `MAX_EDIT_RATIO` of the longer text changed, in
characters) → `edited`, with that suggestion; nothing close → `ignored`.

>>> match_sent("您好，可以退货。", [("s1", "您好，可以退货。"), ("s2", "请提供订单号")]).action
'accepted'
>>> m = match_sent("您好，7天内可以退货哦", [("s1", "您好，7天内可以退货。"), ("s2", "请提供订单号")])
>>> (m.action, m.suggestion_id, m.distance)
('edited', 's1', 1)
>>> match_sent("好的，马上为您查询物流", [("s1", "您好，7天内可以退货。")]).action
'ignored'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from assistant.service.store import FeedbackStore, edit_distance

MAX_EDIT_RATIO = 0.5
_SPACE = re.compile(r"\s+")

SentAction = Literal["accepted", "edited", "ignored"]


@dataclass(frozen=True)
class SentMatch:
    action: SentAction
    suggestion_id: str | None  # the closest suggestion (None when there were none)
    distance: int | None  # its edit distance to the sent text, in characters


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def match_sent(
    sent: str, suggestions: Sequence[tuple[str, str]], *, max_edit_ratio: float = MAX_EDIT_RATIO
) -> SentMatch:
    """Match `sent` against `(suggestion_id, text)` pairs."""
    text = _normal(sent)
    best: tuple[float, int, str] | None = None
    for sid, suggested in suggestions:
        candidate = _normal(suggested)
        distance = edit_distance(candidate, text)
        ratio = distance / max(len(candidate), len(text), 1)
        if best is None or ratio < best[0]:
            best = (ratio, distance, sid)
    if best is None:
        return SentMatch("ignored", None, None)
    ratio, distance, sid = best
    if distance == 0:
        return SentMatch("accepted", sid, 0)
    return SentMatch("edited" if ratio <= max_edit_ratio else "ignored", sid, distance)


def record_sent(
    store: FeedbackStore,
    suggestions: Sequence[tuple[str, str]],
    sent: str,
    *,
    agent_id: str | None,
    principal: str | None,
) -> SentMatch:
    """Match `sent` and record it like explicit feedback: on the matched suggestion, or as `ignored` (with
    the text sent) on every suggestion."""
    match = match_sent(sent, suggestions)
    if match.action == "ignored":
        targets = [sid for sid, _ in suggestions]
    else:
        targets = [match.suggestion_id] if match.suggestion_id else []
    for sid in targets:
        store.record_feedback(
            suggestion_id=sid,
            action=match.action,
            final_text=None if match.action == "accepted" else sent.strip(),
            reason=None,
            agent_id=agent_id,
            principal=principal,
        )
    return match
