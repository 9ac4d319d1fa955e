"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter()

READY_WAIT_S = 1.0  # how long /readyz waits for a warming index before saying so


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up; touches no database and no thread: it answers on the event loop, never behind ranking."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "database unreachable, or the suggestion index warming"}})
def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers a trivial query and this worker's suggestion index holds every record."""
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means not ready
        return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
    live = getattr(request.app.state, "matcher", None)
    if live is not None and not live.wait_warm(READY_WAIT_S):
        return JSONResponse(
            {"status": "warming", "database": "ok", "matcher": "warming"},
            status_code=503,
            headers={"Retry-After": str(live.retry_after())},
        )
    return JSONResponse({"status": "ok", "database": "ok", "matcher": "ok"})
