"""Domain errors raised by services, rendered by one handler as RFC 9457 problem details."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

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


_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
_PG_DETAIL = re.compile(r"Key \((?P<columns>[^)]*)\)=\((?P<value>.*)\) already exists")


def describe_integrity_error(exc: IntegrityError) -> tuple[str, list[str], str | None] | None:
    """(table, columns, value) of a unique-value collision, or None for any other integrity error."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is not None:  # PostgreSQL
        if getattr(orig, "sqlstate", None) != "23505" or not diag.table_name:
            return None
        match = _PG_DETAIL.search(diag.message_detail or "")
        if match is None:
            return diag.table_name, [diag.constraint_name or "value"], None
        columns = [c.strip() for c in match["columns"].split(",")]
        return diag.table_name, columns, match["value"] if len(columns) == 1 else None
    match = _SQLITE_UNIQUE.search(str(orig))
    if match is None:
        return None
    qualified = [part.strip().split(".", 1) for part in match[1].split(",")]
    return qualified[0][0], [column for _, column in qualified], None


async def _body_value(request: Request, column: str) -> str | None:
    """The value the request body gave `column` (SQLite does not say which value collided)."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        return None
    value = body.get(column) if isinstance(body, dict) else None
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _existing_id(request: Request, table: str, column: str, value: object) -> int | None:
    """The id of the record that already holds the value, when the table and column are the service's own."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None or value is None:
        return None
    from service.models import metadata

    known = metadata.tables
    if table not in known or column not in known[table].c or "id" not in known[table].c:
        return None
    t = known[table]
    try:
        with engine.connect() as conn:
            return conn.execute(select(t.c.id).where(t.c[column] == value).limit(1)).scalar()
    except Exception:  # a best-effort detail: the 409 stands without it
        log.debug("could not look up the record holding %s.%s", table, column, exc_info=True)
        return None


def _flat_routes(routes: list[Any]) -> list[Any]:
    """Every route, with those of included routers (which FastAPI may keep behind one entry) spelled out."""
    flat: list[Any] = []
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        flat.extend(contexts() if callable(contexts) else [route])
    return flat


def _method_not_allowed(request: Request) -> JSONResponse:
    """405 with an Allow header listing every method any route at this path accepts (Starlette names only one)."""
    allowed: set[str] = set()
    path = request.scope.get("path", "")
    for route in _flat_routes(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
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
        extra = dict(exc.extra)
        headers = extra.pop("headers", None)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            headers = {**(headers or {}), "Retry-After": str(retry_after)}
        return problem(exc.status, exc.title, exc.detail, code=exc.code, errors=exc.errors, headers=headers, **extra)

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
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        collision = describe_integrity_error(exc)
        if collision is None:
            return problem(
                409,
                "Conflict",
                "the change conflicts with existing data (a unique value is taken or a referenced record is gone)",
                code="integrity-conflict",
            )
        table, columns, value = collision
        if value is None and len(columns) == 1:
            value = await _body_value(request, columns[0])
        existing = _existing_id(request, table, columns[0], value) if len(columns) == 1 else None
        shown = f" {value!r}" if value is not None else ""
        taken_by = f" by {table} {existing}" if existing is not None else f" by another {table}"
        what = " and ".join(columns)
        errors = [
            {"field": f"body.{column}", "message": f"already used{taken_by}", "type": "unique-value-taken"}
            for column in columns
        ]
        extra: dict[str, Any] = {"record": table, "fields": columns}
        if existing is not None:
            extra["existing_id"] = existing
        return problem(
            409,
            "Conflict",
            f"{what}{shown} is already used{taken_by}; it must be unique",
            code="unique-value-taken",
            errors=errors,
            **extra,
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
