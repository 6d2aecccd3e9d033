"""Helpdesk routes (CONTRACTS.md §6): the Chatwoot webhook, and what an agent sent, matched as feedback.

`POST /v1/integrations/chatwoot/webhook` takes Chatwoot's signed webhooks (no API key: the signature is the
credential), acknowledges at once and works after the response: a customer's message gets the suggestions as
a private note (and a handoff raises the conversation's priority, labels it, assigns the KB's team), an agent's
reply is recorded against them, a conversation that turns resolved gets its 回访 draft as a note. `POST /v1/feedback/sent` does the matching for a
helpdesk app that sees the agent's reply itself (the sidebar in Chatwoot).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import anyio
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse

from assistant.helpdesk.chatwoot import (
    MessageEvent,
    StatusEvent,
    parse_message_created,
    parse_status_changed,
    verify_signature,
)
from assistant.helpdesk.errors import BadSignatureError
from assistant.service.deps import Agent, ApiError, State
from assistant.service.matching import record_sent
from assistant.service.relay import ChatwootRelay
from assistant.service.schemas import ErrorResponse, SentRequest, SentResult
from assistant.service.store import FeedbackLimitError, UnknownSuggestionError

log = logging.getLogger("kefu.chatwoot")


def relay_of(request: Request) -> ChatwootRelay:
    relay: ChatwootRelay = request.app.state.chatwoot
    return relay


def _customer(relay: ChatwootRelay, event: MessageEvent) -> None:
    try:
        outcome = relay.on_customer_message(event)
    except Exception:  # after the response: a failure is logged, never lost silently
        log.exception("Chatwoot conversation %s, message %s: failed", event.conversation_key, event.message_id)
        return
    log.info("Chatwoot conversation %s, message %s: %s", event.conversation_key, event.message_id, outcome)


def _agent(relay: ChatwootRelay, event: MessageEvent) -> None:
    try:
        match = relay.on_agent_message(event)
    except Exception:
        log.exception("Chatwoot conversation %s, reply %s: failed", event.conversation_key, event.message_id)
        return
    if match is not None:
        log.info("Chatwoot conversation %s: the agent's reply was %s", event.conversation_key, match.action)


def _resolved(relay: ChatwootRelay, event: StatusEvent) -> None:
    try:
        outcome = relay.on_resolved(event)
    except Exception:
        log.exception("Chatwoot conversation %s, resolved: failed", event.conversation_key)
        return
    log.info("Chatwoot conversation %s, resolved: 回访 draft %s", event.conversation_key, outcome)


def build_helpdesk_router() -> APIRouter:
    router = APIRouter(tags=["helpdesk"])

    @router.post(
        "/v1/integrations/chatwoot/webhook",
        summary="Chatwoot webhooks (message_created, conversation_status_changed), verified by X-Chatwoot-Signature",
        responses={401: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
    )
    async def chatwoot_webhook(request: Request, background: BackgroundTasks, state: State) -> JSONResponse:
        settings = state.settings.chatwoot
        if settings.webhook_secret is None:
            raise ApiError(
                503,
                "not_configured",
                "the Chatwoot webhook is not configured: set KEFU_CHATWOOT__WEBHOOK_SECRET to the webhook's "
                "secret in Chatwoot (Settings → Integrations → Webhooks)",
            )
        body = await request.body()
        try:
            verify_signature(
                settings.webhook_secret.get_secret_value(),
                body=body,
                timestamp=request.headers.get("x-chatwoot-timestamp"),
                signature=request.headers.get("x-chatwoot-signature"),
                now=time.time(),
                max_skew_s=settings.max_skew_s,
            )
        except BadSignatureError as exc:
            raise ApiError(401, "bad_signature", str(exc)) from exc
        try:
            payload: Any = json.loads(body)
        except ValueError as exc:
            raise ApiError(400, "invalid_json", "the webhook body is not JSON") from exc
        relay = relay_of(request)
        delivery = request.headers.get("x-chatwoot-delivery")
        status = parse_status_changed(payload)
        if status is not None:  # a conversation resolved: its 回访 draft as a note
            if not status.resolved:
                return JSONResponse({"status": "ignored"})
            if not await anyio.to_thread.run_sync(relay.take_status, status, delivery):
                return JSONResponse({"status": "duplicate"})
            background.add_task(_resolved, relay, status)
            return JSONResponse({"status": "accepted"})
        event = parse_message_created(payload)
        if event is None or not (event.from_customer or event.from_agent):
            return JSONResponse({"status": "ignored"})
        taken = await anyio.to_thread.run_sync(relay.take, event, delivery)
        if not taken:
            return JSONResponse({"status": "duplicate"})
        background.add_task(_customer if event.from_customer else _agent, relay, event)
        return JSONResponse({"status": "accepted"})

    @router.post(
        "/v1/feedback/sent",
        response_model=SentResult,
        summary="Record the reply an agent sent after a request's suggestions (accepted, edited or ignored)",
        responses={404: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
    )
    def sent(body: SentRequest, principal: Agent, state: State) -> SentResult:
        try:
            shown = state.store.request_suggestions(request_id=body.request_id, principal=principal.id)
            if shown is None:
                return SentResult(action="none")
            match = record_sent(state.store, shown[1], body.text, agent_id=body.agent_id, principal=principal.id)
        except UnknownSuggestionError as e:
            raise ApiError(404, "unknown_request", str(e)) from e
        except FeedbackLimitError as e:
            raise ApiError(429, "too_much_feedback", str(e)) from e
        return SentResult(action=match.action, suggestion_id=match.suggestion_id, edit_distance=match.distance)

    return router
