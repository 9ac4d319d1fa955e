"""How many uvicorn workers to run, and a supervisor that logs why a worker died before it starts another.

With a shared index (`EXPERTMATCH_SHARED_INDEX`, on by default) the supervisor builds the matcher's index once and
forks the workers from it instead of spawning fresh interpreters: the workers start with the index, the imported
libraries and jieba's dictionary in pages they share with each other (copy-on-write), so a second worker costs what
it writes, not another copy. `gc.freeze()` before the fork keeps the cyclic garbage collector from writing to those
objects, in the workers and in the supervisor. The supervisor keeps the state (its pages are the ones the workers
share, so keeping it costs nothing): a worker replacing a dead one is forked from it too and catches up from the
change log like any worker (a long backlog: it rebuilds in the background, warming meanwhile). SIGHUP builds a fresh
shared state and replaces every worker by one forked from it, each new worker serving before its predecessor stops.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from service.heap import release_free_heap

logger = logging.getLogger("expertmatch.workers")

MAX_DEFAULT_WORKERS = 4  # each worker still holds its own caches, connections and what it has written


class SharedState(Protocol):
    """What the supervisor builds before it forks a generation of workers (False: it could not)."""

    def build(self) -> bool: ...


def prepare_multiprocess_dir() -> str | None:
    """Create PROMETHEUS_MULTIPROC_DIR and empty it of an earlier run's files (they would add old counts): before
    prometheus-client is imported, which writes there at once (an unlabelled gauge opens its file)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return None
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))
    return directory


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


def run_uvicorn(
    app: str, *, workers: int, worker_timeout: int, shared: SharedState | None = None, **options: Any
) -> None:
    """`uvicorn.run`, except that with several workers a dead or hung worker is logged with the reason, and with
    `shared` the workers are forked from a supervisor that built it first (see the module's docstring)."""
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
    if shared is not None:
        if _can_fork():
            running.shared = shared
        else:
            logger.warning("workers cannot be forked on this platform: each builds its own index")
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

    class ForkedProcess(Process):
        """uvicorn's worker process, forked from the supervisor (not spawned): it starts with its memory."""

        def __init__(self, config: Any, sockets: list[Any]) -> None:
            self.config = config
            self._server = None
            self.parent_conn, self.child_conn = multiprocessing.Pipe()
            self.process = _FORK.Process(target=_forked_worker, args=(config, self.target, sockets))

    class Supervisor(Multiprocess):
        """Restarts a dead or hung worker like uvicorn does, but says which it was and why; forks its workers from a
        shared state when it has one."""

        startup_failed = False
        shared: SharedState | None = None

        def new_process(self) -> Process:
            return (ForkedProcess if self.shared is not None else Process)(self.config, self.sockets)

        def init_processes(self) -> None:
            if self.shared is not None and not self._build_shared():
                logger.warning("no shared index (database unreachable?): each worker builds its own")
            self._start_all()

        def _start_all(self) -> None:
            for _ in range(self.processes_num):
                process = self.new_process()
                process.start()
                self.processes.append(process)

        def handle_ttin(self) -> None:
            logger.info("Received SIGTTIN, increasing the number of processes.")
            self.processes_num += 1
            process = self.new_process()  # forked from the shared state too, when there is one
            process.start()
            self.processes.append(process)

        def restart_all(self) -> None:
            """SIGHUP: a fresh shared state, then each worker replaced by one forked from it (serving first)."""
            if self.shared is not None and not self._build_shared():
                logger.error("the shared index could not be rebuilt (database unreachable?): keeping the workers")
                return
            self._replace_all()

        def _replace_all(self) -> None:
            for idx, old in enumerate(self.processes):
                if self.should_exit.is_set():
                    return
                new = self.new_process()
                new.start()
                if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                    new.kill()
                    new.join()
                    if not self.should_exit.is_set():
                        logger.error("new worker [%s] was not ready in time; keeping [%s]", new.pid, old.pid)
                    return
                old.terminate()
                old.join()
                self.processes[idx] = new

        def _build_shared(self) -> bool:
            assert self.shared is not None
            gc.unfreeze()  # on SIGHUP: the state being replaced must be collectable once its workers are gone
            try:
                return self.shared.build()
            except Exception:
                logger.exception("building the shared index failed")
                return False
            finally:
                # The build's garbage collected and the free heap returned before the fork, so no worker inherits
                # it. Frozen, the collector leaves the inherited objects alone, in the workers and here: a full
                # collection would write to every object's header and so copy every page.
                gc.collect()
                release_free_heap()
                gc.freeze()

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
                replacement = self.new_process()
                replacement.start()
                self.processes[idx] = replacement

    return Supervisor


_FORK = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None


def _can_fork() -> bool:
    return _FORK is not None


def _forked_worker(config: Any, target: Callable[..., None], sockets: list[Any]) -> None:
    """A forked worker's main: the supervisor's signal handlers undone, logging set up, then uvicorn's server."""
    for name in ("SIGTERM", "SIGHUP", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2", "SIGWINCH", "SIGQUIT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    config.configure_logging()
    with contextlib.suppress(KeyboardInterrupt):
        target(sockets=sockets)
