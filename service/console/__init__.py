"""The web console at /console (SPEC §9): server-rendered pages over the REST API, in Chinese and English."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def install_console(app: FastAPI) -> None:
    """Mount the console's pages and its static assets (everything ships with the package)."""
    from service.console.routes import install_console_handlers, router

    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(router, prefix="/console")
    install_console_handlers(app)
