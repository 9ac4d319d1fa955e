"""Bench: programme assignment (``matching.assignment.assign``) against SciPy's HiGHS on the same objective.

Cases (random scores in [0, 1], headcount and capacity uniform in 1-3):
  (a) 2,000 demands x 1,000 specialists, every one of the 2,000,000 pairs a candidate; target <= 1 s.
  (b) 5,000 demands x 20,000 specialists, 50 random candidates per demand (250,000 pairs); target <= 0.5 s.
Times include validation, the feasibility report and building the flow graph (not generating the instance).
Peer: ``assign_milp``, the same objective for SciPy's HiGHS: its LP relaxation (dual simplex; integral, as the
matrix is totally unimodular) and the integer program (``milp``, zero gap), each once in a child process with a time
limit (and a hard cap, as HiGHS does not check its limit in every phase). The optimum must agree: same number of
covered demands and the same total of scores rounded to the 1e-6 resolution.

    python bench/bench_assignment.py            # full run
    python bench/bench_assignment.py --quick    # small sizes, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matching.assignment import Assignment, assign, assign_milp  # noqa: E402

RES = 1e-6


def dense(n_d: int, n_e: int, seed: int = 0):
    """Every pair a candidate."""
    rng = np.random.default_rng(seed)
    d = np.repeat(np.arange(n_d), n_e)
    e = np.tile(np.arange(n_e), n_d)
    return d, e, rng.random(d.size), rng.integers(1, 4, n_d), rng.integers(1, 4, n_e)


def sparse(n_d: int, n_e: int, per_demand: int, seed: int = 0):
    """``per_demand`` distinct random candidates per demand."""
    rng = np.random.default_rng(seed)
    d = np.repeat(np.arange(n_d), per_demand)
    e = np.concatenate([np.sort(rng.choice(n_e, per_demand, replace=False)) for _ in range(n_d)])
    return d, e, rng.random(d.size), rng.integers(1, 4, n_d), rng.integers(1, 4, n_e)


def rounded_total(out: Assignment) -> int:
    """Total score in units of the resolution, as both solvers optimise it."""
    return int(np.rint(out.score / RES).sum())


def highs_child(path: str, relaxation: bool, limit: float) -> None:
    """In a child process: solve the saved instance with HiGHS and print the outcome as JSON."""
    data = np.load(path)
    start, start_cpu = time.perf_counter(), time.process_time()
    out = assign_milp(data["d"], data["e"], data["s"], data["hc"], data["cap"], time_limit=limit, relaxation=relaxation)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - start,
                "cpu": time.process_time() - start_cpu,
                "covered": out.covered_demands,
                "pairs": out.n_pairs,
                "total": out.total_score,
                "rounded": rounded_total(out),
                "optimal": out.optimal,
                "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            }
        )
    )


def run_highs(inst, relaxation: bool, limit: float) -> dict | None:
    """HiGHS in a child process with its own time limit and a hard cap (it does not check its limit everywhere)."""
    hard = 2 * limit + 60
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "instance.npz")
        np.savez(path, d=inst[0], e=inst[1], s=inst[2], hc=inst[3], cap=inst[4])
        cmd = [sys.executable, __file__, "--highs-child", path, "--highs-time-limit", str(limit)]
        if relaxation:
            cmd.append("--relaxation")
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=hard, check=True)
        except subprocess.TimeoutExpired:
            return {"killed_after": time.perf_counter() - start}
    return json.loads(proc.stdout)


def main() -> None:
    """Run the bench and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--highs-time-limit", type=float, default=300.0, help="HiGHS time limit per solve, s")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--no-milp", action="store_true", help="HiGHS LP only (the MIP is far slower)")
    parser.add_argument("--highs-child", help=argparse.SUPPRESS)
    parser.add_argument("--relaxation", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.highs_child:
        highs_child(args.highs_child, args.relaxation, args.highs_time_limit)
        return
    if args.quick:
        cases = [("(a) 400 x 200 dense", dense(400, 200)), ("(b) 1,000 x 4,000, 50/demand", sparse(1_000, 4_000, 50))]
    else:
        cases = [
            ("(a) 2,000 x 1,000 dense", dense(2_000, 1_000)),
            ("(b) 5,000 x 20,000, 50/demand", sparse(5_000, 20_000, 50)),
        ]
    limit = min(args.highs_time_limit, 60.0) if args.quick else args.highs_time_limit
    print(f"# ours: median of {args.repeats} runs; HiGHS: once, in a child process, time limit {limit:.0f} s")
    print(
        f"{'solver':<26} {'wall s':>8} {'cpu s':>7} {'covered':>8} {'pairs':>7} {'total score':>13} "
        f"{'optimal':>7} {'same optimum':>12} {'time ratio':>10}"
    )
    for name, inst in cases:
        print(f"{name}: {inst[0].size:,} candidate pairs, headcount {inst[3].sum():,}, capacity {inst[4].sum():,}")
        assign(*inst)  # warm-up: imports and first allocations
        rows = []
        for label, kwargs in (
            ("ours (min-cost flow)", {}),
            ("ours, whole graph at once", {"working_set_per_node": 10**9}),
        ):
            times, cpu = [], []
            for _ in range(args.repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                out = assign(*inst, **kwargs)
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            rows.append(
                {
                    "label": label,
                    "seconds": statistics.median(times),
                    "cpu": statistics.median(cpu),
                    "covered": out.covered_demands,
                    "pairs": out.n_pairs,
                    "total": out.total_score,
                    "rounded": rounded_total(out),
                    "optimal": out.optimal,
                }
            )
        ours = rows[0]
        peers = (
            []
            if args.no_peer
            else [("HiGHS LP, dual simplex", True)] + ([] if args.no_milp else [("HiGHS milp", False)])
        )
        for label, relaxation in peers:
            rows.append({"label": label, **run_highs(inst, relaxation, limit)})
        for row in rows:
            if "killed_after" in row:
                print(f"{row['label']:<26} no answer; stopped after {row['killed_after']:.0f} s")
                continue
            if not row["optimal"] and row["pairs"] == 0:
                print(f"{row['label']:<26} {row['seconds']:>8.3f} {row['cpu']:>7.3f}  no solution at its time limit")
                continue
            same = row["covered"] == ours["covered"] and row["rounded"] == ours["rounded"]
            print(
                f"{row['label']:<26} {row['seconds']:>8.3f} {row['cpu']:>7.3f} {row['covered']:>8,} {row['pairs']:>7,} "
                f"{row['total']:>13.6f} {'yes' if row['optimal'] else 'NO':>7} {'yes' if same else 'NO':>12} "
                f"{row['seconds'] / ours['seconds']:>9.1f}x"
                + (f"   peak {row['peak_gib']:.1f} GiB" if "peak_gib" in row else "")
            )


if __name__ == "__main__":
    main()
