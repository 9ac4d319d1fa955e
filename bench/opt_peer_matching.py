"""Bench helper: run the PyPI ``matching`` 1.4.3 hospitals/residents solver in its own venv, in a subprocess.

Its import name collides with ours, so it is installed into ``.cache/peer-matching-venv`` (the same venv the peer
test uses) and run with ``python -I`` (no current directory on ``sys.path``) on instances sent as JSON.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

PEER = "matching==1.4.3"
VENV = Path(__file__).resolve().parents[1] / ".cache" / "peer-matching-venv"

RUNNER = """
import json, sys, time, warnings
sys.setrecursionlimit(1_000_000)
warnings.simplefilter("ignore")
from matching.games import HospitalResident
inst = json.load(sys.stdin)
t0 = time.perf_counter()
game = HospitalResident.create_from_dictionaries(inst["resident_prefs"], inst["hospital_prefs"], inst["capacities"])
t1 = time.perf_counter()
result = game.solve(optimal=inst["optimal"])
t2 = time.perf_counter()
pairs = [[h.name, r.name] for h, rs in result.items() for r in rs]
json.dump({"pairs": pairs, "build_seconds": t1 - t0, "solve_seconds": t2 - t1}, sys.stdout)
"""


def peer_python() -> Path:
    """The peer venv's interpreter, creating the venv on first use."""
    python = VENV / "bin" / "python"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "peer-matching-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (VENV / ".ready").exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", PEER], check=True)
            (VENV / ".ready").write_text(PEER + "\n")
    return python


def peer_instance(
    expert_lists: Sequence[Sequence[int]],
    demand_lists: Sequence[Sequence[int]],
    demand_capacity: Sequence[int],
    optimal: str,
) -> dict:
    """The mutually acceptable part of a market in the peer's dictionary form (specialists are residents)."""
    ranked_by = [set(row) for row in demand_lists]
    resident_prefs = {}
    hospital_fans: list[set[int]] = [set() for _ in demand_lists]
    for e, row in enumerate(expert_lists):
        keep = [d for d in row if e in ranked_by[d] and demand_capacity[d] > 0]
        for d in keep:
            hospital_fans[d].add(e)
        if keep:
            resident_prefs[str(e)] = [str(d) for d in keep]
    hospital_prefs = {
        str(d): [str(e) for e in row if e in hospital_fans[d]] for d, row in enumerate(demand_lists) if hospital_fans[d]
    }
    return {
        "resident_prefs": resident_prefs,
        "hospital_prefs": hospital_prefs,
        "capacities": {d: int(demand_capacity[int(d)]) for d in hospital_prefs},
        "optimal": optimal,
    }


def run_peer(instance: dict, timeout: float) -> dict | None:
    """Solve with the peer; ``None`` when it did not finish within ``timeout`` seconds."""
    try:
        proc = subprocess.run(
            [str(peer_python()), "-I", "-c", RUNNER],
            input=json.dumps(instance),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    out = json.loads(proc.stdout)
    out["pairs"] = {(int(d), int(e)) for d, e in out["pairs"]}
    return out
