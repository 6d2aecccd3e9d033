"""Query formulation: the customer's latest need, resolved against earlier turns."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from assistant.result import Turn

_MASK = re.compile(r"\[[^\[\]]{1,12}\]")
# Emoticon codes of chat platforms (#E-s[数字x], #E-b03): markup, not words.
_EMOTICON = re.compile(r"#E-[A-Za-z]+\d*(?:\[[^\[\]]{1,12}\])?")
_EMOJI = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_ANAPHORA = re.compile(
    r"那个|这个|它|这款|那款|这件|那件|这种|那种|这双|那双|这台|那台|这些|那些|同样|还有呢|呢[？?]?$|^那"
)
_QUESTION_MARK = re.compile(r"[?？]")
_GREETING = re.compile(
    r"^(你好|您好|在吗|在不在|hi|hello|哈喽|嗨|谢谢|多谢|好的|好吧|嗯+|哦+|ok)[呀啊吗呢~～!！。.,，？?\s]*$", re.I
)


def clean(text: str) -> str:
    """Drop masked tokens, emoticon codes and emoji, squeeze whitespace."""
    return re.sub(r"\s+", " ", _EMOJI.sub("", _MASK.sub(" ", _EMOTICON.sub(" ", text)))).strip()


def is_greeting(text: str) -> bool:
    return bool(_GREETING.match(clean(text)))


def latest_customer_turns(turns: Sequence[Turn]) -> list[str]:
    """The customer's messages since the agent last spoke (customers often send several in a row)."""
    out: list[str] = []
    for t in reversed(turns):
        if t.role != "customer":
            break
        out.append(t.text)
    return list(reversed(out))


def leans_on_history(turns: Sequence[Turn]) -> bool:
    """Whether the latest customer message needs earlier turns to be understood (short, or 那个/这款/呢…)."""
    latest = " ".join(clean(t) for t in latest_customer_turns(turns) if not is_greeting(t))
    has_earlier = any(t.role == "customer" for t in turns[: len(turns) - len(latest_customer_turns(turns))])
    return has_earlier and (len(latest) < 12 or bool(_ANAPHORA.search(latest)))


def open_question(
    turns: Sequence[Turn], asks: Callable[[str], bool], offer: re.Pattern[str] | None = None
) -> list[str]:
    """The customer's question still open when the latest messages only answer the agent's question about it.

    「车厘子果径多大」→ agent 「请问是自己吃还是送礼呢？」→ 「送我丈母娘的」: the question to answer is still 果径多大.
    Empty when the latest messages ask something themselves (`asks(message)`), or the agent's last turn asked
    nothing or only offered help (`offer`: the KB's `agent_guidance.offer`).
    """
    n = len(latest_customer_turns(turns))
    if n == 0 or any(asks(t.text) for t in turns[len(turns) - n :]):
        return []
    i = len(turns) - n - 1
    agent = turns[i].text if i >= 0 else ""
    # The agent's turn before them must ask about the question (「请问是自己吃还是送礼呢？」), not offer help.
    if not (_QUESTION_MARK.search(agent) or asks(agent)) or (offer is not None and offer.search(agent)):
        return []
    while i >= 0 and turns[i].role != "customer":
        i -= 1
    block: list[str] = []
    while i >= 0 and turns[i].role == "customer":
        block.append(turns[i].text)
        i -= 1
    return [clean(t) for t in reversed(block) if asks(t) and not is_greeting(t)]


def formulate_query(
    turns: Sequence[Turn], *, names: Iterable[str] = (), max_chars: int = 160, open_question: Sequence[str] = ()
) -> str:
    """The retrieval query for the conversation.

    The latest customer message(s); when they lean on earlier turns (short, or 那个/这款/呢…), the earlier
    customer turns are prepended, and product names or SKUs mentioned earlier are carried forward. When they
    answer the agent's question about an earlier one (`open_question`), that question comes first.
    """
    latest = [clean(t) for t in latest_customer_turns(turns)]
    latest = [t for t in latest if t and not is_greeting(t)] or [clean(t) for t in latest_customer_turns(turns)]
    query = " ".join(t for t in latest if t)
    earlier = [clean(t.text) for t in turns[: len(turns) - len(latest_customer_turns(turns))] if t.role == "customer"]
    earlier = [t for t in earlier if t and not is_greeting(t)]
    if open_question:
        query = " ".join([*open_question, query])
    elif earlier and (len(query) < 12 or _ANAPHORA.search(query)):
        query = " ".join([*earlier[-2:], query])
    low = query.lower()
    history = " ".join(earlier).lower()
    # Only a conversation with earlier turns carries names (a 1M-chunk KB has ~50k of them to test).
    carried = [n for n in names if len(n) >= 2 and n in history and n not in low] if history else []
    if carried:
        query = " ".join([*carried[:3], query])
    return query[-max_chars:] if len(query) > max_chars else query
