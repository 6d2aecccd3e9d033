"""The HTTP API (CONTRACTS.md §6): suggest, feedback, search, check, health.

The factory takes ready objects, so the same app serves `kefu serve`, tests and benchmarks:

>>> app = create_app(AssistantHolder(factory, index_dir=index_dir), FeedbackStore("sqlite:///kefu.db"),
...                  AssistantSettings(), mounts=[("/editor", editor_asgi_app)])
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import BadConversationError
from assistant.pipeline import Assistant
from assistant.result import Turn
from assistant.retrieval import HybridRetriever
from assistant.service.auth import Authenticator
from assistant.service.browser import add_browser_guards
from assistant.service.deps import Agent, ApiError, ServiceState, State
from assistant.service.followup import build_followup_router
from assistant.service.helpdesk import build_helpdesk_router
from assistant.service.holder import AssistantHolder
from assistant.service.logs import ACCESS
from assistant.service.ratelimit import RateLimiter, redis_storage
from assistant.service.recording import record_served
from assistant.service.relay import ChatwootRelay
from assistant.service.schemas import (
    CheckRequest,
    CheckResponse,
    ErrorResponse,
    FeedbackRequest,
    FeedbackRow,
    Health,
    Readiness,
    SearchHit,
    SuggestRequest,
    SuggestResponse,
)
from assistant.service.store import (
    FeedbackLimitError,
    FeedbackStore,
    Retention,
    StoreError,
    UnknownSuggestionError,
)
from assistant.settings import AssistantSettings

log = logging.getLogger("kefu.service")

OPEN_MODE_WARNING = (
    "no API keys configured (KEFU_API_KEYS): the API is OPEN to anyone who can reach this port; "
    'set KEFU_API_KEYS=\'{"<key>": "agent"}\' before exposing it beyond this machine'
)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")  # fullmatch: `$` would admit a final newline
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": desc}
    for status, desc in (
        (401, "Missing or unknown API key"),
        (403, "The key's role may not use this endpoint"),
        (413, "Request body too large"),
        (422, "Invalid request (the message names the field)"),
        (429, "Rate limit reached; see Retry-After"),
        (500, "Internal error (logged with the request id)"),
    )
}


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    rid = state.get("request_id")
    return str(rid) if rid else None


def error_body(
    code: str, message: str, request_id: str | None, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details:
        error["details"] = details
    return {"error": error}


async def _send_error(send: Send, status: int, body: dict[str, Any], headers: Sequence[tuple[str, str]] = ()) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                *((k.encode(), v.encode()) for k, v in headers),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class RequestContextMiddleware:
    """Gives every request an id (X-Request-ID, echoed back), turns any unhandled error into a JSON 500, and
    writes the access record (`logs.ACCESS`: id, method, path without its query, status, duration)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or ()).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        started = False
        status = 500
        t0 = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (b"x-request-id", rid.encode())],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("request %s %s failed (request id %s)", scope.get("method"), scope.get("path"), rid)
            if not started:
                await _send_error(
                    send_with_id,
                    500,
                    error_body(
                        "internal_error",
                        f"the server failed on this request; it is logged under request id {rid} "
                        "(quote it when reporting the problem)",
                        rid,
                    ),
                )
        finally:
            _log_access(scope, rid, status, t0)


def _log_access(scope: Scope, rid: str, status: int, t0: float) -> None:
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    method, path = scope.get("method", "-"), scope.get("path", "-")
    client = scope.get("client")
    ACCESS.info(
        "%s %s %d",
        method,
        path,
        status,
        extra={
            "request_id": rid,
            "method": method,
            "path": path,  # the ASGI path never holds the query string
            "status": status,
            "ms": round((time.perf_counter() - t0) * 1000, 1),
            "client": client[0] if client else None,
            "pid": os.getpid(),
        },
    )


# A JSON escape of half a surrogate pair (an emoji cut in two by a client), not part of a pair: preceded by an
# even number of backslashes, so that an escaped backslash followed by "ud83d" is left alone.
_LONE_SURROGATE = re.compile(
    rb"(?<!\\)((?:\\\\)*)(?:\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)


def replace_lone_surrogates(body: bytes) -> bytes:
    """The JSON body with each lone surrogate escape replaced by U+FFFD, which a string can hold.

    >>> replace_lone_surrogates(rb'{"text": "\\ud83d hi"}')
    b'{"text": "\\ufffd hi"}'
    """
    if b"\\u" not in body:
        return body
    return _LONE_SURROGATE.sub(rb"\1\\ufffd", body)


class BodyLimitMiddleware:
    """Rejects API request bodies (paths under `prefix`) over `max_bytes` with a JSON 413, before any
    handler reads them, and replaces lone surrogate escapes, which no string field accepts. Mounted
    applications such as the editor set their own limits."""

    def __init__(self, app: ASGIApp, max_bytes: int, prefix: str = "/v1/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix

    def _too_large(self, scope: Scope, size: str) -> tuple[int, dict[str, Any]]:
        return 413, error_body(
            "payload_too_large",
            f"the request body is {size}; the limit is {self.max_bytes} "
            "bytes (KEFU_MAX_BODY_BYTES): send only the recent turns of the conversation",
            request_id_of(scope),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_error(send, *self._too_large(scope, f"{int(declared)} bytes"))
            return
        # Read the body up to the limit (covers chunked uploads without a Content-Length), then replay it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await _send_error(send, *self._too_large(scope, f"over {self.max_bytes} bytes"))
                return
        body = replace_lone_surrogates(b"".join(chunks))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _field_path(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "header", "path"):
        where, parts = parts[0], parts[1:]
        return ".".join(parts) if parts else where
    return ".".join(parts)


def _validation_message(errors: Sequence[Any]) -> tuple[int, str, str, list[dict[str, Any]]]:
    details = []
    for e in errors:
        path = _field_path(e.get("loc", ()))
        if e.get("type") == "extra_forbidden":
            msg = "unknown field; remove it (the request schema is at /openapi.json)"
        elif e.get("type") == "missing":
            msg = "required field is missing"
        else:
            msg = str(e.get("msg", "invalid value"))
        details.append({"field": path, "message": msg, "type": e.get("type")})
    if any(d["type"] == "json_invalid" for d in details):
        return (
            400,
            "invalid_json",
            "the request body is not valid JSON: send a JSON object with Content-Type: application/json",
            details,
        )
    shown = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
    return 422, "invalid_request", shown + more, details


def _install_error_handlers(app: FastAPI) -> None:
    def respond(
        request: Request,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> JSONResponse:
        rid = getattr(request.state, "request_id", None)
        return JSONResponse(error_body(code, message, rid, details), status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return respond(request, exc.status, exc.code, exc.message, headers=exc.headers, details=exc.details)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message, details = _validation_message(exc.errors())
        return respond(request, status, code, message, details=details)

    @app.exception_handler(BadConversationError)
    async def bad_conversation(request: Request, exc: BadConversationError) -> JSONResponse:
        return respond(request, 422, "bad_conversation", str(exc))

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        log.error("feedback store failed (request id %s): %s", getattr(request.state, "request_id", None), exc)
        return respond(
            request,
            503,
            "store_unavailable",
            "the feedback store is unavailable; retry in a moment, and tell your admin if it persists (see /healthz)",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}; the API is described at /openapi.json"
        elif exc.status_code == 405:
            message = f"{request.url.path} does not accept {request.method}; the API is described at /openapi.json"
        else:
            message = str(exc.detail)
        return respond(request, exc.status_code, code, message, headers=getattr(exc, "headers", None))


def _with_retrieval(bot: Assistant, *, k: int, mode: str) -> Assistant:
    """The assistant with another retrieval depth or mode; shares everything already loaded."""
    if k == bot.retriever.k and mode == bot.retriever.mode:
        return bot
    variant = copy.copy(bot)
    variant.retriever = HybridRetriever(bot.index, k=k, mode=mode)
    return variant


def _purge(state: ServiceState) -> None:
    """Apply the retention setting (at most hourly); a failure is logged, never the request's."""
    try:
        deleted = state.retention.run_if_due()
    except Exception:
        log.exception("could not delete old suggestions (KEFU_RETENTION_DAYS)")
        return
    if deleted:
        log.info("deleted %d requests older than %d days (KEFU_RETENTION_DAYS)", deleted, state.retention.days)


def _package_version() -> str:
    try:
        return version("kefu")
    except PackageNotFoundError:
        return "unknown"


def build_router() -> APIRouter:
    router = APIRouter()
    agent = APIRouter(tags=["agent"], responses=_ERRORS)

    @agent.post(
        "/v1/suggest",
        response_model=None,
        responses={200: {"model": SuggestResponse}},
        summary="Suggest replies to the customer's latest message",
    )
    def suggest(body: SuggestRequest, request: Request, principal: Agent, state: State) -> JSONResponse:
        opts = body.options
        bot = _with_retrieval(
            state.holder.get(), k=opts.k or state.settings.k, mode=opts.retriever or state.settings.retriever
        )
        conversation = [t.model_dump() for t in body.conversation]
        result = bot.run(conversation=conversation, context=body.context)
        rid: str = request.state.request_id
        try:
            record_served(state.store, result, rid, conversation, agent_id=opts.agent_id, principal=principal.id)
        except Exception:  # the agent still gets the suggestions; their feedback will then be refused (404)
            log.exception("could not record the suggestions of request %s", rid)
        _purge(state)
        return JSONResponse({"request_id": rid, **result.to_dict()})

    @agent.post(
        "/v1/feedback",
        response_model=FeedbackRow,
        summary="Record what the agent did with a suggestion",
        description="Send each event with its own `X-Request-ID`: an event sent again with the same id (a retry "
        "after a lost response, on any replica) is stored once, and the stored event is returned.",
    )
    def feedback(body: FeedbackRequest, request: Request, principal: Agent, state: State) -> dict[str, Any]:
        final_text = body.final_text.strip() if body.final_text else None
        if body.action == "edited" and not final_text:
            raise ApiError(
                422,
                "invalid_request",
                "final_text: required when action is 'edited' (the reply the agent actually sent)",
            )
        try:
            return state.store.record_feedback(
                suggestion_id=body.suggestion_id,
                action=body.action,
                final_text=final_text,
                reason=body.reason,
                agent_id=body.agent_id,
                principal=principal.id,
                request_id=request.state.request_id,
            )
        except FeedbackLimitError as e:
            raise ApiError(429, "too_much_feedback", str(e)) from e
        except UnknownSuggestionError as e:
            raise ApiError(
                404,
                "unknown_suggestion",
                f"no suggestion with id {body.suggestion_id!r} for this key: use "
                "suggestions[].id from a /v1/suggest response this server gave to the same key",
            ) from e
        except ValueError as e:
            raise ApiError(422, "invalid_request", str(e)) from e

    @agent.get("/v1/search", response_model=list[SearchHit], summary="Retrieve knowledge-base passages")
    def search(
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=500,
                description="What a customer would ask",
                examples=["尺码偏小能退吗"],
            ),
        ],
        principal: Agent,
        state: State,
        k: Annotated[int, Query(ge=1, le=50, description="How many documents")] = 5,
    ) -> list[dict[str, object]]:
        if not q.strip():
            raise ApiError(
                422,
                "invalid_request",
                "q: the query is blank; type what a customer would ask, e.g. ?q=尺码偏小能退吗",
            )
        bot = state.holder.get()
        return [h.to_dict() for h in bot.retriever.run(query=q, k=k)]

    @agent.post("/v1/check", response_model=CheckResponse, summary="Run the reply rules on a text an agent wrote")
    def check(body: CheckRequest, principal: Agent, state: State) -> dict[str, Any]:
        bot = state.holder.get()
        turns = [Turn(t.role, t.text) for t in body.conversation or ()]
        return bot.check_reply(body.text, conversation=turns, context=body.context, sources=body.sources).to_dict()

    @router.get(
        "/healthz",
        tags=["ops"],
        response_model=Health,
        responses={503: {"model": Health}},
        summary="Liveness, the model and index being served, the store",
    )
    def healthz(state: State) -> JSONResponse:
        bot = state.holder.get()
        m = bot.index.manifest
        try:
            store_ok = bool(state.store.ping())
        except Exception:
            log.exception("store ping failed")
            store_ok = False
        reload = state.holder.status()
        body = {
            "status": "ok" if store_ok else "degraded",
            "version": _package_version(),
            "model": {
                "name": m.model_name,
                "id": m.model_id,
                "query_encoder": getattr(bot.index.embedder, "query_backend", None),
            },
            "index": {
                "generation": bot.index.generation,
                "n_chunks": m.n_chunks,
                "n_docs": len(m.documents),
                "created": m.created,
                "kb_fingerprint": m.kb_fingerprint,
                "dense_kind": m.dense_kind,
            },
            "kb": {"version": bot.kb.fingerprint, "n_published": bot.kb.n_published},
            "store": {"ok": store_ok},
            "reload": {
                "loaded_at": reload.loaded_at,
                "reloads": reload.reloads,
                "reloading": reload.reloading,
                "last_error": reload.last_error,
            },
            "auth": "open" if state.auth.open_mode else "keys",
        }
        return JSONResponse(body, status_code=200 if store_ok else 503)

    @router.get(
        "/readyz",
        tags=["ops"],
        response_model=Readiness,
        responses={503: {"model": Readiness}},
        summary="Whether this replica should get traffic: index loaded, database and shared store reachable",
    )
    def readyz(state: State) -> JSONResponse:
        checks = _readiness(state)
        ready = all(ok is not False for ok in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    router.include_router(agent)
    return router


def _readiness(state: ServiceState) -> dict[str, bool | None]:
    """Each dependency: True reachable, False not, None not configured."""
    try:
        database = bool(state.store.ping())
    except Exception:
        log.exception("store ping failed")
        database = False
    return {
        "index": state.holder.loaded,
        "database": database,
        "redis": state.limiter.reachable() if state.limiter.shared else None,
    }


def create_app(
    holder: AssistantHolder,
    store: FeedbackStore,
    settings: AssistantSettings | None = None,
    *,
    routers: Sequence[APIRouter] = (),
    mounts: Sequence[tuple[str, ASGIApp]] = (),
) -> FastAPI:
    """The service app.

    `routers` add endpoints (guard them with `deps.Editor` / `deps.require(role)`); `mounts` add
    sub-applications such as the sidebar's static files or the Gradio editor at /editor (or mount Gradio
    afterwards with `gr.mount_gradio_app(app, blocks, path="/editor")`). Mounted applications are not behind
    the API-key check or the API body limit: they handle their own access control. `app.state.kefu.holder`
    is the live assistant holder (`reload_now()` after an editor publish).
    """
    settings = settings or AssistantSettings()
    shared = redis_storage(settings.redis_url) if settings.redis_url else None
    state = ServiceState(
        holder=holder,
        store=store,
        settings=settings,
        auth=Authenticator(settings.api_keys),
        limiter=RateLimiter(settings.rate_limit_per_minute, name="requests", storage=shared),
        retention=Retention(store, days=settings.retention_days),
        failed_auth=RateLimiter(settings.failed_auth_per_minute, name="failed-auth", storage=shared),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if state.auth.open_mode:
            log.warning(OPEN_MODE_WARNING)
        bot = await anyio.to_thread.run_sync(holder.start)
        holder.watch()  # every replica picks up a new index generation within seconds, traffic or not
        await anyio.to_thread.run_sync(_purge, state)
        log.info(
            "serving index generation %s (%d chunks, model %s)",
            bot.index.generation,
            bot.index.manifest.n_chunks,
            bot.index.manifest.model_name,
        )
        yield
        holder.stop_watching()
        await anyio.to_thread.run_sync(holder.wait_idle, 10)
        relay.close()

    app = FastAPI(
        # No Swagger UI or ReDoc: they load their scripts from a CDN, dead offline and a third party in the
        # page; the schema at /openapi.json opens in any OpenAPI viewer.
        docs_url=None,
        redoc_url=None,
        title="Kefu",
        version=_package_version(),
        lifespan=lifespan,
        description="Reply suggestions for Chinese e-commerce customer service. Send the API key as "
        "`X-API-Key` (or `Authorization: Bearer`); `/healthz` needs none.",
    )
    relay = ChatwootRelay.from_settings(holder.get, store, settings.chatwoot)
    app.state.kefu = state
    app.state.chatwoot = relay
    _install_error_handlers(app)
    app.include_router(build_router())
    app.include_router(build_helpdesk_router())
    app.include_router(build_followup_router())
    for router in routers:
        app.include_router(router)
    for path, sub in mounts:
        app.mount(path, sub)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    add_browser_guards(
        app,
        allowed_origins=settings.allowed_origins,
        failures=state.failed_auth,
        login_path="/editor/login",
        allow_headers=("Content-Type", "X-API-Key", "Authorization", "X-Request-ID"),
        expose_headers=("X-Request-ID", "Retry-After"),
    )
    app.add_middleware(RequestContextMiddleware)  # outermost: every response, 413s included, has an id
    return app
