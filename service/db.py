"""Engine construction and the one database-session dependency."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from service.config import Settings


def _json_dumps(value: object) -> str:
    # Keep Chinese readable in JSON columns so `q` searches over them match.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def make_engine(settings: Settings) -> Engine:
    """Build the engine for the configured database, with per-dialect safety settings."""
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            json_serializer=_json_dumps,
            connect_args={"check_same_thread": False, "timeout": 30, "isolation_level": None},
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        json_serializer=_json_dumps,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_s,
        connect_args={
            "connect_timeout": settings.db_connect_timeout_s,
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
        },
    )


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL, and BEGIN IMMEDIATE so concurrent writers queue instead of failing mid-way."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, bound to the engine the lifespan built.

    Made on the event loop, which costs nothing (a session opens no connection until it is used), rather than in a
    worker thread as a sync dependency would be: two thread hand-offs a request saved. Closing ends a transaction
    still open, a database round trip, so that runs in a thread of its own (shielded from cancellation, and outside
    the thread pool's limit so that it never waits behind requests that wait for a connection).
    """
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]
