"""Test set-up: one migrated database per test session (SQLite or PostgreSQL), emptied before every test.

Choose the database with EXPERTMATCH_TEST_DB=sqlite|postgres. PostgreSQL tests use a throw-away database
created on EXPERTMATCH_TEST_PG_URL's server; under CI=true an unreachable server fails the run.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from service.config import Settings
from service.db import make_engine
from service.main import create_app
from service.migrate import upgrade
from service.models import metadata
from tests.factories import ADMIN_KEY, Api

BACKEND = os.environ.get("EXPERTMATCH_TEST_DB", "sqlite")
PG_SERVER_URL = os.environ.get("EXPERTMATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Under CI every property-based test draws the same examples on every run (Hypothesis's derandomize), so a red run
# is reproducible and a landing is never refused by a roll of the dice; locally the draws are fresh each run, which
# is where new counter-examples are found (they are then pinned as plain tests in tests/hardening).
hypothesis.settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis.settings.register_profile("explore", print_blob=True)
hypothesis.settings.load_profile(os.environ.get("EXPERTMATCH_HYPOTHESIS_PROFILE", "ci" if IN_CI else "explore"))


def pytest_report_header(config: pytest.Config) -> str:
    return f"expertmatch database backend: {BACKEND}"


def _postgres_database(worker: str) -> Iterator[str]:
    # No pool: a test that restarts the server must not leave a dead pooled connection for the final DROP.
    server = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with server.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        message = f"PostgreSQL unreachable at {PG_SERVER_URL}: {exc}"
        if IN_CI:
            pytest.exit(message, returncode=3)
        pytest.skip(message)
    name = f"em_test_{worker}_{uuid.uuid4().hex[:8]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    """A freshly migrated database for this test session."""
    if BACKEND == "postgres":
        gen = _postgres_database(worker_id)
        url = next(gen)
        upgrade(url)
        yield url
        gen.close()
        return
    path: Path = tmp_path_factory.mktemp("db") / "expertmatch.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # No webhook worker thread in every test app: webhook tests run one on purpose. A generous connect timeout:
    # on a loaded CI box the local server once took over 5 s to accept, failing an unrelated test's set-up.
    return Settings(
        database_url=database_url,
        admin_key=ADMIN_KEY,
        log_json=False,
        webhook_worker=False,
        db_connect_timeout_s=30,
        _env_file=None,
    )


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


def empty_database(engine: Engine) -> None:
    """Remove every row and reset id sequences, keeping the migrated schema."""
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    if engine.dialect.name == "postgresql":
        _truncate(engine, tables)
        return
    with engine.begin() as conn:
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))
        if _has_sqlite_sequence(conn):
            conn.execute(text("DELETE FROM sqlite_sequence"))


DEADLOCK, LOCK_TIMEOUT = "40P01", "55P03"


def _truncate(engine: Engine, tables: list[str], attempts: int = 5) -> None:
    """TRUNCATE every table; a straggler of the previous test (a server process being killed, a build thread
    finishing its read) may still hold a table, so a deadlock is retried and a holder past the timeout ended."""
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '10s'"))
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            return
        except OperationalError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if code not in {DEADLOCK, LOCK_TIMEOUT} or attempt == attempts - 1:
                raise
            warnings.warn(f"emptying the test database: {code} from a straggler; retrying", stacklevel=2)
            if code == LOCK_TIMEOUT:
                with engine.begin() as conn:
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND pid <> pg_backend_pid() AND state <> 'idle'"
                        )
                    )
            time.sleep(0.1 * (attempt + 1))


def _has_sqlite_sequence(conn) -> bool:  # type: ignore[no-untyped-def]
    return conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() is not None


@pytest.fixture(autouse=True)
def _isolated(request: pytest.FixtureRequest) -> None:
    """Every test that touches the database starts from an empty one."""
    if {"engine", "client", "api", "settings", "app"} & set(request.fixturenames):
        empty_database(request.getfixturevalue("engine"))


@pytest.fixture
def app(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """An HTTP client without credentials."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    """Helpers that create records as an administrator and mint keys for parties."""
    return Api(client)
