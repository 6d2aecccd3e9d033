"""Chatwoot: its application API client, its webhook signature and payloads, its messages as turns.

Written from Chatwoot's own source (NOTES.md, issue 15, names the files): webhooks are POSTed with
`X-Chatwoot-Delivery: <uuid>`, `X-Chatwoot-Timestamp: <unix seconds>` and
`X-Chatwoot-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{raw body}" with the webhook's secret>`; a
`message_created` payload is the message's `webhook_data` (`message_type` as a word, `conversation.id` the
conversation's display id); the API lists messages at `GET /api/v1/accounts/{account_id}/conversations/{id}/messages`
(`{"meta": …, "payload": [message, …]}`, `message_type` as a number) with the header `api_access_token`.

    client = ChatwootClient("https://chat.example.com", token=TOKEN)
    turns = turns_of(client.messages(account_id=1, conversation_id=42))
    client.create_message(account_id=1, conversation_id=42, content=note, private=True)
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from assistant.helpdesk.errors import BadSignatureError, HelpdeskApiError

log = logging.getLogger("kefu.chatwoot")

# message_type: a number in the API and the dashboard (enum order in Chatwoot's Message model), a word in webhooks.
_ROLES: dict[int | str, str] = {0: "customer", 1: "agent", "incoming": "customer", "outgoing": "agent"}
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# Our ticket priorities as Chatwoot's conversation priorities (its enum: low, medium, high, urgent; or none).
PRIORITIES = {"urgent": "urgent", "high": "high", "normal": "medium"}
_PRIORITY_ORDER: tuple[str | None, ...] = (None, "low", "medium", "high", "urgent")
MAX_RETRY_AFTER_S = 10.0
MESSAGES_AFTER_PAGE = 100  # messages Chatwoot returns for `?after=<id>`


def verify_signature(
    secret: str, *, body: bytes, timestamp: str | None, signature: str | None, now: float, max_skew_s: int
) -> None:
    """Raise `BadSignatureError` unless `signature` is Chatwoot's for `body` at `timestamp`, and fresh.

    >>> body, ts = b'{"event": "message_created"}', "1700000000"
    >>> sig = "sha256=" + hmac.new(b"s3cret", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    >>> verify_signature("s3cret", body=body, timestamp=ts, signature=sig, now=1700000060, max_skew_s=300)
    """
    if not timestamp or not timestamp.strip().isdigit():
        raise BadSignatureError("X-Chatwoot-Timestamp is missing or not unix seconds")
    if abs(now - int(timestamp)) > max_skew_s:
        raise BadSignatureError(
            f"X-Chatwoot-Timestamp {timestamp} is more than {max_skew_s} s from this server's clock "
            "(a replayed request, or a clock to set right)"
        )
    if not signature or not signature.startswith("sha256="):
        raise BadSignatureError("X-Chatwoot-Signature is missing or not 'sha256=<hex>'")
    expected = hmac.new(secret.encode(), timestamp.strip().encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.removeprefix("sha256=").strip().lower()):
        raise BadSignatureError(
            "X-Chatwoot-Signature does not match the body: check that KEFU_CHATWOOT__WEBHOOK_SECRET is the "
            "webhook's secret in Chatwoot"
        )


class _Ref(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int


class _Sender(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int | None = None
    name: str | None = None
    type: str | None = None  # contact | user | agent_bot


class _ConversationRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int
    priority: str | None = None
    labels: list[str] = []
    meta: dict[str, Any] = {}


class _MessagePayload(BaseModel):
    model_config = ConfigDict(extra="ignore")
    event: str
    id: int
    content: str | None = None
    message_type: str | int
    private: bool = False
    account: _Ref
    conversation: _ConversationRef
    sender: _Sender | None = None


@dataclass(frozen=True)
class MessageEvent:
    """A `message_created` webhook: who wrote what, where."""

    account_id: int
    conversation_id: int  # the display id, which the API's paths take
    message_id: int
    role: str | None  # customer | agent | None (activity, template)
    private: bool
    content: str
    sender_type: str | None
    sender_id: int | None
    # The conversation as the webhook shows it, so that a ticket only raises what an agent set.
    priority: str | None = None
    labels: tuple[str, ...] = ()
    has_team: bool = False

    @property
    def conversation_key(self) -> str:
        return f"chatwoot:{self.account_id}:{self.conversation_id}"

    @property
    def from_customer(self) -> bool:
        return self.role == "customer" and not self.private and bool(self.content.strip())

    @property
    def from_agent(self) -> bool:
        """A reply an agent (a person, not a bot or an automation) sent to the customer."""
        return self.role == "agent" and not self.private and self.sender_type == "user" and bool(self.content.strip())


def parse_message_created(payload: Any) -> MessageEvent | None:
    """The `message_created` event in a webhook payload; None for any other event or an unusable payload."""
    if not isinstance(payload, Mapping) or payload.get("event") != "message_created":
        return None
    try:
        m = _MessagePayload.model_validate(payload)
    except ValidationError:
        return None
    return MessageEvent(
        account_id=m.account.id,
        conversation_id=m.conversation.id,
        message_id=m.id,
        role=_ROLES.get(m.message_type),
        private=m.private,
        content=m.content or "",
        sender_type=m.sender.type if m.sender else None,
        sender_id=m.sender.id if m.sender else None,
        priority=m.conversation.priority,
        labels=tuple(m.conversation.labels),
        has_team=bool(m.conversation.meta.get("team")),
    )


@dataclass(frozen=True)
class StatusEvent:
    """A `conversation_status_changed` webhook: the conversation's new status, and when it changed."""

    account_id: int
    conversation_id: int  # the display id
    status: str  # open | resolved | pending | snoozed
    previous: str | None
    at: float  # unix seconds of the change (the conversation's updated_at)

    @property
    def conversation_key(self) -> str:
        return f"chatwoot:{self.account_id}:{self.conversation_id}"

    @property
    def resolved(self) -> bool:
        return self.status == "resolved" and self.previous != "resolved"


def parse_status_changed(payload: Any) -> StatusEvent | None:
    """The `conversation_status_changed` event in a webhook payload (the conversation's `webhook_data` with
    `event` and `changed_attributes: [{"status": {"previous_value", "current_value"}}]`); None otherwise.

    The account is `account.id`, `account_id`, or the `account_id` of the conversation's last message (a
    conversation payload carries it there in every Chatwoot version read)."""
    if not isinstance(payload, Mapping) or payload.get("event") != "conversation_status_changed":
        return None
    conversation_id, status = payload.get("id"), payload.get("status")
    if not isinstance(conversation_id, int) or not isinstance(status, str):
        return None
    account = payload.get("account")
    messages = payload.get("messages")
    candidates = [
        account.get("id") if isinstance(account, Mapping) else None,
        payload.get("account_id"),
        *(m.get("account_id") for m in (messages if isinstance(messages, list) else ()) if isinstance(m, Mapping)),
    ]
    account_id = next((a for a in candidates if isinstance(a, int)), None)
    if account_id is None:
        return None
    previous = None
    for change in payload.get("changed_attributes") or ():
        if isinstance(change, Mapping) and isinstance(change.get("status"), Mapping):
            previous = change["status"].get("previous_value")
    at = payload.get("updated_at") or payload.get("timestamp") or time.time()
    return StatusEvent(account_id, conversation_id, status, previous, float(at))


def turns_of(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Chatwoot messages (from the API, the dashboard or webhooks) as turns, oldest first: incoming → customer,
    outgoing → agent; activity and template messages, private notes and empty texts are left out.

    >>> turns_of([{"id": 2, "message_type": 1, "content": "您好"}, {"id": 1, "message_type": 0, "content": "在吗"},
    ...           {"id": 3, "message_type": 1, "content": "备注", "private": True}])
    [{'role': 'customer', 'text': '在吗'}, {'role': 'agent', 'text': '您好'}]
    """
    kept = [m for m in messages if _role(m) and not m.get("private") and str(m.get("content") or "").strip()]
    kept.sort(key=lambda m: int(m.get("id") or 0))
    return [{"role": str(_role(m)), "text": str(m["content"]).strip()} for m in kept]


def timed_turns_of(messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Like `turns_of`, each turn with `at` (ISO 8601, UTC) from the message's `created_at` (unix seconds in the
    API, ISO 8601 in webhooks) and, for agents' messages, `sender` (the user's id and name).

    >>> timed_turns_of([{"id": 1, "message_type": 0, "content": "在吗", "created_at": 1764550800}])
    [{'role': 'customer', 'text': '在吗', 'at': '2025-12-01T01:00:00+00:00', 'sender': None}]
    """
    kept = [m for m in messages if _role(m) and not m.get("private") and str(m.get("content") or "").strip()]
    kept.sort(key=lambda m: int(m.get("id") or 0))
    out = []
    for m in kept:
        created = m.get("created_at")
        if isinstance(created, int | float) and not isinstance(created, bool):
            at = datetime.fromtimestamp(created, UTC).isoformat()
        else:
            at = str(created)
        sender = m.get("sender") if _role(m) == "agent" else None
        who = (
            {"id": sender.get("id"), "name": sender.get("name")}
            if isinstance(sender, Mapping) and sender.get("type") in (None, "user")
            else None
        )
        out.append({"role": str(_role(m)), "text": str(m["content"]).strip(), "at": at, "sender": who})
    return out


def _role(message: Mapping[str, Any]) -> str | None:
    kind = message.get("message_type")
    return _ROLES.get(kind) if isinstance(kind, int | str) else None


def newest_incoming_id(messages: Iterable[Mapping[str, Any]]) -> int | None:
    """The id of the newest customer message among `messages`."""
    ids = [int(m["id"]) for m in messages if _role(m) == "customer" and not m.get("private")]
    return max(ids) if ids else None


class ChatwootClient:
    """Chatwoot's application API for one installation, as the user or agent bot whose access token is `token`.

    Calls are retried on 429, 5xx and network errors, waiting `backoff_s`, then twice that, … (or the
    server's Retry-After, up to 10 s); other errors raise `HelpdeskApiError` at once.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"KEFU_CHATWOOT__URL {base_url!r} is not a URL; give e.g. https://chat.example.com")
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"api_access_token": token, "Accept": "application/json"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def messages(self, *, account_id: int, conversation_id: int) -> list[dict[str, Any]]:
        """The conversation's latest messages (Chatwoot returns the newest 20), oldest first."""
        data = self._request("GET", f"/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages")
        payload = data.get("payload") if isinstance(data, dict) else None
        if not isinstance(payload, list):
            raise HelpdeskApiError(f"{self.base_url}: the messages response has no 'payload' list")
        return [m for m in payload if isinstance(m, dict)]

    def conversations(self, *, account_id: int, status: str = "resolved", page: int = 1) -> list[dict[str, Any]]:
        """One page of the account's conversations, most recent activity first (Chatwoot's `ConversationFinder`:
        `status` open | resolved | pending | snoozed | all; 25 a page), each with `meta.assignee` when assigned."""
        data = self._request("GET", f"/api/v1/accounts/{account_id}/conversations?status={status}&page={page}")
        payload = (data.get("data") or {}).get("payload") if isinstance(data, dict) else None
        if not isinstance(payload, list):
            raise HelpdeskApiError(f"{self.base_url}: the conversations response has no 'data.payload' list")
        return [c for c in payload if isinstance(c, dict)]

    def all_messages(self, *, account_id: int, conversation_id: int, max_pages: int = 50) -> list[dict[str, Any]]:
        """Every message of a conversation, oldest first: pages of `?after=<id>` (Chatwoot's `MessageFinder`
        returns up to 100 messages after that id, oldest first) until a page comes back short."""
        out: list[dict[str, Any]] = []
        after = 0
        for _ in range(max_pages):
            path = f"/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages?after={after}"
            data = self._request("GET", path)
            payload = data.get("payload") if isinstance(data, dict) else None
            if not isinstance(payload, list):
                raise HelpdeskApiError(f"{self.base_url}: the messages response has no 'payload' list")
            page = [m for m in payload if isinstance(m, dict) and int(m.get("id") or 0) > after]
            out.extend(page)
            if len(payload) < MESSAGES_AFTER_PAGE or not page:
                break
            after = max(int(m["id"]) for m in page)
        return out

    def create_message(
        self, *, account_id: int, conversation_id: int, content: str, private: bool = False
    ) -> dict[str, Any]:
        """Post a message (`private`: a note only agents see); returns Chatwoot's message."""
        body = {"content": content, "message_type": "outgoing", "private": private}
        data = self._request("POST", f"/api/v1/accounts/{account_id}/conversations/{conversation_id}/messages", body)
        return data if isinstance(data, dict) else {}

    # -- a handoff as a ticket -----------------------------------------------------------------------------

    def toggle_priority(self, *, account_id: int, conversation_id: int, priority: str | None) -> None:
        """Set the conversation's priority: urgent, high, medium, low, or None to clear it."""
        path = f"/api/v1/accounts/{account_id}/conversations/{conversation_id}/toggle_priority"
        self._request("POST", path, {"priority": priority})

    def conversation_labels(self, *, account_id: int, conversation_id: int) -> list[str]:
        data = self._request("GET", f"/api/v1/accounts/{account_id}/conversations/{conversation_id}/labels")
        payload = data.get("payload") if isinstance(data, dict) else None
        return [str(x) for x in payload] if isinstance(payload, list) else []

    def set_conversation_labels(self, *, account_id: int, conversation_id: int, labels: list[str]) -> list[str]:
        """Replace the conversation's labels (Chatwoot keeps only labels that exist in the account)."""
        path = f"/api/v1/accounts/{account_id}/conversations/{conversation_id}/labels"
        data = self._request("POST", path, {"labels": labels})
        payload = data.get("payload") if isinstance(data, dict) else None
        return [str(x) for x in payload] if isinstance(payload, list) else []

    def account_labels(self, *, account_id: int) -> list[str]:
        data = self._request("GET", f"/api/v1/accounts/{account_id}/labels")
        payload = data.get("payload") if isinstance(data, dict) else None
        return [str(x.get("title")) for x in payload if isinstance(x, dict)] if isinstance(payload, list) else []

    def create_label(self, *, account_id: int, title: str, description: str) -> None:
        """Create an account label (needs an administrator's token)."""
        body = {"title": title, "description": description, "color": "#e5484d", "show_on_sidebar": True}
        self._request("POST", f"/api/v1/accounts/{account_id}/labels", body)

    def teams(self, *, account_id: int) -> list[dict[str, Any]]:
        data = self._request("GET", f"/api/v1/accounts/{account_id}/teams")
        return [t for t in data if isinstance(t, dict)] if isinstance(data, list) else []

    def assign_team(self, *, account_id: int, conversation_id: int, team_id: int) -> None:
        path = f"/api/v1/accounts/{account_id}/conversations/{conversation_id}/assignments"
        self._request("POST", path, {"team_id": team_id})

    def file_ticket(self, event: MessageEvent, *, priority: str, label: str, team: str | None, why: str) -> list[str]:
        """A handoff as a ticket on `event`'s conversation: raise its priority to `priority` (ours: urgent,
        high, normal), add `label` (created in the account when missing), and assign `team` (by name) when the
        conversation has none. Returns what was done; a step Chatwoot refuses is logged and skipped."""
        where = {"account_id": event.account_id, "conversation_id": event.conversation_id}
        done: list[str] = []
        wanted = PRIORITIES[priority]
        if _PRIORITY_ORDER.index(wanted) > _PRIORITY_ORDER.index(event.priority or None):
            self._step(done, f"priority={wanted}", lambda: self.toggle_priority(**where, priority=wanted))
        if label not in event.labels:
            self._step(done, f"label={label}", lambda: self._add_label(event, label, why))
        if team and not event.has_team:
            self._step(done, f"team={team}", lambda: self._assign(event, team))
        return done

    def _step(self, done: list[str], what: str, call: Callable[[], None]) -> None:
        try:
            call()
        except HelpdeskApiError as exc:
            log.warning("Chatwoot: could not set %s: %s", what, exc)
        else:
            done.append(what)

    def _add_label(self, event: MessageEvent, label: str, why: str) -> None:
        if label not in self.account_labels(account_id=event.account_id):
            try:
                self.create_label(account_id=event.account_id, title=label, description=why)
            except HelpdeskApiError as exc:
                raise HelpdeskApiError(
                    f"the label '{label}' does not exist and could not be created ({exc}); create it in Chatwoot "
                    "(Settings → Labels) or give Kefu an administrator's token",
                    status=exc.status,
                ) from exc
        where = {"account_id": event.account_id, "conversation_id": event.conversation_id}
        current = self.conversation_labels(**where)
        self.set_conversation_labels(**where, labels=[*current, label])

    def _assign(self, event: MessageEvent, team: str) -> None:
        found = next((t for t in self.teams(account_id=event.account_id) if str(t.get("name")) == team), None)
        if found is None or not isinstance(found.get("id"), int):
            raise HelpdeskApiError(f"no team named '{team}' in Chatwoot (rules.yaml: tickets.teams names it)")
        self.assign_team(account_id=event.account_id, conversation_id=event.conversation_id, team_id=found["id"])

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        attempt = 0
        while True:
            wait = self.backoff_s * 2**attempt
            try:
                resp = self._http.request(method, path, json=body)
            except httpx.TransportError as exc:
                failure = HelpdeskApiError(f"{method} {self.base_url}{path}: {exc.__class__.__name__}: {exc}")
            else:
                if resp.status_code < 300:
                    return resp.json() if resp.content else None
                failure = HelpdeskApiError(_explain(method, self.base_url + path, resp), status=resp.status_code)
                if resp.status_code not in _RETRY_STATUS:
                    raise failure
                retry_after = resp.headers.get("retry-after", "")
                if retry_after.isdigit():
                    wait = min(float(retry_after), MAX_RETRY_AFTER_S)
            if attempt >= self.retries:
                raise failure
            attempt += 1
            self._sleep(wait)


def _explain(method: str, url: str, resp: httpx.Response) -> str:
    hint = {
        401: "check KEFU_CHATWOOT__API_TOKEN (an agent's or agent bot's access token)",
        403: "the token's user has no access to this conversation's inbox",
        404: "no such account or conversation for this token",
    }.get(resp.status_code, "Chatwoot's log has the cause")
    return f"{method} {url}: HTTP {resp.status_code}: {resp.text[:200]!r}; {hint}"
