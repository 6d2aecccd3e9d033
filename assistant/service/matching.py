"""Feedback without clicks: what the agent actually sent, matched against the suggestions shown for it.

The same text (whitespace aside) → `accepted`; an edit that keeps most of a suggestion → `edited`, with that
suggestion and the edit distance; nothing close → `ignored`. "Keeps most": of the suggestion's characters, at
most `MAX_CHANGED_SHARE` were deleted or replaced, i.e. the edit distance less the characters the reply only
added (its extra length) is at most that share of the suggestion's length. An agent who adds a sentence to a
suggestion has edited it; one who writes something else of any length has not.

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

MAX_CHANGED_SHARE = 0.5
_SPACE = re.compile(r"\s+")  # Chinese replies carry no meaning in spaces and line breaks

SentAction = Literal["accepted", "edited", "ignored"]


@dataclass(frozen=True)
class SentMatch:
    action: SentAction
    suggestion_id: str | None  # the closest suggestion (None when there were none)
    distance: int | None  # its edit distance to the sent text, in characters


def _normal(text: str) -> str:
    return _SPACE.sub("", text)


def match_sent(
    sent: str, suggestions: Sequence[tuple[str, str]], *, max_changed_share: float = MAX_CHANGED_SHARE
) -> SentMatch:
    """Match `sent` against `(suggestion_id, text)` pairs: the suggestion that kept the most decides."""
    text = _normal(sent)
    best: tuple[float, int, str] | None = None
    for sid, suggested in suggestions:
        candidate = _normal(suggested)
        distance = edit_distance(candidate, text)
        changed = (distance - max(0, len(text) - len(candidate))) / max(len(candidate), 1)
        if best is None or (changed, distance) < best[:2]:
            best = (changed, distance, sid)
    if best is None:
        return SentMatch("ignored", None, None)
    changed, distance, sid = best
    if distance == 0:
        return SentMatch("accepted", sid, 0)
    return SentMatch("edited" if changed <= max_changed_share else "ignored", sid, distance)


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
