"""Memory of the running server by worker count: one index shared by forked workers, against one index per worker.

Usage (from the repository root; needs PostgreSQL at EXPERTMATCH_BENCH_PG_URL, default 127.0.0.1:5432 as postgres)::

    python bench/bench_workers_memory.py                          # 10,000 specialists, 5,000 demands, 1/2/4 workers
    python bench/bench_workers_memory.py --experts 100000 --demands 10000 --workers 1 2

What it does: loads a throw-away PostgreSQL database in bulk (as ``bench_http.py`` does), then for each worker count
and each mode (``EXPERTMATCH_SHARED_INDEX`` true: the supervisor builds the index and forks the workers from it;
false: uvicorn spawns fresh workers and each builds its own) starts ``expertmatch serve --workers N``, waits until
every worker answers ``/readyz`` and reads every process's memory from ``/proc`` (psutil): RSS, PSS (shared pages
divided among the processes that map them) and USS (pages only that process maps). It then asks once for every
demand's suggestions and for ``--expert-pages`` specialists' (so the workers touch their index and fill their
explanation and page caches as serving does) and reads the memory again. The server's memory is the sum of its
processes' PSS; what a worker adds is (total with N workers - total with 1) / (N - 1), also as a share of the
one-worker server. Settings in the environment apply (``EXPERTMATCH_SUGGESTION_CACHE_MIB=0``: no page cache).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_http import ADMIN_KEY, free_port, get_ok, load, throwaway_database, warm_up  # noqa: E402

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
MIB = 2**20


def start(url: str, workers: int, shared: bool, log: Path) -> tuple[subprocess.Popen, str, float]:
    """`expertmatch serve --workers N`; returns once every worker answers /readyz (several 200s in a row)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EXPERTMATCH_ADMIN_KEY": ADMIN_KEY,
        "EXPERTMATCH_LOG_LEVEL": "WARNING",
        "EXPERTMATCH_SHARED_INDEX": "true" if shared else "false",
        "EXPERTMATCH_WORKER_TIMEOUT": "600",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "service.cli", "serve", "--no-migrate", "--workers", str(workers)]
    started = time.perf_counter()
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*command, "--port", str(port)], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    streak, deadline = 0, time.monotonic() + 1800
    while streak < 10 * workers:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not become ready: {log.read_text()[-3000:]}")
        try:
            ok = httpx.get(base + "/readyz", timeout=10).status_code == 200
        except httpx.HTTPError:
            ok = False
        streak = streak + 1 if ok else 0
        time.sleep(0.02 if ok else 0.25)
    return proc, base, time.perf_counter() - started


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def memory(pid: int) -> list[dict]:
    """RSS, PSS and USS (MiB) of the server and its children, the supervisor first."""
    parent = psutil.Process(pid)
    rows = []
    for process in [parent, *parent.children(recursive=True)]:
        info = process.memory_full_info()
        role = "worker" if process.pid != pid or not process.children() else "supervisor"
        if "resource_tracker" in " ".join(process.cmdline()):
            role = "tracker"
        rows.append(
            {"pid": process.pid, "role": role, "rss": info.rss / MIB, "pss": info.pss / MIB, "uss": info.uss / MIB}
        )
    return rows


def serve_and_measure(url: str, workers: int, shared: bool, n_demands: int, expert_pages: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, ready = start(url, workers, shared, Path(tmp, "serve.log"))
        try:
            before = memory(proc.pid)
            warm_up(base, n_demands, 8)
            with httpx.Client(base_url=base, headers=HEADERS, timeout=60) as http:
                for expert_id in range(1, expert_pages + 1):
                    get_ok(http, f"/experts/{expert_id}/suggestions")
            after = memory(proc.pid)
        finally:
            stop(proc)
    return {"ready": ready, "before": before, "after": after}


def total(rows: list[dict]) -> float:
    return sum(r["pss"] for r in rows)


def worker_uss(rows: list[dict]) -> float:
    return statistics.median(r["uss"] for r in rows if r["role"] == "worker")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experts", type=int, default=10_000)
    parser.add_argument("--demands", type=int, default=5_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--expert-pages", type=int, default=500, help="specialists whose suggestions are asked once")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    results: dict[tuple[int, bool], dict] = {}
    with throwaway_database() as url:
        started = time.perf_counter()
        load(url, args.experts, args.demands, args.seed)
        print(f"loaded {args.experts} specialists and {args.demands} demands in {time.perf_counter() - started:.1f} s")
        for workers in args.workers:
            for shared in (True, False) if workers > 1 else (False,):
                result = serve_and_measure(url, workers, shared, args.demands, args.expert_pages)
                results[workers, shared] = result
                mode = "shared index" if shared else "own index"
                print(
                    f"{workers} worker(s), {mode}: ready in {result['ready']:.1f} s; "
                    + "; ".join(
                        f"{r['role']} {r['pid']}: RSS {r['rss']:.0f} PSS {r['pss']:.0f} USS {r['uss']:.0f}"
                        for r in result["after"]
                    ),
                    flush=True,
                )
    one = results.get((1, False))
    print()
    print(
        f"{args.experts} specialists, {args.demands} demands, PostgreSQL; memory in MiB after every demand's and "
        f"{args.expert_pages} specialists' suggestions were asked once"
    )
    print(
        "| workers | index | ready (s) | server PSS at start | added a worker at start | server PSS after serving "
        "| added a worker after | worker USS after (median) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for (workers, shared), result in results.items():
        added = {"before": "", "after": ""}
        if one is not None and workers > 1:
            for when in added:
                per = (total(result[when]) - total(one[when])) / (workers - 1)
                added[when] = f"{per:.0f} MiB ({per / total(one[when]):.0%})"
        print(
            f"| {workers} | {'shared' if shared else 'own'} | {result['ready']:.1f} | {total(result['before']):.0f} | "
            f"{added['before']} | {total(result['after']):.0f} | {added['after']} | {worker_uss(result['after']):.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
