"""`POST /v1/followup`: the 回访 draft of a resolved conversation (assistant/followup.py), for the sidebar and
any helpdesk script."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from assistant.errors import FollowupNotConfiguredError
from assistant.service.deps import Agent, ApiError, State
from assistant.service.schemas import ErrorResponse, FollowupRequest, FollowupResponse


def build_followup_router() -> APIRouter:
    router = APIRouter(tags=["agent"])

    @router.post(
        "/v1/followup",
        response_model=None,
        responses={200: {"model": FollowupResponse}, 503: {"model": ErrorResponse}},
        summary="Draft the 回访 (follow-up) of a resolved conversation, with its due time",
    )
    def followup(body: FollowupRequest, request: Request, principal: Agent, state: State) -> JSONResponse:
        bot = state.holder.get()
        conversation: list[dict[str, Any]] = [t.model_dump() for t in body.conversation]
        try:
            draft = bot.followup(conversation=conversation, resolved_at=body.resolved_at, outcome=body.outcome)
        except FollowupNotConfiguredError as exc:
            raise ApiError(503, "followup_not_configured", str(exc)) from exc
        except OverflowError as exc:  # a resolution time near year 9999 plus the window
            raise ApiError(
                422, "invalid_request", "resolved_at: too far in the future; send when it was resolved"
            ) from exc
        return JSONResponse(
            {"request_id": request.state.request_id, **draft.to_dict(), "kb_version": bot.kb.fingerprint}
        )

    return router
