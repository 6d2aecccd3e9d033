"""A small Chatwoot on loopback, written from Chatwoot's published API and its webhook code (not from ours).

What it serves, as Chatwoot does (source files named in NOTES.md, issue 15):
- `GET /api/v1/accounts/{account}/conversations/{id}/messages` with header `api_access_token`: the newest 20
  messages, oldest first, as `{"meta": {...}, "payload": [message]}` with `message_type` a number
  (0 incoming, 1 outgoing, 2 activity, 3 template); 401 for a wrong token, 404 for an unknown conversation.
  With `?after=<id>`, up to 100 messages after that id, oldest first (`MessageFinder#messages_after`).
- `GET /api/v1/accounts/{account}/conversations?status=&page=`: `{"data": {"meta": {...counts}, "payload":
  [conversation]}}`, latest activity first, 25 a page (`ConversationFinder`, conversations/index.json.jbuilder).
- `POST` to the messages path with `{"content", "message_type": "outgoing"|"incoming", "private"}`: the created
  message (the token's user as sender).
- A handoff as a ticket (swagger/paths/application/…): `POST …/conversations/{id}/toggle_priority`
  `{"priority": "urgent"|"high"|"medium"|"low"|null}` → 200 with no body (`Conversation#toggle_priority`);
  `GET …/conversations/{id}/labels` → `{"payload": [title]}`; `POST` the same with `{"labels": [...]}` replaces
  them, keeping only titles that exist in the account (`LabelConcern#valid_labels`); `GET /api/v1/accounts/{a}/labels`
  → `{"payload": [label]}`; `POST` it with `{title, description, color, show_on_sidebar}` creates one (titles
  are lower-cased, `Label`; administrators only: 401 for an agent's token here); `GET /api/v1/accounts/{a}/teams`
  → `[team]`; `POST …/conversations/{id}/assignments` `{"team_id"}` → the team (`AssignmentsController#set_team`).

What it sends, as Chatwoot's `Webhooks::Trigger` does: a `message_created` webhook (the message's
`webhook_data` with `"event": "message_created"`, `message_type` a word, `conversation.id` the display id) POSTed
with `X-Chatwoot-Delivery: <uuid>`, `X-Chatwoot-Timestamp: <unix s>` and
`X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`, for every message created,
private notes included; and, when a conversation is resolved, a `conversation_status_changed` webhook (the
conversation's `webhook_data` with `event` and `changed_attributes: [{"status": {"previous_value",
"current_value"}}]`, `WebhookListener#conversation_status_changed`).

>>> with FakeChatwoot(token="t", secret="s", webhook_url=url) as cw:
...     delivery = cw.customer_says(42, "能退吗？")    # creates the message and delivers its webhook
...     cw.notes(42)                                   # private notes posted through the API
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

ACCOUNT: dict[str, Any] = {"id": 1, "name": "栖木优选"}
INBOX = {"id": 3, "name": "网店客服"}
CONTACT = {"id": 7, "name": "王女士", "type": "contact"}
AGENT = {"id": 2, "name": "小栖", "email": "agent@example.com", "type": "user"}
API_USER = {"id": 9, "name": "Kefu", "email": "kefu@example.com", "type": "user"}
_PATH = re.compile(r"^/api/v1/accounts/(\d+)/conversations/(\d+)/(messages|toggle_priority|labels|assignments)/?$")
_ACCOUNT_PATH = re.compile(r"^/api/v1/accounts/(\d+)/(labels|teams)/?$")
_LIST = re.compile(r"^/api/v1/accounts/(\d+)/conversations/?$")
PAGE = 25  # conversations a page (Kaminari's default, which ConversationFinder pages with)
_TYPES = {"incoming": 0, "outgoing": 1, "activity": 2, "template": 3}


@dataclass
class Delivery:
    """One webhook POST, kept so that a test can send it again byte for byte."""

    id: str
    headers: dict[str, str]
    body: bytes
    status: int
    message_id: int


@dataclass
class ApiCall:
    method: str
    path: str
    status: int
    at: float  # time.monotonic()
    body: dict[str, Any] | None = None


@dataclass
class Conversation:
    """What Chatwoot keeps about a conversation besides its messages."""

    status: str = "open"
    priority: str | None = None
    labels: list[str] = field(default_factory=list)
    team_id: int | None = None
    updated_at: float = field(default_factory=time.time)


@dataclass
class _State:
    token: str
    account_id: int
    admin: bool  # whether the token's user is an administrator (may create labels)
    conversations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    meta: dict[int, Conversation] = field(default_factory=dict)
    labels: list[dict[str, Any]] = field(default_factory=list)  # the account's labels
    teams: list[dict[str, Any]] = field(default_factory=list)
    calls: list[ApiCall] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # statuses the next API calls answer with
    next_id: int = 100
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeChatwoot:
    """A Chatwoot account with conversations, an API user whose token is `token`, and one account webhook."""

    def __init__(
        self,
        *,
        token: str,
        secret: str,
        webhook_url: str | None = None,
        account_id: int = 1,
        admin: bool = True,
        teams: tuple[str, ...] = (),
        labels: tuple[str, ...] = (),
    ) -> None:
        self.secret = secret
        self.webhook_url = webhook_url
        self.state = _State(token=token, account_id=int(account_id), admin=admin)
        self.state.teams = [{"id": 20 + n, "name": name, "description": "", "allow_auto_assign": True,
                             "account_id": int(account_id), "is_member": False} for n, name in enumerate(teams)]  # fmt: skip
        self.state.labels = [_label(n, title) for n, title in enumerate(labels)]
        self.deliveries: list[Delivery] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        # One sender for all deliveries, as Chatwoot's workers keep theirs: a new client per POST costs ~100 ms
        # here (TLS context set-up), which is the sender's time, not the receiver's.
        self._sender = httpx.Client(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeChatwoot:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._sender.close()

    # -- what people do in Chatwoot ----------------------------------------------------------------------

    def customer_says(
        self, conversation_id: int, text: str, *, deliver: bool = True, at: int | None = None
    ) -> Delivery | None:
        """A customer message (created at unix time `at`, default now); its webhook is delivered (and returned)
        unless `deliver` is False."""
        return self._create(conversation_id, text, "incoming", private=False, sender=CONTACT, deliver=deliver, at=at)

    def agent_says(
        self, conversation_id: int, text: str, *, deliver: bool = True, at: int | None = None
    ) -> Delivery | None:
        """An agent's reply to the customer, sent from the dashboard."""
        return self._create(conversation_id, text, "outgoing", private=False, sender=AGENT, deliver=deliver, at=at)

    def resolve(self, conversation_id: int, *, deliver: bool = True) -> Delivery | None:
        """An agent marks the conversation resolved; its `conversation_status_changed` webhook is delivered."""
        with self.state.lock:
            meta = self.state.meta.setdefault(conversation_id, Conversation())
            previous, meta.status, meta.updated_at = meta.status, "resolved", time.time()
        if not (deliver and self.webhook_url):
            return None
        payload = {
            **self.conversation_data(conversation_id),
            "event": "conversation_status_changed",
            "changed_attributes": [{"status": {"previous_value": previous, "current_value": "resolved"}}],
        }
        return self.post_webhook(payload, conversation_id)

    def conversation(self, conversation_id: int) -> Conversation:
        with self.state.lock:
            return self.state.meta.setdefault(conversation_id, Conversation())

    def fail_next(self, count: int, status: int = 500) -> None:
        """The next `count` API calls answer `status`."""
        with self.state.lock:
            self.state.failures.extend([status] * count)

    def notes(self, conversation_id: int) -> list[dict[str, Any]]:
        """The private notes of a conversation, oldest first."""
        with self.state.lock:
            return [m for m in self.state.conversations.get(conversation_id, []) if m["private"]]

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self.state.lock:
            return [c for c in self.state.calls if method is None or c.method == method]

    def deliver(self, message: dict[str, Any], *, secret: str | None = None, timestamp: int | None = None) -> Delivery:
        """POST the message's `message_created` webhook, signed with `secret` (default: the webhook's)."""
        return self.post_webhook(self.webhook_data(message), int(message["id"]), secret=secret, timestamp=timestamp)

    def post_webhook(
        self, payload: dict[str, Any], message_id: int, *, secret: str | None = None, timestamp: int | None = None
    ) -> Delivery:
        """POST a webhook payload, signed as `Webhooks::Trigger` signs it."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        ts = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new((secret or self.secret).encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Chatwoot-Delivery": str(uuid.uuid4()),
            "X-Chatwoot-Timestamp": ts,
            "X-Chatwoot-Signature": f"sha256={digest}",
        }
        return self.send(Delivery(headers["X-Chatwoot-Delivery"], headers, body, 0, message_id))

    def deliver_quietly(self, message: dict[str, Any]) -> None:
        """Deliver, as Chatwoot's job does, without raising (a failed delivery is only logged there)."""
        with contextlib.suppress(httpx.HTTPError):
            self.deliver(message)

    def send(self, delivery: Delivery) -> Delivery:
        """(Re)send a delivery as it is."""
        assert self.webhook_url, "no webhook URL"
        resp = self._sender.post(self.webhook_url, content=delivery.body, headers=delivery.headers)
        sent = Delivery(delivery.id, delivery.headers, delivery.body, resp.status_code, delivery.message_id)
        self.deliveries.append(sent)
        return sent

    def message(self, conversation_id: int, message_id: int) -> dict[str, Any]:
        with self.state.lock:
            return next(m for m in self.state.conversations[conversation_id] if m["id"] == message_id)

    # -- Chatwoot's shapes -------------------------------------------------------------------------------

    def conversation_data(self, conversation_id: int) -> dict[str, Any]:
        """`Conversation#webhook_data` (`Conversations::EventDataPresenter#push_data`): the display id, status,
        priority, labels, the last chat message (with its `account_id`), meta with the team, timestamps."""
        with self.state.lock:
            chat = [
                m
                for m in self.state.conversations.get(conversation_id, [])
                if not m["private"] and m["message_type"] < 2
            ]
            meta = self.state.meta.setdefault(conversation_id, Conversation())
            team = next((t for t in self.state.teams if t["id"] == meta.team_id), None)
            last = {**chat[-1], "account_id": self.state.account_id} if chat else None
            status, priority, labels, updated_at = meta.status, meta.priority, list(meta.labels), meta.updated_at
        now = int(time.time())
        return {
            "additional_attributes": {},
            "can_reply": True,
            "channel": "Channel::WebWidget",
            "contact_inbox": {"source_id": "c7-source"},
            "id": conversation_id,
            "inbox_id": INBOX["id"],
            "messages": [last] if last else [],
            "labels": labels,
            "meta": {
                "sender": CONTACT,
                "assignee": AGENT,
                "assignee_type": "User",
                "team": {"id": team["id"], "name": team["name"]} if team else None,
            },
            "status": status,
            "custom_attributes": {},
            "snoozed_until": None,
            "unread_count": 1,
            "first_reply_created_at": None,
            "priority": priority,
            "waiting_since": now,
            "agent_last_seen_at": now,
            "contact_last_seen_at": now,
            "last_activity_at": now,
            "timestamp": now,
            "created_at": now,
            "updated_at": updated_at,
        }

    def webhook_data(self, message: dict[str, Any]) -> dict[str, Any]:
        """`Message#webhook_data` merged with the event name (message_type as a word, created_at ISO 8601)."""
        conversation_id = int(message["conversation_id"])
        word = {v: k for k, v in _TYPES.items()}[message["message_type"]]
        return {
            "account": ACCOUNT,
            "additional_attributes": {},
            "content_attributes": {},
            "content_type": "text",
            "content": message["content"],
            "conversation": {**self.conversation_data(conversation_id), "account": ACCOUNT},
            "created_at": datetime.fromtimestamp(message["created_at"], UTC).isoformat(timespec="milliseconds"),
            "id": message["id"],
            "inbox": INBOX,
            "message_type": word,
            "private": message["private"],
            "sender": message["sender"],
            "source_id": None,
            "event": "message_created",
        }

    def _create(
        self,
        conversation_id: int,
        text: str,
        kind: str,
        *,
        private: bool,
        sender: dict[str, Any],
        deliver: bool,
        at: int | None = None,
    ) -> Delivery | None:
        with self.state.lock:
            message = _new_message(self.state, conversation_id, text, kind, private, sender, at)
        return self.deliver(message) if deliver and self.webhook_url else None


def _new_message(
    state: _State,
    conversation_id: int,
    text: str,
    kind: str,
    private: bool,
    sender: dict[str, Any],
    at: int | None = None,
) -> dict[str, Any]:
    """A message in the API's shape (app/views/api/v1/models/_message.json.jbuilder); the caller holds the lock."""
    state.next_id += 1
    message = {
        "id": state.next_id,
        "content": text,
        "inbox_id": INBOX["id"],
        "conversation_id": conversation_id,
        "message_type": _TYPES[kind],
        "content_type": "text",
        "status": "sent",
        "content_attributes": {},
        "created_at": int(time.time()) if at is None else at,
        "private": private,
        "source_id": None,
        "sender": sender,
    }
    state.conversations.setdefault(conversation_id, []).append(message)
    state.meta.setdefault(conversation_id, Conversation())
    return message


def _label(n: int, title: str, description: str = "") -> dict[str, Any]:
    return {"id": 40 + n, "title": title.lower(), "description": description, "color": "#1f93ff",
            "show_on_sidebar": True}  # fmt: skip


def _conversation(state: _State, conversation_id: int) -> dict[str, Any]:
    """A conversation in the list's shape (api/v1/conversations/partials/_conversation.json.jbuilder)."""
    messages = state.conversations[conversation_id]
    return {
        "id": conversation_id,
        "account_id": state.account_id,
        "inbox_id": INBOX["id"],
        "status": state.meta.setdefault(conversation_id, Conversation()).status,
        "meta": {"sender": CONTACT, "assignee": AGENT, "channel": "Channel::WebWidget"},
        "messages": messages[-1:],
        "created_at": messages[0]["created_at"],
        "timestamp": messages[-1]["created_at"],  # last_activity_at
        "labels": [],
        "priority": None,
    }


def _handler(fake: FakeChatwoot) -> type[BaseHTTPRequestHandler]:
    state = fake.state

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, payload: Any, body: dict[str, Any] | None = None) -> None:
            with state.lock:
                state.calls.append(ApiCall(self.command, self.path, status, time.monotonic(), body))
            raw = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _route(self, body: dict[str, Any] | None) -> tuple[int, int | None, str] | None:
            """(account, conversation or None, resource) of an API path, after the token, failure and existence
            checks."""
            path = self.path.split("?")[0]
            match, account_match = _PATH.match(path), _ACCOUNT_PATH.match(path)
            if not match and not account_match:
                self._answer(404, {"error": "Resource could not be found"}, body)
                return None
            if self.headers.get("api_access_token") != state.token:
                self._answer(401, {"error": "Invalid Access Token"}, body)
                return None
            with state.lock:
                failure = state.failures.pop(0) if state.failures else None
            if failure is not None:
                self._answer(failure, {"error": "Internal Server Error"}, body)
                return None
            if account_match:
                account, conversation, resource = int(account_match[1]), None, account_match[2]
            else:
                assert match is not None
                account, conversation, resource = int(match[1]), int(match[2]), match[3]
            if account != state.account_id or (conversation is not None and conversation not in state.conversations):
                self._answer(404, {"error": "Resource could not be found"}, body)
                return None
            return account, conversation, resource

        def _list(self) -> bool:
            """GET /api/v1/accounts/{account}/conversations?status=&page= (ConversationFinder: latest activity
            first, 25 a page); False when the path is another one."""
            path, _, query = self.path.partition("?")
            match = _LIST.match(path)
            if not match:
                return False
            if self.headers.get("api_access_token") != state.token:
                self._answer(401, {"error": "Invalid Access Token"})
                return True
            params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
            status, page = params.get("status", "open"), max(1, int(params.get("page", "1") or 1))
            with state.lock:
                chosen = [
                    _conversation(state, cid)
                    for cid in state.conversations
                    if status == "all" or state.meta.setdefault(cid, Conversation()).status == status
                ]
            chosen.sort(key=lambda c: -c["timestamp"])
            counts = {"mine_count": 0, "assigned_count": len(chosen), "unassigned_count": 0, "all_count": len(chosen)}
            self._answer(200, {"data": {"meta": counts, "payload": chosen[(page - 1) * PAGE : page * PAGE]}})
            return True

        def do_GET(self) -> None:
            if self._list():
                return
            route = self._route(None)
            if route is None:
                return
            _, conversation, resource = route
            with state.lock:
                if resource == "messages" and conversation is not None:
                    every = state.conversations[conversation]
                    after = dict(p.split("=", 1) for p in self.path.partition("?")[2].split("&") if "=" in p).get(
                        "after"
                    )
                    if after is not None:  # MessageFinder#messages_after: up to 100 after that id, oldest first
                        messages = [dict(m) for m in every if m["id"] > int(after)][:100]
                    else:
                        messages = [dict(m) for m in every[-20:]]
                    meta = {"labels": [], "additional_attributes": {}, "contact": CONTACT, "assignee": AGENT}
                    payload: Any = {"meta": meta, "payload": messages}
                elif resource == "labels" and conversation is not None:
                    payload = {"payload": list(state.meta.setdefault(conversation, Conversation()).labels)}
                elif resource == "labels":
                    payload = {"payload": [dict(x) for x in state.labels]}
                elif resource == "teams":
                    payload = [dict(t) for t in state.teams]
                else:
                    payload = None
            if payload is None:
                self._answer(404, {"error": "Resource could not be found"})
                return
            self._answer(200, payload)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._answer(400, {"error": "invalid JSON"})
                return
            route = self._route(body)
            if route is None:
                return
            _, conversation, resource = route
            handler = {
                "messages": self._post_message,
                "toggle_priority": self._toggle_priority,
                "labels": self._post_labels,
                "assignments": self._assign,
            }.get(resource)
            if handler is None or (conversation is None and resource != "labels"):
                self._answer(404, {"error": "Resource could not be found"}, body)
                return
            handler(conversation, body)

        def _post_message(self, conversation: int | None, body: dict[str, Any]) -> None:
            assert conversation is not None
            if not isinstance(body.get("content"), str) or body.get("message_type", "outgoing") not in _TYPES:
                self._answer(422, {"message": "content is required"}, body)
                return
            with state.lock:
                message = _new_message(
                    state, conversation, body["content"], body.get("message_type", "outgoing"),
                    bool(body.get("private")), API_USER,
                )  # fmt: skip
            self._answer(200, message, body)
            if fake.webhook_url:  # Chatwoot fires message_created for notes too, from a background job
                threading.Thread(target=fake.deliver_quietly, args=(message,), daemon=True).start()

        def _toggle_priority(self, conversation: int | None, body: dict[str, Any]) -> None:
            assert conversation is not None
            priority = body.get("priority")
            if priority not in ("urgent", "high", "medium", "low", None, ""):
                self._answer(422, {"error": f"'{priority}' is not a valid priority"}, body)
                return
            with state.lock:
                state.meta.setdefault(conversation, Conversation()).priority = priority or None
            self._answer(200, None, body)

        def _post_labels(self, conversation: int | None, body: dict[str, Any]) -> None:
            with state.lock:
                if conversation is None:  # an account label
                    if not state.admin:
                        answer: tuple[int, Any] = (401, {"error": "You are not authorized to do this action"})
                    elif not isinstance(body.get("title"), str) or not re.fullmatch(r"[\w-]+", body["title"]):
                        answer = (422, {"message": "Title is invalid"})
                    else:
                        label = _label(len(state.labels), body["title"], str(body.get("description") or ""))
                        state.labels.append(label)
                        answer = (200, label)
                else:
                    known = {x["title"] for x in state.labels}
                    posted: list[Any] = body["labels"] if isinstance(body.get("labels"), list) else []
                    meta = state.meta.setdefault(conversation, Conversation())
                    meta.labels = [str(x) for x in posted if x in known]
                    answer = (200, {"payload": list(meta.labels)})
            self._answer(*answer, body)

        def _assign(self, conversation: int | None, body: dict[str, Any]) -> None:
            assert conversation is not None
            with state.lock:
                team = next((t for t in state.teams if t["id"] == body.get("team_id")), None)
                if "team_id" in body:
                    state.meta.setdefault(conversation, Conversation()).team_id = team["id"] if team else None
            self._answer(200, team, body)

    return Handler
