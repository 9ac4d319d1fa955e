"""At least once across a crash: the server is killed (SIGKILL) after acknowledging changes and before delivering
their events; a restarted server's worker, or `expertmatch worker` alone, delivers every one of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.factories import ADMIN, ADMIN_KEY, demand_body, enterprise_body, expert_body
from tests.lifecycle.receiver import Receiver
from tests.races.conftest import REPO_ROOT, _free_port, _wait_ready

CHANGES = 20
SECRET = "crash-test-secret-0123456789"


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "EXPERTMATCH_ADMIN_KEY": ADMIN_KEY,
        "EXPERTMATCH_LOG_LEVEL": "WARNING",
    }
    env.pop("EXPERTMATCH_DATABASE_URL", None)
    env.update(extra)
    return env


def _serve(database_url: str, log: Path, **extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "service.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, env=_env(database_url, **extra), cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    _wait_ready(base, process, log)
    return process, base


@pytest.mark.slow
def test_events_committed_before_a_kill_9_are_all_delivered_after_restart(
    database_url: str,
    engine,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    receiver = Receiver()
    log = tmp_path / "server.log"
    # The worker makes its first pass at start, then sleeps an hour: every event below stays undelivered.
    process, base = _serve(database_url, log, EXPERTMATCH_WEBHOOK_POLL_SECONDS="3600")
    try:
        with httpx.Client(base_url=base, headers=ADMIN, timeout=30) as client:
            hook = client.post(
                "/webhooks", json={"url": receiver.url, "events": ["engagement.offered"], "secret": SECRET}
            )
            assert hook.status_code == 201, hook.text
            enterprise = client.post("/enterprises", json=enterprise_body()).json()
            acknowledged = []
            for i in range(CHANGES):
                expert = client.post("/experts", json=expert_body(name=f"崩溃专家{i}")).json()
                demand = client.post("/demands", json=demand_body(enterprise["id"], title=f"崩溃需求{i}")).json()
                offer = client.post(f"/demands/{demand['id']}/selections", json={"expert_id": expert["id"]})
                assert offer.status_code == 201
                acknowledged.append(offer.json()["id"])
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        assert receiver.received == []  # killed between commit and delivery
        # The worker alone (no server) picks up what the dead process left.
        worker = subprocess.Popen(
            [str(Path(sys.executable).with_name("expertmatch")), "worker"],
            env=_env(database_url, EXPERTMATCH_WEBHOOK_POLL_SECONDS="0.2"),
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 150  # a loaded CI machine: the worker builds its matcher first
            while len(receiver.ok()) < CHANGES and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=20)
        delivered = sorted(r["json"]["data"]["engagement"]["id"] for r in receiver.ok())
        assert sorted(set(delivered)) == sorted(acknowledged)
        with engine.connect() as conn:
            pending = conn.execute(
                text("SELECT COUNT(*) FROM webhook_delivery WHERE status <> 'delivered'")
            ).scalar_one()
        assert pending == 0
        print(
            f"\nkill -9 before delivery: {CHANGES} acknowledged, {len(set(delivered))} delivered after restart, "
            f"{len(delivered) - len(set(delivered))} duplicates"
        )
    finally:
        if process.poll() is None:
            process.kill()
        receiver.close()
