"""Real server and command-line subprocesses against the test database, killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import ADMIN_KEY

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXPERTMATCH_", "PROMETHEUS_"))}
    env.update(
        DATABASE_URL=database_url,
        EXPERTMATCH_ADMIN_KEY=ADMIN_KEY,
        EXPERTMATCH_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


class Server:
    """`expertmatch serve` in a subprocess on a free loopback port."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 240) -> Server:
        self.port = free_port()
        self.starts += 1
        log = (self.workdir / f"server-{self.starts}.log").open("wb")
        command = [sys.executable, "-m", "service.cli", "serve", "--no-demo", "--no-migrate"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        self.process = subprocess.Popen(
            command, cwd=self.workdir, env=child_env(self.database_url), stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready within {timeout} s: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def log_tail(self) -> str:
        logs = sorted(self.workdir.glob("server-*.log"))
        return logs[-1].read_text(errors="replace")[-3000:] if logs else ""


@pytest.fixture
def server(database_url: str, engine, tmp_path: Path) -> Iterator[Server]:
    running = Server(database_url, tmp_path)
    try:
        yield running
    finally:
        running.kill()
