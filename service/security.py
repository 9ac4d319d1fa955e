"""Abuse of keys and of browsers: failed authentications throttled per client, security headers on every answer."""

from __future__ import annotations

import math
import time
from typing import Any

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings
from service.errors import DomainError


class TooManyFailures(DomainError):
    """The client sent too many wrong keys: it waits before any key of theirs is looked at again."""

    status, code, title = 429, "too-many-failed-authentications", "Too many requests"


class AuthThrottle:
    """Failed authentications per client address in a moving window (one per worker process, in memory)."""

    def __init__(self, *, limit: int, window_s: int) -> None:
        self.limit = limit
        self.window_s = window_s
        self._item = RateLimitItemPerSecond(max(limit, 1), window_s)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthThrottle:
        return cls(limit=settings.auth_failure_limit, window_s=settings.auth_failure_window_s)

    def check(self, client: str) -> None:
        """Raise 429 with Retry-After while `client` has used up its failures."""
        if self.limit <= 0 or self._limiter.test(self._item, client):
            return
        reset_at, _ = self._limiter.get_window_stats(self._item, client)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise TooManyFailures(
            f"too many failed authentications from this client; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )

    def failed(self, client: str) -> None:
        """Count one failed authentication of `client`."""
        if self.limit > 0:
            self._limiter.hit(self._item, client)


def client_of(request: Request) -> str:
    """The client address the throttle counts by (the proxy's when behind one: see the README)."""
    return request.client.host if request.client else "unknown"


def throttle_of(request: Request) -> AuthThrottle:
    """This application's throttle, built from its settings on first use."""
    state: Any = request.app.state
    throttle = getattr(state, "auth_throttle", None)
    if throttle is None:
        throttle = state.auth_throttle = AuthThrottle.from_settings(state.settings)
    return throttle


SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeadersMiddleware:
    """Add the security headers to every answer, and `Cache-Control: no-store` to answers to a request with a key."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        authenticated = any(name == b"authorization" for name, _ in scope.get("headers", ()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    if name.decode() not in headers:
                        headers.append(name.decode(), value.decode())
                if authenticated:
                    # Answers to a keyed request may carry personal data: no cache (browser or proxy) keeps them.
                    headers["cache-control"] = "no-store"
                    headers.append("vary", "Authorization")
            await send(message)

        await self.app(scope, receive, send_with_headers)
