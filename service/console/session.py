"""The console's session: the API key in an HTTP-only cookie, a CSRF token, the language and one-shot messages.

The console talks to the API in-process over ASGI with the caller's own key, so every page shows exactly what the
REST API answers that party, and every change goes through the same route, validation and service function.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlmodel import Session
from starlette.responses import Response

from service.auth import Principal, authenticate
from service.errors import Unauthorized

KEY_COOKIE = "em_key"
CSRF_COOKIE = "em_csrf"
LANG_COOKIE = "em_lang"
FLASH_COOKIE = "em_flash"
COOKIE_PATH = "/console"
SESSION_SECONDS = 12 * 3600
API_BASE = "http://console.internal"


class ApiError(Exception):
    """A 4xx/5xx answer of the API, carrying its problem details."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title") or str(status))
        self.status = status
        self.problem = problem

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or self.status)

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors = self.problem.get("errors")
        return errors if isinstance(errors, list) else []


class Api:
    """The REST API called in-process with the signed-in party's key."""

    def __init__(self, request: Request, key: str) -> None:
        transport = httpx.ASGITransport(app=request.app, raise_app_exceptions=False)
        request_id = request.headers.get("x-request-id")
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        if request_id:
            headers["X-Request-ID"] = request_id
        self._client = httpx.AsyncClient(transport=transport, base_url=API_BASE, headers=headers, timeout=120)

    async def close(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; raises ApiError with the problem details on any error status."""
        if "params" in kwargs:
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v not in (None, "")}
        response = await self._client.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase, "detail": response.text[:500]}
            raise ApiError(response.status_code, problem if isinstance(problem, dict) else {"detail": str(problem)})
        if not response.content:
            return None
        return response.json()

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        if body is not None:
            kwargs["json"] = body
        return await self.call("POST", path, **kwargs)

    async def patch(self, path: str, body: Any) -> Any:
        return await self.call("PATCH", path, json=body)

    async def put(self, path: str, body: Any) -> Any:
        return await self.call("PUT", path, json=body)

    async def delete(self, path: str) -> Any:
        return await self.call("DELETE", path)


async def resolve_principal(request: Request, key: str) -> Principal | None:
    """The party a key stands for, by the API's own authentication; None for an unknown or revoked key."""

    if not key or len(key) > 512:
        return None
    db_session = Session(request.app.state.engine)
    try:
        return await authenticate(request, db_session, HTTPAuthorizationCredentials(scheme="Bearer", credentials=key))
    except Unauthorized:
        return None
    finally:
        await anyio.to_thread.run_sync(db_session.close)  # ends the key lookup's transaction: a round trip


def secure_cookies(request: Request) -> bool:
    """Secure cookies when the setting says so, else when the request came over HTTPS."""
    settings = getattr(request.app.state, "settings", None)
    setting = getattr(settings, "console_secure_cookies", None)
    return request.url.scheme == "https" if setting is None else bool(setting)


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    """Every console cookie: HTTP-only, SameSite=Strict, scoped to /console, Secure under HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure_cookies(request))


def csrf_token(request: Request) -> tuple[str, bool]:
    """The browser's CSRF token (double-submit cookie) and whether it is new and must be set."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) == 43 and token.replace("-", "").replace("_", "").isalnum():
        return token, False
    return secrets.token_urlsafe(32), True


def same_origin(request: Request) -> bool:
    """Refuse a form post whose Origin (or Referer) names another site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "")


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """The form carries the cookie's token and comes from this site."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not same_origin(request):
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


@dataclass(slots=True)
class Flash:
    """A message shown once on the next page."""

    kind: str  # ok | error
    text: str
    details: list[str] = field(default_factory=list)

    def encode(self) -> str:
        raw = json.dumps({"k": self.kind, "t": self.text, "d": self.details[:20]}, ensure_ascii=False)
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, value: str | None) -> Flash | None:
        if not value:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(value.encode()))
            return cls(kind=str(data["k"]), text=str(data["t"]), details=[str(d) for d in data.get("d", [])])
        except (ValueError, KeyError, TypeError):
            return None
