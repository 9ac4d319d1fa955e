"""Bounded admission for heavy routes: a saturated worker answers 503 with Retry-After at once, never a 500.

Heavy routes (ranked suggestions, programme assignments) cost milliseconds to seconds of CPU. Each worker lets
`heavy_concurrency` of them compute at once and `heavy_queue` more wait for a turn, each for at most
`heavy_queue_timeout_s`; a request beyond that, or one whose wait runs out, is answered 503 with a problem body and
`Retry-After`. The gate sits in front of authentication and every database access, so a flood costs the worker a
few microseconds per refused request on the event loop, holds no database connection and no thread, and leaves the
thread pool to the light routes; `/healthz` is `async` and never waits behind ranking.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from service.config import get_settings

# (method, path) of the routes that rank or solve; everything else is light and passes straight through.
HEAVY_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("GET", re.compile(r"^/(demands|experts)/[^/]+/suggestions/?$")),
    ("POST", re.compile(r"^/assignments/?$")),
)


def is_heavy(method: str, path: str) -> bool:
    """True for a request to a route that ranks or solves."""
    return any(method == m and pattern.match(path) for m, pattern in HEAVY_ROUTES)


@dataclass(slots=True)
class AdmissionStats:
    """What the gate did in this worker (tests and logs)."""

    admitted: int = 0
    rejected_full: int = 0
    rejected_timeout: int = 0


class Admission:
    """One worker's gate: `concurrency` running, at most `queue` waiting, each wait bounded."""

    def __init__(self, concurrency: int, queue: int, timeout: float) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.timeout = timeout
        self.stats = AdmissionStats()
        self._running = asyncio.Semaphore(concurrency)
        self._in_flight = 0  # running plus waiting
        self._service_time = 0.05  # moving average of one heavy request's duration, for Retry-After

    def retry_after(self) -> int:
        """Seconds until the queue in front of a new request has drained, at the recent pace (1..30)."""
        rounds = (self._in_flight + 1) / self.concurrency
        return max(1, min(30, math.ceil(rounds * self._service_time)))

    async def __call__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        if self._in_flight >= self.concurrency + self.queue:
            self.stats.rejected_full += 1
            await _refuse(send, "this worker is busy with other heavy requests", self.retry_after())
            return
        self._in_flight += 1
        try:
            try:
                await asyncio.wait_for(self._running.acquire(), self.timeout)
            except TimeoutError:
                self.stats.rejected_timeout += 1
                await _refuse(send, f"no turn within {self.timeout:g} s: this worker is saturated", self.retry_after())
                return
            self.stats.admitted += 1
            started = time.perf_counter()
            try:
                await app(scope, receive, send)
            finally:
                self._running.release()
                self._service_time += 0.2 * (time.perf_counter() - started - self._service_time)
        finally:
            self._in_flight -= 1


async def _refuse(send: Send, detail: str, retry_after: int) -> None:
    body = json.dumps(
        {
            "type": "https://expertmatch.example/problems/overloaded",
            "title": "Service unavailable",
            "status": 503,
            "detail": f"{detail}; retry after {retry_after} s",
            "code": "overloaded",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", b"%d" % len(body)),
                (b"retry-after", b"%d" % retry_after),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AdmissionMiddleware:
    """Route heavy requests through the worker's gate (built on first use from the app's settings)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gate: Admission | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_heavy(scope.get("method", ""), scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if self.gate is None or self._loop is not loop:  # a test client may run each request on a new loop
            settings = getattr(scope["app"].state, "settings", None) or get_settings()
            self._loop = loop
            self.gate = Admission(settings.heavy_concurrency, settings.heavy_queue, settings.heavy_queue_timeout_s)
            scope["app"].state.admission = self.gate
        await self.gate(self.app, scope, receive, send)
