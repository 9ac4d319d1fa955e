"""A flood of heavy suggestion requests against a real server: 503 with Retry-After, never a 500, /healthz quick.

The server is `uvicorn --workers 2` on PostgreSQL (one worker on SQLite) over 2,000 specialists and 200 demands; the
flood is hundreds of concurrent `GET /demands/{id}/suggestions?limit=1000&include_excluded=true`, each a ranking of
every candidate with explanations for 1,000 of them, while a separate process probes `/healthz` every 20 ms with
a fresh connection each time, as a liveness probe does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.factories import ADMIN
from tests.load.conftest import WORKERS, bulk_load, uvicorn_server, wait_ready

pytestmark = pytest.mark.slow

FLOOD = 400
N_EXPERTS, N_DEMANDS = 2000, 200

PROBE = r"""
import http.client, json, os, sys, time
host, port, stop_file, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
out = []
end = time.monotonic() + seconds
while not os.path.exists(stop_file) and time.monotonic() < end:
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/healthz")
    status = conn.getresponse().status
    conn.close()
    out.append(((time.perf_counter() - started) * 1000, status))
    time.sleep(0.02)
print(json.dumps(out))
"""


def _pct(sorted_values: list[float], p: float) -> float:
    return sorted_values[round(p / 100 * (len(sorted_values) - 1))]


async def _flood(base_url: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=FLOOD, max_keepalive_connections=FLOOD)
    async with httpx.AsyncClient(base_url=base_url, headers=ADMIN, timeout=300, limits=limits) as client:
        requests = [
            client.get(f"/demands/{i % N_DEMANDS + 1}/suggestions", params={"limit": 1000, "include_excluded": "true"})
            for i in range(FLOOD)
        ]
        return await asyncio.gather(*requests)


def test_a_flood_of_heavy_requests_gets_503s_never_500s_and_healthz_stays_quick(
    engine, database_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    bulk_load(engine, N_EXPERTS, N_DEMANDS)
    with uvicorn_server(database_url, tmp_path) as base_url:
        wait_ready(base_url)
        port = int(base_url.rsplit(":", 1)[1])
        stop = tmp_path / "stop"
        probe_command = [sys.executable, "-c", PROBE, "127.0.0.1", str(port), str(stop)]
        # The same probe on the idle server first: what this (shared) machine gives without the flood.
        idle_out = subprocess.run([*probe_command, "3"], capture_output=True, text=True, check=True).stdout
        probe = subprocess.Popen([*probe_command, "600"], stdout=subprocess.PIPE, text=True)
        try:
            # In a thread of its own: a browser test earlier in this process may leave an event loop running here.
            with concurrent.futures.ThreadPoolExecutor(1) as runner:
                responses = runner.submit(asyncio.run, _flood(base_url)).result()
        finally:
            stop.touch()
            probe_out, _ = probe.communicate(timeout=60)
        after = httpx.get(f"{base_url}/demands/1/suggestions", headers=ADMIN, timeout=60)

    statuses = Counter(r.status_code for r in responses)
    probes = json.loads(probe_out)
    latencies = sorted(ms for ms, _ in probes)
    p50, p95 = _pct(latencies, 50), _pct(latencies, 95)
    idle = sorted(ms for ms, _ in json.loads(idle_out))
    print(
        f"\nflood of {FLOOD} heavy requests, {WORKERS} worker(s): {dict(sorted(statuses.items()))}; "
        f"/healthz during the flood: {len(latencies)} probes, p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"p99 {_pct(latencies, 99):.1f} ms, max {latencies[-1]:.1f} ms; idle server just before: p50 "
        f"{_pct(idle, 50):.1f} ms, p95 {_pct(idle, 95):.1f} ms, max {idle[-1]:.1f} ms"
    )
    assert set(statuses) <= {200, 503}, statuses
    assert statuses[200] > 0, "the server must still serve some of the flood"
    assert statuses[503] > 0, "a flood this size must meet the admission bound"
    for response in responses:
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) >= 1
            assert response.headers["content-type"].startswith("application/problem+json")
            problem = response.json()
            assert problem["status"] == 503 and problem["code"] in {"overloaded", "database-busy"}, problem
        else:
            page = response.json()
            assert len(page["items"]) == min(page["total"], 1000) and page["total"] > 0
    assert after.status_code == 200, "the server recovers at once"
    assert all(status == 200 for _, status in probes)
    assert len(latencies) >= 10, "the flood lasted long enough to probe"
    # Liveness under load: the target is 50 ms. The suite runs on shared, oversubscribed machines where even the
    # idle server's p95 reaches tens of milliseconds, so the median is held to the target, the p95 to three times
    # it, and a single slow probe (the OS descheduling a process) to a liveness probe's usual 1 s timeout.
    assert p50 <= 50 and p95 <= 150, (p50, p95)
    assert latencies[-1] <= 1000
