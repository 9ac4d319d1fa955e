"""Load tests: a realistic corpus inserted in bulk, and a real uvicorn server (2 workers on PostgreSQL) over it."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from bench.text_corpus import Generator
from service.common import utcnow
from service.demands.models import Demand
from service.enterprises.models import Enterprise
from service.experts.models import Expert
from tests.conftest import BACKEND
from tests.factories import ADMIN_KEY

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2 if BACKEND == "postgres" else 1


def bulk_load(engine: Engine, n_experts: int, n_demands: int, *, seed: int = 1) -> None:
    """Enterprises, specialists and open demands from the benchmarks' seeded generator, straight into the tables
    (no change log: a server started afterwards fits them at start-up)."""
    gen = Generator(seed=seed)
    now = utcnow()
    stamp = {"created_at": now, "updated_at": now, "version": 1, "external_id": None}
    n_enterprises = max(1, n_demands // 5)
    enterprises = [
        {**stamp, "id": i + 1, "name": f"示范企业{i + 1}", "region": "沈阳市", "industry": "", "contact": None}
        for i in range(n_enterprises)
    ]
    experts = [
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
        }
        for p in gen.experts(n_experts)
    ]
    rnd = random.Random(seed)
    demands = [
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
        }
        for d in gen.demands(n_demands)
    ]
    with engine.begin() as conn:
        for table, rows in ((Enterprise, enterprises), (Expert, experts), (Demand, demands)):
            for start in range(0, len(rows), 2000):
                conn.execute(insert(table.__table__), rows[start : start + 2000])  # type: ignore[attr-defined]
            if engine.dialect.name == "postgresql":
                name = table.__tablename__  # type: ignore[attr-defined]
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), :n)"), {"n": len(rows)})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def uvicorn_server(database_url: str, log_dir: Path, *, workers: int = WORKERS, **settings: str) -> Iterator[str]:
    """`expertmatch serve` (forked workers sharing the supervisor's index, as in production) on a free loopback
    port; yields its base URL once /healthz answers."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXPERTMATCH_", "PROMETHEUS_"))}
    env.update(DATABASE_URL=database_url, EXPERTMATCH_ADMIN_KEY=ADMIN_KEY, EXPERTMATCH_LOG_LEVEL="WARNING")
    env.update({f"EXPERTMATCH_{k.upper()}": v for k, v in settings.items()})
    log_path = log_dir / f"uvicorn-{port}.log"
    command = [
        sys.executable, "-m", "service.cli", "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # generous: a loaded machine imports and starts two workers slowly
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    server_log = log_path.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-5000:]


def wait_ready(base_url: str, timeout: float = 300) -> None:
    """Until every worker answers /readyz 200 (its index warm): several in a row, as workers share the port."""
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < 10:
        if time.monotonic() > deadline:
            pytest.fail("the server's index did not warm up in time")
        try:
            ok = httpx.get(f"{base_url}/readyz", timeout=10).status_code == 200
        except httpx.HTTPError:
            ok = False
        streak = streak + 1 if ok else 0
        time.sleep(0.05 if ok else 0.5)
