"""The suggestions of one customer message as a note an agent reads inside the helpdesk (plain text, Markdown
lists where the helpdesk renders them).

`suggestion_note(result)` reads like this:

    💡 Kefu 建议回复 · 意图 return_request · 情绪 平静
    1. 您好，签收后7天内商品完好可以申请无理由退货……
       依据：《无理由退货》
"""

from __future__ import annotations

from assistant.result import Result

MAX_NOTE_CHARS = 4000  # a note is read beside the chat, not scrolled through
EMOTIONS = {"calm": "平静", "anxious": "着急", "angry": "生气"}


def suggestion_note(result: Result, *, max_suggestions: int = 3) -> str:
    """The note: a header (intent, emotion), a handoff warning when there is one, then each suggestion with
    the titles of the documents it cites."""
    lines = [f"💡 Kefu 建议回复 · 意图 {result.intent} · 情绪 {EMOTIONS.get(result.emotion, result.emotion)}"]
    if result.handoff:
        lines.append(f"⚠ 建议转人工：{result.handoff_reason or '请人工确认后回复'}")
    for n, s in enumerate(result.suggestions[:max_suggestions], 1):
        lines.append(f"{n}. {s.text.strip()}")
        titles = list(dict.fromkeys(c.title for c in s.citations))
        if titles:
            lines.append("   依据：" + "、".join(f"《{t}》" for t in titles))
    if not result.suggestions:
        lines.append("（知识库里没有找到可用的回复，请自行回复。）")
    note = "\n".join(lines)
    return note if len(note) <= MAX_NOTE_CHARS else note[: MAX_NOTE_CHARS - 1] + "…"
