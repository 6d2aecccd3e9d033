"""Feedback analytics: acceptance, edit and reject rates by intent and by document over time, and the
suggestions agents edited most, with what they changed. Reads the feedback store's rows."""

from __future__ import annotations

import difflib
import html
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

ACTIONS = ("accepted", "edited", "rejected")
PERIODS = ("day", "week")
BY = ("intent", "doc")
# Rows read per analysis; a busy shop's quarter fits, and the query stays bounded.
MAX_ROWS = 50_000


class FeedbackSource(Protocol):
    """What analytics needs of `assistant.service.store.FeedbackStore`."""

    def suggestion_rows(
        self, *, limit: int = 100, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]: ...

    def feedback_rows(
        self,
        *,
        suggestion_id: str | None = None,
        limit: int = 100,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]: ...

    def stats(self, *, since: datetime | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class FeedbackData:
    """Suggestions served since a time, and the feedback events on them."""

    suggestions: list[dict[str, Any]]
    feedback: list[dict[str, Any]]

    def actions(self) -> dict[str, set[str]]:
        """The actions taken on each suggestion id."""
        out: dict[str, set[str]] = defaultdict(set)
        for f in self.feedback:
            out[str(f["suggestion_id"])].add(str(f["action"]))
        return out


def load_feedback(
    source: FeedbackSource, *, since: datetime | None = None, until: datetime | None = None, limit: int = MAX_ROWS
) -> FeedbackData:
    """The suggestions served in [since, until) and the feedback on them, both selected by the store: not the
    newest rows filtered afterwards, which lost an older range's feedback behind newer events."""
    suggestions = source.suggestion_rows(limit=limit, since=since, until=until)
    ids = {str(s["id"]) for s in suggestions}
    feedback = [
        f for f in source.feedback_rows(limit=limit, since=since, until=until) if str(f["suggestion_id"]) in ids
    ]
    return FeedbackData(suggestions, feedback)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _with_rates(row: dict[str, Any]) -> dict[str, Any]:
    served = int(row.get("served") or 0)
    return {**row, **{f"{a}_rate": _rate(int(row.get(a) or 0), served) for a in ACTIONS}}


def rate_rows(stats: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """The store's per-intent or per-document counts with rates: each action over the suggestions served."""
    if by not in BY:
        raise ValueError(f"by '{by}' is not one of {', '.join(BY)}")
    return [_with_rates({k: v for k, v in r.items() if k != "by"}) for r in stats if r.get("by") == by]


def _period(created: str, period: str) -> str:
    day = datetime.fromisoformat(created).date()
    if period == "week":
        day -= timedelta(days=day.weekday())
    return day.isoformat()


def _keys(row: dict[str, Any], by: str) -> list[str]:
    if by == "intent":
        return [str(row.get("intent") or "")]
    return sorted({str(c) for c in row.get("citations") or []}) or ["（无引用）"]


def rates_over_time(data: FeedbackData, *, by: str = "intent", period: str = "day") -> list[dict[str, Any]]:
    """Per period (a day, or a week starting Monday) and per intent or cited document: counts and rates."""
    if by not in BY:
        raise ValueError(f"by '{by}' is not one of {', '.join(BY)}")
    if period not in PERIODS:
        raise ValueError(f"period '{period}' is not one of {', '.join(PERIODS)}")
    actions = data.actions()
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for s in data.suggestions:
        done = actions.get(str(s["id"]), set())
        for key in _keys(s, by):
            c = counts[(_period(str(s["created_at"]), period), key)]
            c["served"] += 1
            for a in ACTIONS:
                c[a] += a in done
    return [
        _with_rates({"period": p, "key": k, "served": c["served"], **{a: c[a] for a in ACTIONS}})
        for (p, k), c in sorted(counts.items())
    ]


def char_diff_html(before: str, after: str) -> str:
    """What changed between two texts, character by character: removed struck through, added underlined."""
    out = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            out.append(html.escape(before[a0:a1]))
            continue
        if a1 > a0:
            out.append(f'<del style="background:#fde2e1;color:#a40000">{html.escape(before[a0:a1])}</del>')
        if b1 > b0:
            out.append(f'<ins style="background:#dff5e1;color:#0a5d1a">{html.escape(after[b0:b1])}</ins>')
    return "".join(out)


@dataclass(frozen=True)
class EditedSuggestion:
    id: str
    intent: str
    citations: tuple[str, ...]
    suggested: str
    final: str
    distance: int
    created_at: str

    @property
    def diff_html(self) -> str:
        return char_diff_html(self.suggested, self.final)


def most_edited(data: FeedbackData, *, n: int = 20) -> list[EditedSuggestion]:
    """The suggestions agents changed most before sending (by edit distance), newest edit of each."""
    by_id = {str(s["id"]): s for s in data.suggestions}
    latest: dict[str, dict[str, Any]] = {}
    for f in data.feedback:  # newest first: the first edit seen of a suggestion is its latest
        sid = str(f["suggestion_id"])
        if f["action"] == "edited" and f.get("final_text") and sid in by_id and sid not in latest:
            latest[sid] = f
    out = []
    for sid, f in latest.items():
        s = by_id[sid]
        final = str(f["final_text"])
        distance = f.get("edit_distance")
        if distance is None:
            matcher = difflib.SequenceMatcher(None, str(s["text"]), final, autojunk=False)
            distance = sum(max(a1 - a0, b1 - b0) for op, a0, a1, b0, b1 in matcher.get_opcodes() if op != "equal")
        out.append(
            EditedSuggestion(
                sid,
                str(s.get("intent") or ""),
                tuple(s.get("citations") or ()),
                str(s["text"]),
                final,
                int(distance),
                str(f["created_at"]),
            )
        )
    out.sort(key=lambda e: (-e.distance, e.created_at))
    return out[:n]
