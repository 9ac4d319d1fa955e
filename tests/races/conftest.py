"""A real server for race tests: uvicorn in a subprocess on a free loopback port, over the session's test database.

PostgreSQL runs two worker processes (races across processes and connections); SQLite one worker whose thread pool
runs requests concurrently (SQLite serialises writers with BEGIN IMMEDIATE).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND
from tests.factories import ADMIN, ADMIN_KEY, bearer, demand_body, enterprise_body, expert_body

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2 if BACKEND == "postgres" else 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running `uvicorn service.main:app` on the test database."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server") / "uvicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "EXPERTMATCH_ADMIN_KEY": ADMIN_KEY,
        "EXPERTMATCH_LOG_LEVEL": "WARNING",
    }
    env.pop("EXPERTMATCH_DATABASE_URL", None)
    command = [
        sys.executable, "-m", "uvicorn", "service.main:app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_ready(base_url: str, process: subprocess.Popen, log_path: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the server was not ready within {timeout}s:\n{log_path.read_text(errors='replace')}")


class Remote:
    """Administrator shortcuts against the live server, and one httpx client per thread for the race itself."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.admin = httpx.Client(base_url=base_url, headers=ADMIN, timeout=60)
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        self.admin.close()
        for client in self._clients:
            client.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.admin.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def enterprise(self, **overrides: Any) -> dict[str, Any]:
        return self._post("/enterprises", enterprise_body(**overrides))

    def demand(self, enterprise_id: int, **overrides: Any) -> dict[str, Any]:
        return self._post("/demands", demand_body(enterprise_id, **overrides))

    def expert(self, **overrides: Any) -> dict[str, Any]:
        return self._post("/experts", expert_body(**overrides))

    def headers(self, role: str, **ids: int) -> dict[str, str]:
        return bearer(self._post("/keys", {"role": role, **ids})["key"])

    def client(self) -> httpx.Client:
        """This thread's own client (connections are not shared between threads)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(base_url=self.base_url, timeout=60)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client


@pytest.fixture
def remote(live_server: str, engine) -> Iterator[Remote]:  # type: ignore[no-untyped-def]
    """Shortcuts against the live server; requesting `engine` empties the database first."""
    remote = Remote(live_server)
    yield remote
    remote.close()
