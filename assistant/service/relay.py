"""Chatwoot webhooks turned into work: a customer's message gets the suggestions as a private note, an agent's
reply is matched against them and recorded as feedback.

Runs after the webhook is acknowledged (Chatwoot waits 5 s at most), in a worker thread:

>>> relay = ChatwootRelay.from_settings(holder, store, settings.chatwoot)
>>> relay.on_customer_message(event)     # 'posted', 'superseded', …
>>> relay.on_agent_message(event)        # SentMatch('edited', 'sid', 3) or None
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.errors import BadConversationError, FollowupNotConfiguredError
from assistant.helpdesk.chatwoot import ChatwootClient, MessageEvent, StatusEvent, newest_incoming_id, turns_of
from assistant.helpdesk.errors import HelpdeskApiError
from assistant.helpdesk.notes import followup_note, suggestion_note
from assistant.pipeline import Assistant
from assistant.service.matching import SentMatch, record_sent
from assistant.service.recording import record_served
from assistant.service.store import FeedbackStore
from assistant.settings import ChatwootSettings

log = logging.getLogger("kefu.chatwoot")

# Requests and feedback from webhooks belong to this principal: no API key can send feedback on them.
PRINCIPAL = "chatwoot"

Outcome = Literal["posted", "recorded", "superseded", "answered", "no_api", "no_turns", "api_failed", "not_configured"]


class ChatwootRelay:
    """Suggestions for Chatwoot conversations, and what agents did with them.

    `assistant` returns the assistant to answer with (the service's holder); `client` is None when no
    Chatwoot URL and token are set (then nothing is fetched or posted, only events are taken).
    """

    def __init__(
        self,
        assistant: Callable[[], Assistant],
        store: FeedbackStore,
        client: ChatwootClient | None,
        *,
        post_notes: bool = True,
        tz: tzinfo | None = None,
    ) -> None:
        self.assistant = assistant
        self.store = store
        self.client = client
        self.post_notes = post_notes
        self.tz = tz  # due times in notes are shown in it (UTC when None)

    @classmethod
    def from_settings(
        cls, assistant: Callable[[], Assistant], store: FeedbackStore, settings: ChatwootSettings
    ) -> ChatwootRelay:
        client = None
        if settings.url and settings.api_token:
            client = ChatwootClient(
                settings.url,
                settings.api_token.get_secret_value(),
                timeout_s=settings.timeout_s,
                retries=settings.retries,
                backoff_s=settings.backoff_s,
            )
        elif settings.url:
            log.warning("KEFU_CHATWOOT__URL is set without KEFU_CHATWOOT__API_TOKEN: no notes will be posted")
        try:
            tz: tzinfo | None = ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning(
                "KEFU_CHATWOOT__TIMEZONE %r is not a time zone (e.g. Asia/Shanghai); notes show UTC", settings.timezone
            )
            tz = None
        return cls(assistant, store, client, post_notes=settings.notes_enabled, tz=tz)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def take(self, event: MessageEvent, delivery: str | None) -> bool:
        """Claim the event once per message and per delivery; False for a replay."""
        return self.store.claim_event(
            message_key=f"{event.conversation_key}:{event.message_id}",
            delivery_key=f"chatwoot:{delivery}" if delivery else None,
            conversation_key=event.conversation_key,
            message_id=event.message_id,
            role=event.role or "other",
        )

    def take_status(self, event: StatusEvent, delivery: str | None) -> bool:
        """Claim a status change once per conversation and moment, and once per delivery."""
        return self.store.claim_event(
            message_key=f"{event.conversation_key}:{event.status}:{event.at:.3f}",
            delivery_key=f"chatwoot:{delivery}" if delivery else None,
            conversation_key=event.conversation_key,
            message_id=0,
            role=event.status,
        )

    def on_resolved(self, event: StatusEvent) -> Outcome:
        """Post the 回访 draft of a conversation that was just resolved, with its due time, as a private note."""
        if self.client is None or not self.post_notes:
            return "no_api"
        messages = self._messages(event)
        if messages is None:
            return "api_failed"
        turns = turns_of(messages)
        if not any(t["role"] == "customer" for t in turns):
            return "no_turns"
        try:
            draft = self.assistant().followup(conversation=turns, resolved_at=datetime.fromtimestamp(event.at, UTC))
        except FollowupNotConfiguredError as exc:
            log.warning("Chatwoot conversation %s: no 回访 draft: %s", event.conversation_key, exc)
            return "not_configured"
        return "posted" if self._post_note(event, followup_note(draft, tz=self.tz), "the 回访 draft") else "api_failed"

    def _messages(self, event: MessageEvent | StatusEvent) -> list[dict[str, Any]] | None:
        """The event's conversation's messages; None (logged) when Chatwoot's API refuses them."""
        assert self.client is not None
        try:
            return self.client.messages(account_id=event.account_id, conversation_id=event.conversation_id)
        except HelpdeskApiError as exc:
            log.error("Chatwoot conversation %s: could not read its messages: %s", event.conversation_key, exc)
            return None

    def _post_note(self, event: MessageEvent | StatusEvent, content: str, what: str) -> bool:
        """A private note on the event's conversation; False (logged) when Chatwoot's API refuses it."""
        assert self.client is not None
        try:
            self.client.create_message(
                account_id=event.account_id, conversation_id=event.conversation_id, content=content, private=True
            )
        except HelpdeskApiError as exc:
            log.error("Chatwoot conversation %s: could not post %s: %s", event.conversation_key, what, exc)
            return False
        return True

    def on_customer_message(self, event: MessageEvent) -> Outcome:
        """Fetch the conversation, suggest, record, and post the note unless a newer customer message came."""
        key = event.conversation_key
        if self.store.superseded(conversation_key=key, message_id=event.message_id):
            return "superseded"
        if self.client is None or not self.post_notes:
            return "no_api"
        messages = self._messages(event)
        if messages is None:
            return "api_failed"
        newest = newest_incoming_id(messages)
        if newest is not None and newest > event.message_id:
            return "superseded"
        upto = [m for m in messages if int(m.get("id") or 0) <= event.message_id]
        if not any(int(m.get("id") or 0) == event.message_id for m in upto):  # not listed yet: use the webhook's
            upto.append({"id": event.message_id, "message_type": 0, "content": event.content})
        turns = turns_of(upto)
        if not turns or turns[-1]["role"] != "customer":
            return "answered" if turns else "no_turns"
        try:
            result = self.assistant().run(conversation=turns)
        except BadConversationError:
            return "no_turns"
        record_served(
            self.store,
            result,
            "cw-" + uuid.uuid4().hex[:16],
            turns,
            agent_id=None,
            principal=PRINCIPAL,
            conversation_key=key,
        )
        if self.store.superseded(conversation_key=key, message_id=event.message_id):
            return "superseded"
        if not self._post_note(event, suggestion_note(result, tz=self.tz), "the suggestions"):
            return "api_failed"
        if result.ticket is not None and result.handoff_code is not None:
            t = result.ticket
            done = self.client.file_ticket(
                event, priority=t.priority, label=t.label, team=t.team, why=result.handoff_reason or t.label
            )
            log.info("Chatwoot conversation %s: handoff %s filed as a ticket: %s", key, result.handoff_code, done)
        return "posted"

    def on_agent_message(self, event: MessageEvent) -> SentMatch | None:
        """Record what the agent sent against the suggestions last posted to the conversation (once)."""
        shown = self.store.open_request(conversation_key=event.conversation_key, principal=PRINCIPAL)
        if shown is None:
            return None
        _, suggestions = shown
        return record_sent(
            self.store,
            suggestions,
            event.content,
            agent_id=f"chatwoot-user-{event.sender_id}" if event.sender_id is not None else None,
            principal=PRINCIPAL,
        )
