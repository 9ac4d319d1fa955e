"""How many uvicorn workers to run, and a supervisor that logs why a worker died before it starts another."""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import signal
from pathlib import Path
from typing import Any

logger = logging.getLogger("expertmatch.workers")

MAX_DEFAULT_WORKERS = 4  # each worker holds its own matcher: memory grows with every one


def usable_cores() -> int:
    """CPUs this process may use: its affinity mask, narrowed by a cgroup v2 quota (docker --cpus) when there is one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text(encoding="ascii").split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period) + 0.5)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def default_workers(*, sqlite: bool) -> int:
    """One worker on SQLite (it serialises writers anyway); on PostgreSQL one per usable core, at most four."""
    return 1 if sqlite else min(MAX_DEFAULT_WORKERS, usable_cores())


def exit_reason(exitcode: int | None) -> str:
    """A dead worker's exit status in words, with what to look at."""
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.Signals._value2member_map_ else str(-exitcode)
        hint = " (out of memory? the kernel's OOM killer sends SIGKILL: run fewer workers)" if name == "SIGKILL" else ""
        return f"was killed by {name}{hint}"
    if exitcode == 0:
        return "exited"
    return f"exited with code {exitcode} (its traceback, if it raised one, is logged just above)"


def run_uvicorn(app: str, *, workers: int, worker_timeout: int, **options: Any) -> None:
    """`uvicorn.run`, except that with several workers a dead or hung worker is logged with the reason."""
    import uvicorn

    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        # uvicorn's 5 s default kills workers that are merely busy fitting their matcher on a loaded machine.
        options["timeout_worker_healthcheck"] = worker_timeout
    options.setdefault("access_log", False)
    supervisor = _supervisor_class()
    if workers == 1 or supervisor is None:
        uvicorn.run(app, workers=workers, **options)
        return
    config = uvicorn.Config(app, workers=workers, **options)
    sock = config.bind_socket()
    running = supervisor(config, sockets=[sock])
    with contextlib.suppress(KeyboardInterrupt):
        running.run()
    if running.startup_failed:
        raise SystemExit(3)  # as uvicorn exits when its one worker cannot start


def _supervisor_class() -> type | None:
    """uvicorn's worker supervisor with our keep-alive; None on a uvicorn whose supervisor looks different."""
    try:
        from uvicorn.supervisors.multiprocess import Multiprocess, Process
    except ImportError:
        return None
    if "target" in inspect.signature(Multiprocess).parameters or not hasattr(Multiprocess, "keep_subprocess_alive"):
        return None
    try:
        from uvicorn.config import STARTUP_FAILURE
    except ImportError:
        STARTUP_FAILURE = 3  # noqa: N806 - uvicorn's own value, for versions that do not export it

    class Supervisor(Multiprocess):
        """Restarts a dead or hung worker like uvicorn does, but says which it was and why."""

        startup_failed = False

        def keep_subprocess_alive(self) -> None:
            if self.should_exit.is_set():
                return
            timeout = self.config.timeout_worker_healthcheck
            for idx, process in enumerate(self.processes):
                running = process.process.is_alive()
                if running and process.is_alive(timeout=timeout):
                    continue
                # A worker that died while its health check was pending is dead, not hung: report its exit status.
                running = running and process.process.is_alive()
                pid = process.pid
                process.kill()
                process.join()
                if running:
                    reason = (
                        f"did not answer the supervisor's health check within {timeout} s (hung, or starved of CPU: "
                        "run fewer workers or raise EXPERTMATCH_WORKER_TIMEOUT), so it was killed"
                    )
                elif process.exitcode == STARTUP_FAILURE:
                    # It failed before serving: the app, database or socket is broken and every restart would fail.
                    logger.error("worker [%s] failed to start (see its error above); stopping", pid)
                    self.startup_failed = True
                    self.should_exit.set()
                    return
                else:
                    reason = exit_reason(process.exitcode)
                if self.should_exit.is_set():
                    return
                logger.error("worker [%s] %s; starting a new worker", pid, reason)
                replacement = Process(self.config, self.sockets)
                replacement.start()
                self.processes[idx] = replacement

    return Supervisor
