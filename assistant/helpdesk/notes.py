"""The suggestions of one customer message as a note an agent reads inside the helpdesk (plain text, Markdown
lists where the helpdesk renders them).

`suggestion_note(result)` reads like this:

    💡 Kefu 建议回复 · 意图 return_request · 情绪 平静
    1. 您好，签收后7天内商品完好可以申请无理由退货……
       依据：《无理由退货》
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from assistant.followup import FollowupDraft
from assistant.result import Result

MAX_NOTE_CHARS = 4000  # a note is read beside the chat, not scrolled through
EMOTIONS = {"calm": "平静", "anxious": "着急", "angry": "生气"}
PRIORITIES = {"urgent": "紧急", "high": "高", "normal": "普通"}


def _when(at: datetime, tz: tzinfo | None) -> str:
    local = at.astimezone(tz) if tz is not None else at
    return local.strftime("%m-%d %H:%M") + ("" if tz is not None else " UTC")


def suggestion_note(result: Result, *, max_suggestions: int = 3, tz: tzinfo | None = None) -> str:
    """The note: a header (intent, emotion), a handoff warning when there is one (with the ticket's priority
    and due time, shown in `tz`), then each suggestion with the titles of the documents it cites."""
    lines = [f"💡 Kefu 建议回复 · 意图 {result.intent} · 情绪 {EMOTIONS.get(result.emotion, result.emotion)}"]
    if result.handoff:
        lines.append(f"⚠ 建议转人工：{result.handoff_reason or '请人工确认后回复'}")
        if result.ticket is not None:
            t = result.ticket
            team = f" · 交由 {t.team}" if t.team else ""
            lines.append(f"   优先级 {PRIORITIES[t.priority]} · {_when(t.due_at, tz)} 前处理{team}")
    for n, s in enumerate(result.suggestions[:max_suggestions], 1):
        lines.append(f"{n}. {s.text.strip()}")
        titles = list(dict.fromkeys(c.title for c in s.citations))
        if titles:
            lines.append("   依据：" + "、".join(f"《{t}》" for t in titles))
    if not result.suggestions:
        lines.append("（知识库里没有找到可用的回复，请自行回复。）")
    note = "\n".join(lines)
    return note if len(note) <= MAX_NOTE_CHARS else note[: MAX_NOTE_CHARS - 1] + "…"


def followup_note(draft: FollowupDraft, *, tz: tzinfo | None = None) -> str:
    """The 回访 draft of a resolved conversation as a note: when to send it, the draft, what it follows."""
    lines = [
        f"📞 Kefu 回访草稿 · 请在 {_when(draft.send_after, tz)} 至 {_when(draft.due_at, tz)} 之间回访",
        draft.text.strip(),
    ]
    titles = list(dict.fromkeys(c.title for c in draft.citations))
    if titles:
        lines.append("依据：" + "、".join(f"《{t}》" for t in titles))
    if not draft.check.passed:
        lines.append("（草稿未通过回复规则检查，请修改后再发。）")
    return "\n".join(lines)
