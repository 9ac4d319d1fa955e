"""/readyz answers 503 while the database is unreachable and recovers by itself when it is back."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from service.config import Settings
from service.main import create_app
from service.migrate import upgrade
from tests.conftest import BACKEND, PG_SERVER_URL
from tests.factories import ADMIN, ADMIN_KEY
from tests.observability.tcp_proxy import TcpProxy


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition()` held; fails after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture
def pg_database() -> Iterator[URL]:
    """A migrated throw-away PostgreSQL database (whatever the backend under test: the proxy needs TCP)."""
    # No pool: a pooled connection would be dead after the real stop-and-start test below.
    server = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with server.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means there is no server to test against
        server.dispose()
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    name = f"em_ready_{uuid.uuid4().hex[:8]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_SERVER_URL).set(database=name)
    try:
        upgrade(url.render_as_string(hide_password=False))
        yield url
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_readyz_is_503_while_the_database_is_cut_off_and_recovers_by_itself(pg_database: URL) -> None:
    proxy = TcpProxy((pg_database.host or "127.0.0.1", pg_database.port or 5432)).start()
    url = pg_database.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(database_url=url, admin_key=ADMIN_KEY, log_json=False, _env_file=None)
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            assert client.get("/readyz").status_code == 200
            assert client.get("/healthz").status_code == 200

            proxy.stop()
            started = time.monotonic()
            response = client.get("/readyz")
            assert response.status_code == 503
            assert time.monotonic() - started < 6  # refused at once, or the 5 s connect timeout at worst
            assert response.json()["status"] == "unavailable"
            assert client.get("/healthz").status_code == 200  # liveness does not depend on the database
            outage = client.get("/experts", headers=ADMIN)
            assert outage.status_code == 503 and outage.json()["code"] == "database-unavailable"

            proxy.start()  # same port
            wait_for(lambda: client.get("/readyz").status_code == 200, timeout=15)
            assert client.get("/experts", headers=ADMIN).status_code != 503
    finally:
        proxy.stop()


def test_readyz_is_503_when_nothing_listens_at_the_database_address(settings, engine) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        ours = client.app.state.engine
        client.app.state.engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:9/none")
        try:
            response = client.get("/readyz")
        finally:
            client.app.state.engine.dispose()
            client.app.state.engine = ours
    assert response.status_code == 503 and response.json()["database"] == "OperationalError"


def _pg_ctl(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            version,
            "main",
            action,
            *(["-m", "fast"] if action == "stop" else []),
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )


@pytest.mark.slow
@pytest.mark.skipif(
    BACKEND != "postgres" or os.environ.get("EXPERTMATCH_TEST_PG_STOP") != "1" or not Path("/etc/postgresql").is_dir(),
    reason="stops the local PostgreSQL server: only with EXPERTMATCH_TEST_DB=postgres EXPERTMATCH_TEST_PG_STOP=1",
)
def test_readyz_follows_a_real_postgresql_stop_and_start(pg_database: URL) -> None:
    """Really stops the server (disturbing every other PostgreSQL test for a few seconds), always restarting it.

    Run it alone: EXPERTMATCH_TEST_DB=postgres EXPERTMATCH_TEST_PG_STOP=1 pytest tests/observability -k real -s
    """
    url = pg_database.render_as_string(hide_password=False)
    settings = Settings(database_url=url, admin_key=ADMIN_KEY, log_json=False, _env_file=None)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        try:
            _pg_ctl("stop")
            stopped = time.monotonic()
            assert client.get("/readyz").status_code == 503
        finally:
            _pg_ctl("start")
            outage = time.monotonic() - stopped
        recovered = wait_for(lambda: client.get("/readyz").status_code == 200, timeout=30)
        print(f"outage {outage:.1f} s; /readyz back {recovered:.1f} s after the restart")
        assert outage <= 5
