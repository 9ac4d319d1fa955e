"""The ASGI application `service.main:app`: settings, engine and matcher are built in the lifespan."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from service.admission import AdmissionMiddleware
from service.api import OPENAPI_TAGS, api_router
from service.config import Settings, get_settings
from service.console import install_console
from service.db import make_engine
from service.docs import install_docs
from service.errors import install_error_handlers
from service.observability import configure_logging, install_observability
from service.openapi import install_openapi
from service.security import SecurityHeadersMiddleware
from service.suggestions.live import LiveMatcher, explainer_for, matcher_factory
from service.webhooks.worker import DeliveryWorker

log = logging.getLogger("expertmatch.matcher")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; `settings` overrides the environment (tests point it elsewhere)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # An embedding application (or a test) may wire its own settings and engine in before start-up.
        owns_engine = not hasattr(app.state, "engine")
        if owns_engine:
            app.state.settings = settings or get_settings()
            app.state.engine = make_engine(app.state.settings)
        settings_now = getattr(app.state, "settings", None) or get_settings()
        configure_logging(settings_now)
        # Ranking threads hold the GIL for long stretches; a 1 ms switch interval (not 5) lets the event loop
        # (/healthz, admission refusals) take its turn within about a millisecond.
        sys.setswitchinterval(0.001)
        # One matcher per worker process: the one its supervisor built before forking it (SharedIndex), else built
        # in a background thread: the worker answers /healthz at once and suggestion requests wait (bounded) or
        # answer 503 `index-warming` until it holds every record.
        owns_matcher = not hasattr(app.state, "matcher")
        if owns_matcher:
            app.state.matcher = LiveMatcher(
                app.state.engine,
                cache_bytes=settings_now.suggestion_cache_mib * 2**20,
                factory=matcher_factory(settings_now),
            ).start(seed=getattr(app.state, "shared_index", None))
        # The webhook worker (SPEC §7.5): one per process; the rows it claims keep several from colliding.
        worker = None
        if settings_now.webhook_worker:
            worker = DeliveryWorker(
                app.state.engine, settings_now, explain=lambda db_session: explainer_for(app, db_session)
            ).start()
        try:
            yield
        finally:
            if worker is not None:
                await anyio.to_thread.run_sync(worker.stop)
            if owns_matcher:
                app.state.matcher.close()
                del app.state.matcher
            if owns_engine:
                app.state.engine.dispose()
                del app.state.engine

    app = FastAPI(
        title="expertmatch",
        version="0.1.0",
        summary="Match technology specialists to enterprises' technical demands",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_tags=OPENAPI_TAGS,
    )
    install_error_handlers(app)
    app.add_middleware(AdmissionMiddleware)  # inside the observability middleware: refusals are counted and logged
    install_observability(app)
    # Outermost, so that every answer carries the headers, errors and probes included.
    app.add_middleware(SecurityHeadersMiddleware)
    app.include_router(api_router)
    install_openapi(app)
    install_docs(app)
    install_console(app)
    return app


class SharedIndex:
    """The index a supervisor builds once for the workers it forks next (`service.workers.run_uvicorn`)."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app, self.settings = app, settings

    def build(self) -> bool:
        """Fit the matcher on the database as it is now and hold it for the next workers; False (the state held
        before, if any, is kept) when the database cannot be read: workers forked then build their own."""
        engine = make_engine(self.settings)
        try:
            live = LiveMatcher(engine, factory=matcher_factory(self.settings)).build_or_defer()
        finally:
            engine.dispose()  # no connection may cross the fork
        state = live.shareable_state()
        if state is None:
            return False
        if state.matcher is not None:
            state.matcher.warm_up()  # compiled once here, not once per worker
        if state.matcher is not None and self.settings.prepare_explanations:
            # every specialist's explanation data worked out once here and shared, not on each worker's first
            # question about them; in this process (no tokenising pool: a lost child would leave the supervisor
            # waiting, and never serving, for good)
            started = time.perf_counter()
            prepared = state.matcher.prepare_explanations(n_jobs=1)
            log.info(
                "explanation data prepared for the workers",
                extra={"experts": prepared, "seconds": round(time.perf_counter() - started, 2)},
            )
        self.app.state.shared_index = state
        return True


app = create_app()
