"""Worker defaults follow the machine, and a worker that dies is logged with the reason before it is replaced."""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.config import Settings
from service.workers import default_workers, exit_reason, usable_cores

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_is_one_worker_on_sqlite_and_one_per_core_up_to_four_on_postgresql() -> None:
    assert default_workers(sqlite=True) == 1
    assert default_workers(sqlite=False) == min(4, usable_cores())
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
    sqlite = Settings(_env_file=None, database_url="sqlite:///x.db")
    postgres = Settings(_env_file=None, database_url="postgresql://u@h/d")
    assert sqlite.effective_workers == 1 and postgres.effective_workers == min(4, usable_cores())


@pytest.mark.parametrize("blank", ["", " ", "auto"])
def test_a_blank_workers_setting_means_the_default(blank: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPERTMATCH_WORKERS", blank)
    assert Settings(_env_file=None).workers is None
    monkeypatch.setenv("EXPERTMATCH_WORKERS", "3")
    assert Settings(_env_file=None).effective_workers == 3


FREED_HEAP = """
import os
from service.heap import release_free_heap
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
blocks = [bytearray(64 * 1024) for _ in range(3000)]  # 187.5 MiB from the C heap (below its mmap threshold)
last = blocks[-1]  # kept: the heap's top stays in use, so only a trim can give the rest back
del blocks
before = rss()
released = release_free_heap()
print(released, before, rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_free_heap_gives_freed_heap_pages_back_to_the_kernel() -> None:
    out = subprocess.run([sys.executable, "-c", FREED_HEAP], cwd=ROOT, capture_output=True, text=True, check=True)
    released, before, after = out.stdout.split()
    assert released == "True"
    assert int(before) - int(after) > 150 * 2**20  # most of the 187.5 MiB freed


MAPPED_BLOCKS = """
import os
import numpy as np
from service.heap import large_blocks_mapped
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
def churn():
    kept, freed = [], []
    for i in range(200):  # 2 MiB blocks, written, every other one freed: the heap cannot shrink around the live ones
        (kept if i % 2 else freed).append(np.ones(2 << 20, np.uint8))
    before = rss()
    freed.clear()
    return before - rss()
big = np.ones(8 << 20, np.uint8)
del big  # a freed 8 MiB mapping raises glibc's threshold: 2 MiB blocks now come from the heap
plain = churn()
with large_blocks_mapped():
    mapped = churn()
print(plain, mapped)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_blocks_freed_during_a_build_go_back_to_the_kernel_at_once() -> None:
    out = subprocess.run([sys.executable, "-c", MAPPED_BLOCKS], cwd=ROOT, capture_output=True, text=True, check=True)
    plain, mapped = (int(x) for x in out.stdout.split())
    assert mapped > 150 * 2**20  # most of the 200 MiB freed inside the build gave its pages back
    assert plain < 50 * 2**20  # without it the same frees stay resident: what made a build's peak


def test_exit_reasons_name_the_signal_or_the_code() -> None:
    assert exit_reason(-signal.SIGKILL).startswith("was killed by SIGKILL (out of memory?")
    assert exit_reason(-signal.SIGSEGV) == "was killed by SIGSEGV"
    assert exit_reason(1).startswith("exited with code 1")


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(c) for c in text.split()]


def _workers(pid: int) -> list[int]:
    """The server's worker processes: forked ones (a shared index) or spawned ones, not multiprocessing's tracker."""
    found = []
    for child in _children(pid):
        try:
            if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:  # it exited between the two reads
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to find the worker processes")
def test_a_killed_worker_is_logged_with_its_signal_and_replaced(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "EXPERTMATCH_LOG_JSON": "false",
        "EXPERTMATCH_WORKER_TIMEOUT": "120",  # a loaded machine is slow to start workers: no false "hung"
    }
    env.pop("EXPERTMATCH_DATABASE_URL", None)
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "2"]
    with log.open("wb") as sink:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        while log.read_text().count("Application startup complete") < 2:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        victim = _workers(server.pid)[0]
        os.kill(victim, signal.SIGKILL)
        expected = f"worker [{victim}] was killed by SIGKILL"
        while expected not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert "starting a new worker" in log.read_text()
        while len(_workers(server.pid)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert victim not in _workers(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.slow
def test_serve_demo_prints_on_stdout_a_curl_line_that_works_as_printed(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}", "EXPERTMATCH_LOG_JSON": "false"}
    for name in ("EXPERTMATCH_DATABASE_URL", "EXPERTMATCH_ADMIN_KEY", "EXPERTMATCH_WORKERS"):
        env.pop(name, None)
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    command = [sys.executable, "-m", "service.cli", "serve", "--demo", "--host", "0.0.0.0", "--port", str(port)]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
    try:
        deadline = time.monotonic() + 180
        while "Application startup complete" not in err.read_text():
            assert server.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.5)
        banner = out.read_text().splitlines()
        assert banner[0] == f"expertmatch on http://127.0.0.1:{port} (1 worker); docs: http://127.0.0.1:{port}/docs"
        assert banner[1].startswith("administrator key (shown once, only its digest is stored): em_")
        key = banner[1].rsplit(" ", 1)[1]
        assert banner[2] == f"try: curl -s -H 'Authorization: Bearer {key}' 'http://127.0.0.1:{port}/experts?limit=3'"
        assert key not in err.read_text(), "the key goes to stdout only"
        if shutil.which("curl"):
            answer = subprocess.run(["bash", "-c", banner[2].removeprefix("try: ")], capture_output=True, timeout=60)
            body = json.loads(answer.stdout)
        else:
            body = httpx.get(
                f"http://127.0.0.1:{port}/experts?limit=3", headers={"Authorization": f"Bearer {key}"}
            ).json()
        assert len(body["items"]) == 3 and body["total"] > 100
    finally:
        server.terminate()
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class _Shared:
    """A shared state whose build succeeds, fails (the database is unreachable) or raises."""

    def __init__(self, outcome: bool | Exception) -> None:
        self.outcome, self.builds = outcome, 0

    def build(self) -> bool:
        self.builds += 1
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize("outcome", [False, RuntimeError("boom")])
def test_sighup_keeps_the_workers_when_the_shared_index_cannot_be_rebuilt(
    outcome: bool | Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from service.workers import _supervisor_class

    monkeypatch.setattr(signal, "signal", lambda *args: None)  # the supervisor's handlers are not this process's
    monkeypatch.setattr(gc, "freeze", lambda: None)  # nor its frozen garbage collector
    supervisor = _supervisor_class()(uvicorn.Config("service.main:app", workers=2), sockets=[])
    replaced: list[bool] = []
    monkeypatch.setattr(supervisor, "_replace_all", lambda: replaced.append(True))
    supervisor.shared = _Shared(outcome)
    supervisor.processes = ["first worker", "second worker"]
    supervisor.restart_all()
    assert supervisor.shared.builds == 1 and not replaced
    assert supervisor.processes == ["first worker", "second worker"]
    supervisor.shared = _Shared(True)
    supervisor.restart_all()
    assert replaced == [True]
