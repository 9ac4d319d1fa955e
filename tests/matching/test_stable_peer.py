"""Equality with the PyPI package ``matching`` 1.4.3 (``HospitalResident``), run in its own virtualenv.

Its import name collides with ours, so it lives in ``.cache/peer-matching-venv`` (created on first use, kept between
runs) and runs in a subprocess on instances serialised to JSON. Specialists are residents (capacity 1, the only
case hospitals/residents covers) and demands are hospitals. Without PyPI the test fails under ``CI=true`` and is
skipped, with the reason, otherwise.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matching.stable import stable_matching

PEER = "matching==1.4.3"
VENV = Path(__file__).resolve().parents[2] / ".cache" / "peer-matching-venv"

RUNNER = """
import json, sys, time, warnings
sys.setrecursionlimit(1_000_000)
warnings.simplefilter("ignore")
from matching.games import HospitalResident
inst = json.load(sys.stdin)
game = HospitalResident.create_from_dictionaries(inst["resident_prefs"], inst["hospital_prefs"], inst["capacities"])
result = game.solve(optimal=inst["optimal"])
json.dump([[h.name, r.name] for h, rs in result.items() for r in rs], sys.stdout)
"""


def _peer_python() -> Path:
    """The peer venv's interpreter, creating the venv once (under a lock, so parallel workers wait)."""
    python = VENV / "bin" / "python"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / "peer-matching-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (VENV / ".ready").exists():
            return python
        shutil.rmtree(VENV, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", str(VENV)],
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", PEER],
        ]
        for step in steps:
            proc = subprocess.run(step, capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                tail = " | ".join(proc.stderr.strip().splitlines()[-2:])
                reason = f"cannot install the peer package {PEER}: {tail}"
                if os.environ.get("CI") == "true":
                    pytest.fail(reason)
                pytest.skip(reason)
        (VENV / ".ready").write_text(PEER + "\n")
    return python


@pytest.fixture(scope="module")
def peer_python() -> Path:
    return _peer_python()


def _random_market(seed: int, n_e: int, n_d: int):
    """Specialists with capacity 1 rank a few demands; demands rank most of those who ranked them, plus others."""
    rng = np.random.default_rng(seed)
    e_lists = [rng.choice(n_d, rng.integers(0, 6), replace=False).tolist() for _ in range(n_e)]
    d_lists = []
    for d in range(n_d):
        fans = [e for e in range(n_e) if d in e_lists[e] and rng.random() < 0.8]
        others = rng.choice(n_e, 3, replace=False).tolist()
        row = list(dict.fromkeys(fans + others))
        d_lists.append([row[i] for i in rng.permutation(len(row))])
    return e_lists, d_lists, np.ones(n_e, np.int64), rng.integers(1, 4, n_d)


def _peer_solve(python: Path, e_lists, d_lists, d_cap, optimal: str) -> set[tuple[int, int]]:
    """Run the peer on the mutually acceptable part of the market; return (demand, expert) pairs."""
    accept = {(e, d) for e, row in enumerate(e_lists) for d in row if e in d_lists[d] and d_cap[d] > 0}
    resident_prefs = {str(e): [str(d) for d in row if (e, d) in accept] for e, row in enumerate(e_lists)}
    hospital_prefs = {str(d): [str(e) for e in row if (e, d) in accept] for d, row in enumerate(d_lists)}
    inst = {
        "resident_prefs": {k: v for k, v in resident_prefs.items() if v},
        "hospital_prefs": {k: v for k, v in hospital_prefs.items() if v},
        "capacities": {str(d): int(c) for d, c in enumerate(d_cap)},
        "optimal": optimal,
    }
    proc = subprocess.run(
        [str(python), "-I", "-c", RUNNER],
        input=json.dumps(inst),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return {(int(d), int(e)) for d, e in json.loads(proc.stdout)}


@pytest.mark.peer
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("side", "optimal"), [("experts", "resident"), ("demands", "hospital")])
def test_equals_peer_hospital_resident_solver(peer_python, seed, side, optimal):
    e_lists, d_lists, e_cap, d_cap = _random_market(seed, n_e=60, n_d=25)
    ours = stable_matching(e_lists, d_lists, e_cap, d_cap, proposing=side)
    theirs = _peer_solve(peer_python, e_lists, d_lists, d_cap, optimal)
    assert ours.n_pairs > 0
    assert set(zip(ours.demand_idx.tolist(), ours.expert_idx.tolist(), strict=True)) == theirs
