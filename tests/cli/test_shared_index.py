"""Several workers share one index: the supervisor builds it once and forks them from it (README "Serving").

A real `expertmatch serve --workers 2` on the demo repository: the index is fitted once (by the supervisor), every
worker answers suggestions at once, most of each worker's memory is shared, a write is seen by the next request
whichever worker answers it, /metrics adds up both workers, SIGHUP replaces both workers by new ones forked from a
freshly built index, and SIGTTIN adds one forked from it too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc to read memory"),
]


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    headers: dict[str, str]
    log: Path
    metrics_dir: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, predicate, what: str, timeout: float = 300) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not predicate():
            assert self.process.poll() is None, self.text()[-4000:]
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.text()[-4000:]}"
            time.sleep(0.2)

    def workers(self) -> list[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return sorted(int(c) for c in children)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}", "EXPERTMATCH_LOG_JSON": "false"}
    for name in ("EXPERTMATCH_DATABASE_URL", "EXPERTMATCH_ADMIN_KEY", "EXPERTMATCH_WORKERS"):
        env.pop(name, None)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")
    env["EXPERTMATCH_SHARED_INDEX"] = "true"
    env["EXPERTMATCH_WORKER_TIMEOUT"] = "300"  # a loaded CI machine is slow to start workers: no false "hung"
    out, log = tmp_path / "out.txt", tmp_path / "serve.log"
    command = [sys.executable, "-m", "service.cli", "serve", "--demo", "--workers", "2", "--port", str(port)]
    with out.open("wb") as stdout, log.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
    running = Server(process, f"http://127.0.0.1:{port}", {}, log, tmp_path / "metrics")
    try:
        running.wait_for(lambda: running.text().count("Application startup complete") >= 2, "two workers")
        key = out.read_text().splitlines()[1].rsplit(" ", 1)[1]
        running.headers = {"Authorization": f"Bearer {key}"}
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _private_share(pid: int) -> float:
    """Pages only this process maps, as a share of its resident memory (/proc/<pid>/smaps_rollup)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return (fields["Private_Clean"] + fields["Private_Dirty"]) / fields["Rss"]


def _open_demands(server: Server) -> list[int]:
    response = httpx.get(f"{server.base}/demands", params={"limit": 100}, headers=server.headers, timeout=60)
    assert response.status_code == 200, response.text
    return [d["id"] for d in response.json()["items"] if d["status"] == "open"]


def _expert_ids(server: Server, demand_id: int) -> list[int]:
    # A new connection each time, so that both workers take their share of the requests.
    response = httpx.get(f"{server.base}/demands/{demand_id}/suggestions", headers=server.headers, timeout=60)
    assert response.status_code == 200, response.text
    return [item["expert_id"] for item in response.json()["items"]]


def _twin_of(server: Server, demand_id: int) -> int:
    """A new specialist whose profile says what the demand asks for."""
    demand = httpx.get(f"{server.base}/demands/{demand_id}", headers=server.headers, timeout=60).json()
    body = {
        "name": "共享索引测试专家",
        "institution": "大连理工大学",
        "institution_type": "university",
        "origin": "in_province",
        "region": demand["region"] or "大连市",
        "title": "教授",
        "fields": demand["keywords"][:2],
        "keywords": demand["keywords"],
        "bio": f"{demand['title']}。{demand['description']}",
        "capacity": 3,
    }
    response = httpx.post(f"{server.base}/experts", json=body, headers=server.headers, timeout=60)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_two_workers_serve_from_one_index_built_by_their_supervisor(server: Server) -> None:
    # Fitted once, before the workers were forked: neither builds its own, so neither is ever warming.
    assert server.text().count("matcher fitted") == 1
    for _ in range(20):
        assert httpx.get(f"{server.base}/readyz", timeout=30).status_code == 200
    demands = _open_demands(server)
    assert len(demands) >= 60
    first = _expert_ids(server, demands[0])
    assert first and all(_expert_ids(server, demands[0]) == first for _ in range(10))

    workers = server.workers()
    assert len(workers) == 2
    for demand_id in demands[:60]:
        _expert_ids(server, demand_id)
    # Most of a worker's memory is the supervisor's, shared (a spawned worker that built its own index has about
    # three quarters of its resident memory to itself).
    for pid in workers:
        assert _private_share(pid) < 0.5, (pid, _private_share(pid))

    # A write is seen by the very next request, whichever worker answers it.
    twin = _twin_of(server, demands[0])
    for _ in range(10):
        assert twin in _expert_ids(server, demands[0])[:3]

    # /metrics adds up both workers' counters: prometheus-client's multiprocess mode survives the fork (each worker
    # writes its own file), and every request is counted.
    assert all((server.metrics_dir / f"counter_{pid}.db").exists() for pid in workers), sorted(
        p.name for p in server.metrics_dir.iterdir()
    )
    metrics = httpx.get(f"{server.base}/metrics", headers=server.headers, timeout=60).text
    served = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("expertmatch_http_requests_total{")
        and 'route="/demands/{demand_id}/suggestions"' in line
        and 'status="200"' in line
    )
    assert served >= 81


def test_sighup_replaces_both_workers_by_ones_forked_from_a_fresh_index_and_sigttin_adds_one(server: Server) -> None:
    before = server.workers()
    demand = _open_demands(server)[1]
    twin = _twin_of(server, demand)
    server.process.send_signal(signal.SIGHUP)
    server.wait_for(lambda: server.text().count("matcher fitted") == 2, "the supervisor's second build")
    server.wait_for(lambda: not set(server.workers()) & set(before), "both workers replaced")
    server.wait_for(lambda: len(server.workers()) == 2, "two workers")
    assert server.text().count("Application startup complete") >= 4
    for _ in range(10):
        assert twin in _expert_ids(server, demand)[:3]
    for pid in server.workers():
        assert _private_share(pid) < 0.5, (pid, _private_share(pid))
    # One more worker (SIGTTIN) is forked from the shared state as well: no fit of its own.
    server.process.send_signal(signal.SIGTTIN)
    server.wait_for(lambda: len(server.workers()) == 3, "a third worker")
    server.wait_for(lambda: server.text().count("Application startup complete") >= 5, "the third worker's start")
    assert server.text().count("matcher fitted") == 2
