"""What a browser may do across origins (CONTRACTS.md §6): the allow-list, and the editor login throttle.

A page on another site can make a visitor's browser send requests here, with the editor's login cookie.
The parent app therefore answers CORS itself, for the origins in KEFU_ALLOWED_ORIGINS only (which also
switches off Gradio's own CORS layer, which echoes any origin for a non-local host), and refuses a
state-changing request whose Origin is neither this site nor allowed:

>>> app.add_middleware(OriginGuardMiddleware, allowed=["https://helpdesk.example"])
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.service.ratelimit import RateLimiter, retry_after_header

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def origin_of(url: str) -> str:
    """The origin of a URL or origin, normalised: 'HTTPS://Help.Example:443/x' → 'https://help.example'."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.hostname:
        return url.strip().lower()
    default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}{port}"


def _host_port(netloc: str) -> tuple[str, int | None]:
    parts = urlsplit("//" + netloc)
    port = parts.port if parts.port not in (80, 443) else None
    return (parts.hostname or "").lower(), port


def same_origin(origin: str, host: str) -> bool:
    """Whether `origin` names the host the request was sent to (its Host header, port included).

    The scheme is not compared: behind a TLS proxy the app sees http while the browser says https.
    """
    try:
        named = _host_port(urlsplit(origin.strip()).netloc)
        given = _host_port(host.strip())
    except ValueError:  # a malformed port
        return False
    return bool(named[0]) and named == given


class OriginGuardMiddleware:
    """Refuses (403) a state-changing request or a websocket whose Origin header names another site that is
    not in `allowed`. Requests without an Origin (curl, servers, old browsers' same-site forms) pass."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = frozenset(origin_of(o) for o in allowed)

    def permits(self, headers: Headers) -> bool:
        origin = headers.get("origin")
        if origin is None:
            return True
        return same_origin(origin, headers.get("host", "")) or origin_of(origin) in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not self.permits(Headers(scope=scope)):
            await send({"type": "websocket.close", "code": 1008, "reason": "origin not allowed"})
            return
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or self.permits(Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        body = {
            "error": {
                "code": "forbidden_origin",
                "message": f"requests from {origin} are not allowed; add the origin to KEFU_ALLOWED_ORIGINS "
                "if pages there should call this service",
                "request_id": (scope.get("state") or {}).get("request_id"),
            }
        }
        raw = json.dumps(body, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": raw})


class LoginThrottleMiddleware:
    """Counts failed logins (HTTP 400/401 from POST `path`) per client IP in `failures`, and answers 429 to a
    client without failures left, before its password is looked at."""

    def __init__(self, app: ASGIApp, failures: RateLimiter, path: str = "/editor/login") -> None:
        self.app = app
        self.failures = failures
        self.paths = {path.rstrip("/"), path.rstrip("/") + "/"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        client = f"ip:{scope['client'][0] if scope.get('client') else '-'}"
        wait = self.failures.blocked(client)
        if wait is not None:
            raw = json.dumps({"detail": f"登录失败次数过多，请 {retry_after_header(wait)} 秒后再试"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"retry-after", retry_after_header(wait).encode()),
                        (b"content-length", str(len(raw)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": raw})
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (400, 401):
                self.failures.acquire(client)
            await send(message)

        await self.app(scope, receive, counting)


def add_browser_guards(
    app: Starlette,
    *,
    allowed_origins: Sequence[str],
    failures: RateLimiter,
    login_path: str,
    allow_headers: Sequence[str] = ("Content-Type",),
    expose_headers: Sequence[str] = (),
) -> None:
    """The guards every app with the editor needs: failed logins throttled at `login_path`, CORS answered for
    `allowed_origins` only (its presence also switches off the Gradio editor's own CORS layer, which echoes any
    origin with credentials when the host is not localhost), and state-changing calls from other sites refused."""
    app.add_middleware(LoginThrottleMiddleware, failures=failures, path=login_path)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[origin_of(o) for o in allowed_origins],
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=list(allow_headers),
        expose_headers=list(expose_headers),
    )
    app.add_middleware(OriginGuardMiddleware, allowed=allowed_origins)
