"""What every request needs: the service state, the caller's identity and role, the rate limit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from assistant.service.auth import Authenticator, Principal
from assistant.service.holder import AssistantHolder
from assistant.service.ratelimit import RateLimiter, retry_after_header
from assistant.service.store import FeedbackStore, Retention
from assistant.settings import AssistantSettings


class ApiError(Exception):
    """An error response: `{"error": {"code", "message", "request_id"}}` with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details


@dataclass
class ServiceState:
    """The objects the app serves with, set up by the assembly point (`kefu serve`, tests)."""

    holder: AssistantHolder
    store: FeedbackStore
    settings: AssistantSettings
    auth: Authenticator
    limiter: RateLimiter
    retention: Retention
    failed_auth: RateLimiter  # wrong or missing keys, per client IP


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.kefu
    return state


State = Annotated[ServiceState, Depends(get_state)]
_ApiKey = Annotated[
    str | None,
    Depends(APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (or `Authorization: Bearer KEY`)")),
]
_Bearer = Annotated[
    HTTPAuthorizationCredentials | None,
    Depends(HTTPBearer(auto_error=False, description="API key as a bearer token")),
]


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting callers whose key has one of `roles` (admin always), then rate-limiting them."""

    def dependency(request: Request, state: State, api_key: _ApiKey, bearer: _Bearer) -> Principal:
        key = (api_key or "").strip() or (bearer.credentials.strip() if bearer else None)
        client = f"ip:{request.client.host if request.client else '-'}"
        wait = state.failed_auth.blocked(client)
        if wait is not None:  # before looking at the key: a guesser learns nothing while throttled
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests with a wrong or missing API key from this address; retry in "
                f"{retry_after_header(wait)} s with a valid key",
                headers={"Retry-After": retry_after_header(wait)},
            )
        principal = state.auth.identify(key)
        if principal is None:
            state.failed_auth.acquire(client)
            what = "unknown API key" if key else "missing API key"
            raise ApiError(
                401,
                "unauthorized",
                f"{what}: send a valid key in the X-API-Key header "
                "(or Authorization: Bearer KEY); ask your admin for one",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.may(roles):
            needed = " or ".join([*roles, "admin"])
            raise ApiError(
                403,
                "forbidden",
                f"this API key has role '{principal.role}'; {request.method} {request.url.path} needs role {needed}",
            )
        caller = principal.id if not state.auth.open_mode else client
        wait = state.limiter.acquire(caller)
        if wait is not None:
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests: the limit is {state.limiter.per_minute} "
                f"per minute per {'client' if state.auth.open_mode else 'key'}; "
                f"retry in {retry_after_header(wait)} s",
                headers={"Retry-After": retry_after_header(wait)},
            )
        return principal

    return dependency


Agent = Annotated[Principal, Depends(require("agent"))]
Editor = Annotated[Principal, Depends(require("editor"))]
