"""HTTP benchmark of suggestions: latency and throughput under 20 concurrent clients, and write-to-read visibility.

Usage (from the repository root; needs PostgreSQL at EXPERTMATCH_BENCH_PG_URL, default 127.0.0.1:5432 as postgres)::

    python bench/bench_http.py                       # 10,000 specialists, 5,000 demands, 30 s per run
    python bench/bench_http.py --experts 2000 --demands 1000 --duration 10   # quick

What it does:

1. Creates a throw-away PostgreSQL database, migrates it, and loads enterprises, specialists and open demands from
   the seeded generator in ``bench/text_corpus.py`` straight into the tables in bulk (no API, no change log: the
   workers fit their matchers from the tables at start-up).
2. Serves the API with ``expertmatch serve --workers 2`` and waits until both workers answer ``/readyz`` (index warm)
   (their CPU goes quiet). A warm-up pass asks once for every demand's suggestions (the matcher caches each
   specialist's tokenised profile parts for explanations the first time it explains them); its latencies are
   printed as the "warm-up pass" row. Steps 2-3 run once per ``--suggestion-cache`` value: by default first with
   the page cache off (every request computes its page: the cost of a first question) and then with it on. Each
   worker keeps its own cache and the warm-up pass reaches each demand on one worker only, so with the cache on
   about half the measured requests find their page cached (a repeated question) and the rest compute it.
   ``--suggestion-cache`` values are EXPERTMATCH_SUGGESTION_CACHE_MIB, the per-worker page cache in MiB.
3. Drives 20 concurrent clients for ``--duration`` seconds at random demands (``GET /demands/{id}/suggestions``,
   default page) and at random specialists (``GET /experts/{id}/suggestions``) with ``wrk`` when installed (a Lua
   script picks the id per request and reports p50/p95/p99), else with threads of ``httpx`` clients.
4. Serves a bare FastAPI endpoint (a sync ``def`` returning a small JSON document) the same way, as the
   framework's ceiling on this machine, and prints the ratio.
5. Starts two single-worker servers on the same database and measures, 20 times, the time from a specialist's
   PATCH on the first (it adopts a demand's keywords) to its first appearance in that demand's suggestions on the
   second, polling as fast as it can; it also reports how many polls that took (1 means read-your-writes held).

Figures depend on the machine: on a shared 2-core machine the clients, PostgreSQL and both workers compete for the
same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from text_corpus import Generator  # noqa: E402

from service.demands.models import Demand  # noqa: E402
from service.enterprises.models import Enterprise  # noqa: E402
from service.experts.models import Expert  # noqa: E402
from service.migrate import upgrade  # noqa: E402

PG_SERVER_URL = os.environ.get("EXPERTMATCH_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ADMIN_KEY = "bench-admin-key-" + uuid.uuid4().hex
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}

BARE_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/bare/{item_id}")
def bare(item_id: int) -> dict:
    return {"items": [{"id": item_id, "score": 0.5}], "total": 1, "limit": 10, "offset": 0}
"""

WRK_SCRIPT = """
local first, count, prefix = %(first)d, %(count)d, "%(prefix)s"
local suffix = "%(suffix)s"
math.randomseed(%(seed)d)
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  return wrk.format("GET", prefix .. (first + math.random(0, count - 1)) .. suffix)
end
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %%d, "seconds": %%f, "errors": %%d, "non2xx": %%d, ',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
  io.write(string.format('"p50": %%f, "p95": %%f, "p99": %%f, "max": %%f}\\n',
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


# --------------------------------------------------------------------------- database


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, dropped afterwards."""
    server = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    name = f"em_bench_{uuid.uuid4().hex[:8]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def load(url: str, n_experts: int, n_demands: int, seed: int) -> None:
    """Bulk-insert enterprises, specialists and open demands."""
    gen = Generator(seed=seed)
    now = datetime.now(UTC)
    n_enterprises = max(1, n_demands // 5)
    stamp = {"created_at": now, "updated_at": now, "version": 1}
    enterprises = [
        {**stamp, "id": i + 1, "name": f"示范企业{i + 1}", "region": "", "industry": "", "external_id": None}
        for i in range(n_enterprises)
    ]
    experts = []
    for p in gen.experts(n_experts):
        experts.append(
            {
                **stamp,
                "id": p.id,
                "name": p.name,
                "institution": p.institution,
                "institution_type": p.institution_type,
                "origin": p.origin,
                "region": p.region,
                "title": p.title,
                "degree": "博士",
                "fields": list(p.fields),
                "keywords": list(p.keywords),
                "bio": p.bio,
                "achievements": p.achievements,
                "languages": [],
                "capacity": p.capacity,
                "travels": p.travels,
                "conflicts": [],
                "active": p.active,
                "contact": {"name": p.name, "phone": "13900000000", "email": f"e{p.id}@example.edu.cn"},
                "external_id": None,
            }
        )
    demands = []
    rnd = random.Random(seed)
    for d in gen.demands(n_demands):
        demands.append(
            {
                **stamp,
                "id": d.id,
                "enterprise_id": (d.id - 1) % n_enterprises + 1,
                "title": d.title,
                "description": d.description,
                "category": "technology",
                "industry": d.industry,
                "keywords": list(d.keywords),
                "region": d.region,
                "on_site": d.on_site,
                "headcount": rnd.randint(1, 3),
                "accepted_origins": sorted(d.accepted_origins),
                "budget_cny": None,
                "term_months": 12,
                "deadline": None,
                "status": "open",
                "published_at": now,
                "external_id": None,
            }
        )
    engine = create_engine(url)
    with engine.begin() as conn:
        for table, rows in ((Enterprise, enterprises), (Expert, experts), (Demand, demands)):
            for start in range(0, len(rows), 2000):
                conn.execute(insert(table.__table__), rows[start : start + 2000])  # type: ignore[attr-defined]
            conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table.__tablename__}', 'id'), :n)"), {"n": len(rows)}
            )
    engine.dispose()


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_ok(http: httpx.Client, url: str, patience: float = 300) -> httpx.Response:
    """GET, retrying a 503 after its Retry-After (a saturated or warming worker), as a well-behaved client does."""
    deadline = time.monotonic() + patience
    while True:
        response = http.get(url)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response.raise_for_status()
        time.sleep(float(response.headers.get("Retry-After", "1")))


@contextmanager
def serve(
    app: str, workers: int, env: dict[str, str], app_dir: str | None = None, ready_path: str = "/readyz"
) -> Iterator[str]:
    """Run the service as users do (`expertmatch serve`: forked workers sharing one index), or another app with
    uvicorn; yield its base URL once every worker is up and idle."""
    port = free_port()
    if app == "service.main:app":
        cmd = [sys.executable, "-m", "service.cli", "serve", "--no-migrate", "--workers", str(workers)]
        env = {**env, "EXPERTMATCH_WORKER_TIMEOUT": "600"}
    else:
        cmd = [sys.executable, "-m", "uvicorn", app, "--workers", str(workers), "--no-access-log"]
        cmd += ["--log-level", "warning"]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    if app_dir:
        cmd += ["--app-dir", app_dir]
    base = f"http://127.0.0.1:{port}"
    with tempfile.NamedTemporaryFile("w+", prefix="uvicorn-", suffix=".log") as log:
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(proc, base + ready_path, workers, log.name)
            yield base
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_ready(proc: subprocess.Popen, ready_url: str, workers: int, log_path: str, timeout: float = 900) -> None:
    """Until `ready_url` answers and every worker process has gone quiet (its matcher fitted)."""
    deadline = time.monotonic() + timeout
    parent = psutil.Process(proc.pid)
    streak = 0  # /readyz is per worker (503 while its index warms): ask until several answers in a row are 200
    while time.monotonic() < deadline and streak < 5 * workers:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited: {Path(log_path).read_text()[-3000:]}")
        try:
            ok = httpx.get(ready_url, timeout=10).status_code == 200
        except httpx.HTTPError:
            ok = False
        streak = streak + 1 if ok else 0
        time.sleep(0.05 if ok else 0.5)
    while time.monotonic() < deadline:
        children = parent.children() if workers > 1 else [parent]
        if len(children) >= workers:
            before = [c.cpu_times() for c in children]
            time.sleep(2)
            busy = [sum(c.cpu_times()[:2]) - sum(b[:2]) for c, b in zip(children, before, strict=True)]
            if max(busy) < 0.1:
                return
        else:
            time.sleep(1)
    raise RuntimeError("uvicorn workers did not become idle in time")


# --------------------------------------------------------------------------- load


def run_wrk(base: str, prefix: str, first: int, count: int, suffix: str, seconds: int, connections: int) -> dict:
    """wrk with a Lua script choosing a random id per request; latencies in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(
            WRK_SCRIPT
            % {"first": first, "count": count, "prefix": prefix, "suffix": suffix, "seed": 7, "key": ADMIN_KEY}
        )
        script.flush()
        out = subprocess.run(
            [
                "wrk",
                "-t",
                "2",
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    stats = json.loads(out.strip().splitlines()[-1])
    stats["rps"] = stats["requests"] / stats["seconds"]
    return stats


def run_threads(base: str, prefix: str, first: int, count: int, suffix: str, seconds: int, connections: int) -> dict:
    """The same load from threads of httpx clients (when wrk is missing)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(seed: int) -> None:
        nonlocal errors
        rnd = random.Random(seed)
        with httpx.Client(base_url=base, headers=HEADERS, timeout=10) as http:
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = http.get(f"{prefix}{first + rnd.randrange(count)}{suffix}")
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    errors += response.status_code != 200

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "errors": 0,
        "non2xx": errors,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": latencies[-1],
        "rps": len(latencies) / elapsed,
    }


def warm_up(base: str, n_demands: int, connections: int) -> dict:
    """Ask once for every demand's suggestions (both workers see a share), timing each request."""
    ids = list(range(1, n_demands + 1))
    random.Random(3).shuffle(ids)
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(part: list[int]) -> None:
        with httpx.Client(base_url=base, headers=HEADERS, timeout=30) as http:
            for demand_id in part:
                started = time.perf_counter()
                get_ok(http, f"/demands/{demand_id}/suggestions")
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(ids[i::connections],)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "seconds": elapsed,
        "errors": 0,
        "non2xx": 0,
        "p50": latencies[n // 2],
        "p95": latencies[int(0.95 * n)],
        "p99": latencies[int(0.99 * n)],
        "max": latencies[-1],
        "rps": n / elapsed,
    }


def visibility(url: str, n_demands: int, rounds: int) -> dict:
    """Time from a PATCH on one worker to the change's first appearance in suggestions on another."""
    env = {"DATABASE_URL": url, "EXPERTMATCH_ADMIN_KEY": ADMIN_KEY, "EXPERTMATCH_LOG_LEVEL": "WARNING"}
    times: list[float] = []
    polls: list[int] = []
    rnd = random.Random(11)
    with (
        serve("service.main:app", 1, env) as a,
        serve("service.main:app", 1, env) as b,
        httpx.Client(base_url=a, headers=HEADERS, timeout=30) as ha,
        httpx.Client(base_url=b, headers=HEADERS, timeout=30) as hb,
    ):
        for i in range(rounds):
            demand = ha.get(f"/demands/{rnd.randint(1, n_demands)}").json()
            created = ha.post(
                "/experts",
                json={"name": f"可见性测试{i}", "keywords": ["占位"], "bio": "", "achievements": ""},
            )
            created.raise_for_status()
            expert_id = created.json()["id"]
            get_ok(hb, f"/demands/{demand['id']}/suggestions")  # b has caught up before the write
            started = time.perf_counter()
            # The specialist takes the demand's own words: they rank first, on the default page.
            ha.patch(
                f"/experts/{expert_id}",
                json={
                    "keywords": demand["keywords"][:30] or [demand["title"][:100]],
                    "fields": [demand["title"][:100]],
                    "bio": demand["description"][:20000],
                },
            ).raise_for_status()
            n = 0
            while True:
                n += 1
                page = get_ok(hb, f"/demands/{demand['id']}/suggestions").json()
                if any(item["expert_id"] == expert_id for item in page["items"]):
                    break
                if time.perf_counter() - started > 30:
                    raise RuntimeError("the change never showed on the other worker")
            times.append((time.perf_counter() - started) * 1000)
            polls.append(n)
    return {
        "median_ms": statistics.median(times),
        "max_ms": max(times),
        "polls_median": statistics.median(polls),
        "polls_max": max(polls),
        "rounds": rounds,
    }


# --------------------------------------------------------------------------- main


def row(label: str, s: dict) -> str:
    return (
        f"| {label:<44} | {s['p50']:8.1f} | {s['p95']:8.1f} | {s['p99']:8.1f} | {s['rps']:8.1f} |"
        f" {s['requests']:8d} | {s['errors'] + s['non2xx']:6d} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experts", type=int, default=10_000)
    parser.add_argument("--demands", type=int, default=5_000)
    parser.add_argument("--duration", type=int, default=30, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--visibility-rounds", type=int, default=20)
    parser.add_argument("--client", choices=["auto", "wrk", "threads"], default="auto")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--suggestion-cache",
        type=int,
        nargs="+",
        default=[0, 256],
        help="EXPERTMATCH_SUGGESTION_CACHE_MIB values to serve with, one full set of runs each (0 computes every page)",
    )
    args = parser.parse_args(argv)
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    drive = run_wrk if use_wrk else run_threads
    client_name = "wrk" if use_wrk else "httpx threads"
    results: list[tuple[str, dict]] = []
    with throwaway_database() as url:
        started = time.perf_counter()
        load(url, args.experts, args.demands, args.seed)
        print(f"loaded {args.experts} specialists and {args.demands} demands in {time.perf_counter() - started:.1f} s")
        for cache in args.suggestion_cache:
            env = {
                "DATABASE_URL": url,
                "EXPERTMATCH_ADMIN_KEY": ADMIN_KEY,
                "EXPERTMATCH_LOG_LEVEL": "WARNING",
                "EXPERTMATCH_SUGGESTION_CACHE_MIB": str(cache),
            }
            tag = "every page computed" if cache == 0 else f"page cache {cache} MiB"
            started = time.perf_counter()
            with serve("service.main:app", args.workers, env) as base:
                print(f"{args.workers} workers fitted and idle after {time.perf_counter() - started:.1f} s ({tag})")
                results.append(
                    (f"[{tag}] demand suggestions, warm-up pass", warm_up(base, args.demands, args.connections))
                )
                print(row(*results[-1]), flush=True)
                for label, prefix, first, count, suffix in (
                    ("GET /demands/{id}/suggestions", "/demands/", 1, args.demands, "/suggestions"),
                    ("GET /demands/{id}/suggestions?limit=20", "/demands/", 1, args.demands, "/suggestions?limit=20"),
                    ("GET /experts/{id}/suggestions", "/experts/", 1, args.experts, "/suggestions"),
                ):
                    stats = drive(base, prefix, first, count, suffix, args.duration, args.connections)
                    results.append((f"[{tag}] {label}", stats))
                    print(row(*results[-1]), flush=True)
        app_dir = tempfile.mkdtemp(prefix="bare-app-")
        Path(app_dir, "bare_app.py").write_text(BARE_APP)
        with serve("bare_app:app", args.workers, {}, app_dir=app_dir, ready_path="/bare/1") as base:
            results.append(
                (
                    "bare FastAPI endpoint (framework ceiling)",
                    drive(base, "/bare/", 1, 1000, "", args.duration, args.connections),
                )
            )
        shutil.rmtree(app_dir, ignore_errors=True)
        seen = visibility(url, args.demands, args.visibility_rounds)

    print()
    print(
        f"{args.experts} specialists, {args.demands} demands, PostgreSQL, expertmatch serve --workers {args.workers}, "
        f"{args.connections} concurrent clients ({client_name}), {args.duration} s per run; latencies in ms"
    )
    print(f"| {'run':<44} | {'p50':>8} | {'p95':>8} | {'p99':>8} | {'req/s':>8} | {'requests':>8} | {'errors':>6} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 8}|")
    for label, stats in results:
        print(row(label, stats))
    bare = results[-1][1]
    print()
    for label, run in results[:-1]:
        if label.endswith("GET /demands/{id}/suggestions"):
            print(
                f"{label} vs bare endpoint: throughput {run['rps'] / bare['rps']:.3f}x, "
                f"p95 {run['p95'] / bare['p95']:.1f}x; target p95 <= 100 ms: "
                f"{'met' if run['p95'] <= 100 else 'NOT met'} ({run['p95']:.1f} ms)"
            )
    print(
        f"PATCH on one worker -> first seen in suggestions on another: median {seen['median_ms']:.1f} ms, "
        f"max {seen['max_ms']:.1f} ms over {seen['rounds']} updates; polls needed: median {seen['polls_median']}, "
        f"max {seen['polls_max']} (1 = the very next request saw it)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
