"""Domain errors raised by services, rendered by one handler as RFC 9457 problem details."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger("expertmatch.errors")

PROBLEM_TYPE_BASE = "https://expertmatch.example/problems/"


class DomainError(Exception):
    """Base of every error a service may raise; carries its HTTP status and a stable problem type."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.errors = errors or []
        self.extra = extra


class InvalidInput(DomainError):
    """A field is well-formed JSON but not acceptable (unknown reference, failed check)."""

    status, code, title = 422, "invalid-input", "Invalid input"

    @classmethod
    def field(cls, loc: str, message: str, *, code: str = "invalid-input") -> InvalidInput:
        """An error naming one bad field."""
        return cls(f"{loc}: {message}", code=code, errors=[{"field": loc, "message": message, "type": code}])


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    """A broken invariant or an illegal state change; `code` says which."""

    status, code, title = 409, "conflict", "Conflict"


class ServiceUnavailable(DomainError):
    """The worker cannot answer now (saturated, warming up); the client retries after `retry_after` seconds."""

    status, code, title = 503, "service-unavailable", "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int = 1, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, code=code, **extra)
        self.retry_after = max(1, int(retry_after))


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    code: str,
    errors: list | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The one error shape."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid"))
        loc = err.get("loc", ())
        if err.get("type") == "json_invalid":
            # FastAPI puts the character position in `loc`; the field is the whole body.
            position = loc[-1] if len(loc) > 1 else 0
            message = f"malformed JSON at character {position}: {err.get('ctx', {}).get('error', message)}"
            loc = ("body",)
        out.append({"field": _loc(loc), "message": message, "type": err.get("type", "invalid")})
    return out


def _method_not_allowed(request: Request) -> JSONResponse:
    """405 with an Allow header listing every method any route at this path accepts (Starlette names only one)."""
    allowed: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            allowed |= set(getattr(route, "methods", None) or ())
    if "GET" in allowed:
        allowed.add("HEAD")
    return problem(
        405,
        "Method not allowed",
        f"{request.method} is not supported here",
        code="http-405",
        headers={"Allow": ", ".join(sorted(allowed))},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, expected or not, as problem details."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return problem(
            exc.status, exc.title, exc.detail, code=exc.code, errors=exc.errors, headers=headers, **exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        fields = ", ".join(e["field"] for e in errors)
        return problem(422, "Invalid input", f"invalid fields: {fields}", code="validation-error", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return _method_not_allowed(request)
        titles = {
            400: "Bad request",
            404: "Not found",
            405: "Method not allowed",
            401: "Unauthorized",
            403: "Forbidden",
        }
        return problem(
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            str(exc.detail),
            code=f"http-{exc.status_code}",
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        return problem(
            409,
            "Conflict",
            "the record was changed by someone else; read it again and retry",
            code="concurrent-update",
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return problem(
            409,
            "Conflict",
            "the change conflicts with existing data (a unique value is taken or a referenced record is gone)",
            code="integrity-conflict",
        )

    @app.exception_handler(OperationalError)
    async def _operational(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.orig)
        return problem(
            503,
            "Service unavailable",
            "the database is unavailable; retry shortly",
            code="database-unavailable",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(PoolTimeoutError)
    async def _pool_exhausted(_: Request, exc: PoolTimeoutError) -> JSONResponse:
        # Every pooled connection stayed busy for db_pool_timeout_s: load, not a fault of the request.
        log.warning("database connection pool exhausted: %s", exc)
        return problem(
            503,
            "Service unavailable",
            "every database connection of this worker is busy; retry shortly",
            code="database-busy",
            headers={"Retry-After": "1"},
        )


class ProblemDetails(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, Any]] | None = None


problem_responses: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemDetails, "description": description, "content": {"application/problem+json": {}}}
    for status, description in (
        (400, "a body that cannot be parsed"),
        (401, "no valid API key"),
        (403, "another party's data"),
        (404, "no such record"),
        (409, "a broken invariant or an illegal state change"),
        (422, "invalid fields, each named"),
        (503, "overloaded, warming up or database unavailable: retry after the Retry-After seconds"),
    )
}
