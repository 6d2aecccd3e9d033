"""Where conversations for 质检 come from besides a JSONL file: the feedback store and Chatwoot.

Both are turned into the JSONL records (`conversations.validate_records`), so every source is checked the same
way and a record that cannot be used is reported, not guessed at.

- **The feedback store** keeps, per request served, the conversation up to the customer's message (masked, no
  times per turn) and what the agent then sent (`FeedbackStore.sent_replies`). A conversation is the requests of
  one helpdesk conversation (`conversation_key`), or one request when it came from the sidebar alone. The
  customer messages a request answered take the request's time; the agent's reply takes the time its sent event
  was recorded. Earlier turns, which carry no time, are left out: the first reply of a conversation is the
  first one recorded.
- **Chatwoot**: the account's conversations of a status (default resolved), their messages through the API, with
  Chatwoot's own message times; the agent is the conversation's assignee.

>>> conversations = from_store(FeedbackStore(url), since=datetime(2026, 12, 1, tzinfo=UTC))
>>> conversations = from_chatwoot(ChatwootClient(url, token), account_id=1, since=since)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from assistant.helpdesk.chatwoot import timed_turns_of
from evals.qa.conversations import QAConversation, validate_records

_ROLE_OF_PREFIX = {"客户": "customer", "客服": "agent"}  # assistant.service.recording.conversation_text


class StoresSentReplies(Protocol):
    def sent_replies(self, *, since: datetime | None = None, until: datetime | None = None) -> list[dict[str, Any]]: ...


class ListsConversations(Protocol):
    def conversations(self, *, account_id: int, status: str = "resolved", page: int = 1) -> list[dict[str, Any]]: ...

    def all_messages(self, *, account_id: int, conversation_id: int) -> list[dict[str, Any]]: ...


def stored_turns(conversation_text: str) -> list[tuple[str, str]]:
    """The stored conversation text ("客户：…" / "客服：…" lines) as (role, text); a line without a prefix
    continues the turn before it.

    >>> stored_turns("客户：在吗\\n客服：您好\\n客户：能退吗\\n第二行")
    [('customer', '在吗'), ('agent', '您好'), ('customer', '能退吗\\n第二行')]
    """
    turns: list[tuple[str, str]] = []
    for line in conversation_text.splitlines():
        prefix, sep, rest = line.partition("：")
        if sep and prefix in _ROLE_OF_PREFIX:
            turns.append((_ROLE_OF_PREFIX[prefix], rest))
        elif turns:
            turns[-1] = (turns[-1][0], f"{turns[-1][1]}\n{line}")
    return turns


def _latest_customer(turns: list[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    for role, text in reversed(turns):
        if role != "customer":
            break
        out.append(text)
    return list(reversed(out))


def from_store(
    store: StoresSentReplies, *, since: datetime | None = None, until: datetime | None = None
) -> list[QAConversation]:
    """The agents' replies recorded in the feedback store, as conversations (see the module's docstring)."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in store.sent_replies(since=since, until=until):
        groups[row["conversation_key"] or f"request:{row['request_id']}"].append(row)
    records: list[tuple[str, Any]] = []
    for key, rows in groups.items():
        turns: list[dict[str, str]] = []
        agents: Counter[str] = Counter()
        for row in rows:
            asked = _latest_customer(stored_turns(row["conversation_text"]))
            turns += [
                {"role": "customer", "text": t, "at": row["requested_at"].isoformat()} for t in asked if t.strip()
            ]
            if (row["text"] or "").strip():
                turns.append({"role": "agent", "text": row["text"], "at": row["sent_at"].isoformat()})
                agents[row["agent_id"] or row["principal"] or "unknown"] += 1
        if agents:
            records.append((f"store {key}", {"id": key, "agent_id": agents.most_common(1)[0][0], "turns": turns}))
    return validate_records(records, "the feedback store")


def _agent_of(conversation: dict[str, Any], turns: Iterable[dict[str, Any]]) -> str | None:
    assignee = (conversation.get("meta") or {}).get("assignee")
    if isinstance(assignee, dict) and assignee.get("id") is not None:
        return str(assignee.get("name") or assignee["id"])
    senders = Counter(str(t["sender"].get("name") or t["sender"].get("id")) for t in turns if t.get("sender"))
    return senders.most_common(1)[0][0] if senders else None


def from_chatwoot(
    client: ListsConversations,
    *,
    account_id: int,
    status: str = "resolved",
    since: datetime | None = None,
    max_pages: int = 200,
) -> list[QAConversation]:
    """Chatwoot conversations of `status` whose last activity is at or after `since` (pages are read, latest
    activity first, until one is older), each with all its messages."""
    records: list[tuple[str, Any]] = []
    for page in range(1, max_pages + 1):
        listed = client.conversations(account_id=account_id, status=status, page=page)
        if not listed:
            break
        fresh = [c for c in listed if since is None or int(c.get("timestamp") or 0) >= since.timestamp()]
        for conv in fresh:
            display_id = int(conv["id"])
            turns = timed_turns_of(client.all_messages(account_id=account_id, conversation_id=display_id))
            agent = _agent_of(conv, turns)
            if agent is None or not any(t["role"] == "agent" for t in turns):
                continue  # nobody answered: nothing to check
            key = f"chatwoot:{account_id}:{display_id}"
            plain = [{k: t[k] for k in ("role", "text", "at")} for t in turns]
            records.append((f"Chatwoot conversation {display_id}", {"id": key, "agent_id": agent, "turns": plain}))
        if len(fresh) < len(listed):
            break
    return validate_records(records, "Chatwoot")
