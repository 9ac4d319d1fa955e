"""Operations: Prometheus metrics, structured (JSON) logs, and a request id carried by every log line.

Metrics. `/metrics` answers in the Prometheus text format. With several uvicorn workers each process keeps its own
counters, so set `PROMETHEUS_MULTIPROC_DIR` to an empty directory writable by every worker (the environment variable
must be set before the workers start; `expertmatch serve` empties it at start-up, and docker-compose mounts a tmpfs):
`/metrics` then adds up the figures of all workers. Without it, each worker answers for itself.

Workflows feed these (import them from here; no labels, so `.observe(seconds)` / `.set(n)` is the whole API):
`suggestion_latency_seconds`, `matcher_index_size`, `matcher_refresh_seconds`, `assignment_solve_seconds`,
`round_solve_seconds` (exported with the `expertmatch_` prefix).

Logs. One JSON object per line (`time, level, logger, message, request_id`, and for the access line of each request
`method, path, route, status, duration_ms`), or a readable text line when `EXPERTMATCH_LOG_JSON=false`. The request id
comes from the `X-Request-ID` header when it is a sane token, or is generated, and is echoed in the response.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import traceback
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NAMESPACE = "expertmatch"
REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is honoured only when it is a short, log-safe token (no spaces, quotes or control characters).
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-/+=@]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# --- metrics ------------------------------------------------------------------------------------------------------

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SOLVE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

http_requests_total = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    namespace=NAMESPACE,
)
http_request_duration_seconds = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ["method", "route", "status"],
    namespace=NAMESPACE,
    buckets=_LATENCY_BUCKETS,
)
http_requests_in_progress = Gauge(
    "http_requests_in_progress",
    "HTTP requests being answered.",
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)

# Fed by the matching and workflow code.
suggestion_latency_seconds = Histogram(
    "suggestion_latency_seconds",
    "Time to compute one page of suggestions (for a demand or for a specialist).",
    namespace=NAMESPACE,
    buckets=_LATENCY_BUCKETS,
)
matcher_index_size = Gauge(
    "matcher_index_size",
    "Records (specialists plus demands) in this worker's in-memory matching index.",
    namespace=NAMESPACE,
    multiprocess_mode="livemax",
)
matcher_refresh_seconds = Histogram(
    "matcher_refresh_seconds",
    "Time to bring the in-memory matching index up to date with the change log.",
    namespace=NAMESPACE,
    buckets=_LATENCY_BUCKETS,
)
assignment_solve_seconds = Histogram(
    "assignment_solve_seconds",
    "Time to solve one programme assignment.",
    namespace=NAMESPACE,
    buckets=_SOLVE_BUCKETS,
)
round_solve_seconds = Histogram(
    "round_solve_seconds",
    "Time to compute the stable matching when a round closes.",
    namespace=NAMESPACE,
    buckets=_SOLVE_BUCKETS,
)

WORKFLOW_METRICS = (
    suggestion_latency_seconds,
    matcher_index_size,
    matcher_refresh_seconds,
    assignment_solve_seconds,
    round_solve_seconds,
)


def metrics_registry() -> CollectorRegistry:
    """The registry to expose: this process's, or every worker's when multiprocess mode is on."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


router = APIRouter()


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"}},
)
def metrics() -> Response:
    """Prometheus metrics: request counts and latencies by route, and the matcher's and solvers' figures."""
    return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)


# --- request id and access log --------------------------------------------------------------------------------------

access_log = logging.getLogger("expertmatch.access")


def _request_id_from(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _route_template(scope: Scope) -> str:
    # FastAPI (>= 0.12x) keeps included routers nested and records the full template of the matched route here;
    # Starlette's `route` holds only the innermost router's part. Unmatched paths share one label (bounded cardinality).
    fastapi_scope = scope.get("fastapi")
    context = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    path = getattr(context, "path", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else "<unmatched>"


class ObservabilityMiddleware:
    """Sets the request id, echoes it, counts and times the request, and writes one access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id_from(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        header = (REQUEST_ID_HEADER.lower().encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        http_requests_in_progress.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = 500
            access_log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if not response_started:
                # The same problem shape as every other error, and the request id to quote when reporting it.
                body = json.dumps(
                    {
                        "type": "https://expertmatch.example/problems/internal-error",
                        "title": "Internal server error",
                        "status": 500,
                        "detail": f"an unexpected error occurred; quote request id {request_id}",
                        "code": "internal-error",
                    }
                ).encode()
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/problem+json"),
                            (b"content-length", b"%d" % len(body)),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
            raise
        finally:
            http_requests_in_progress.dec()
            elapsed = time.perf_counter() - started
            method = scope.get("method", "")
            route = _route_template(scope)
            labels = (method, route, str(status))
            http_requests_total.labels(*labels).inc()
            http_request_duration_seconds.labels(*labels).observe(elapsed)
            access_log.info(
                "%s %s %s",
                method,
                scope.get("path", ""),
                status,
                extra={
                    "method": method,
                    "path": scope.get("path", ""),
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)


# --- logging ------------------------------------------------------------------------------------------------------

_EXTRA_FIELDS = ("method", "path", "route", "status", "duration_ms")


class RequestIdFilter(logging.Filter):
    """Stamp every record with the current request id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc_info"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """A readable line for a terminal, still with the request id."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.request_id = request_id or "-"
        try:
            return super().format(record)
        finally:
            record.request_id = request_id


class _CurrentStderr:
    """Whatever `sys.stderr` is at the time of writing (test runners swap it between tests)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(settings: Settings, *, stream: Any = None) -> logging.Handler:
    """Install (once; again replaces it) the service's log handler on the root logger, per `log_json`/`log_level`."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        # Ours are the handlers that stamp request ids (also those uvicorn built from `log_config`).
        if any(isinstance(f, RequestIdFilter) for f in existing.filters):
            root.removeHandler(existing)
    handler = logging.StreamHandler(stream or _CurrentStderr())
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    root.addHandler(handler)
    level = logging.getLevelName(settings.log_level.upper())
    root.setLevel(level if isinstance(level, int) else logging.INFO)
    # uvicorn's own loggers go through the same handler (its access log is replaced by ours: see `serve`).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uv = logging.getLogger(name)
        uv.handlers = []
        uv.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    return handler


def log_config(settings: Settings) -> dict[str, Any]:
    """The same set-up as a `logging.config.dictConfig` dict, for uvicorn to apply in every worker process."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": {"()": JsonFormatter if settings.log_json else TextFormatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": settings.log_level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # Replaced by the access line of ObservabilityMiddleware, which carries the request id.
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


def install_observability(app: FastAPI) -> None:
    """Add the request-id/metrics/access-log middleware."""
    app.add_middleware(ObservabilityMiddleware)
