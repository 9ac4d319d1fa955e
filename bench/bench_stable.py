"""Bench: capacitated deferred acceptance (``matching.stable``) against the PyPI ``matching`` package.

Market: each specialist ranks 20 demands, each demand ranks 20 specialists, mostly among those who ranked it (so
about half of the entries are mutually acceptable); preferences mix a shared quality with noise, so popular agents
are contested. Target: 20,000 specialists x 10,000 demands, capacities 1-3 on both sides, in <= 0.5 s including
building the structures from Python lists and the stability check.

Peer: ``matching`` 1.4.3 ``HospitalResident`` in its own venv (see ``opt_peer_matching``), which covers specialists
of capacity 1 only; it runs on increasing sizes, each with a timeout, and must return the same pairs.

    python bench/bench_stable.py            # full run
    python bench/bench_stable.py --quick    # small sizes, for a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from opt_peer_matching import peer_instance, run_peer  # noqa: E402

from matching.stable import blocking_pairs, stable_matching  # noqa: E402

LIST_LEN = 20


def market(n_e: int, n_d: int, expert_cap_max: int, seed: int = 0, mix: float = 0.5):
    """Rank lists (Python lists, best first) and capacities for ``n_e`` specialists and ``n_d`` demands."""
    rng = np.random.default_rng(seed)
    quality_d, quality_e = rng.random(n_d), rng.random(n_e)
    listed = np.stack([rng.choice(n_d, LIST_LEN, replace=False) for _ in range(n_e)])
    taste = mix * quality_d[listed] + (1 - mix) * rng.random(listed.shape)
    listed = np.take_along_axis(listed, np.argsort(-taste, axis=1), axis=1)
    expert_lists = listed.tolist()
    # Each demand ranks its best 20 among the specialists who ranked it, topped up with others.
    e_of = np.repeat(np.arange(n_e), LIST_LEN)
    d_of = listed.ravel()
    fancy = mix * quality_e[e_of] + (1 - mix) * rng.random(e_of.size)
    order = np.lexsort((-fancy, d_of))
    d_sorted, e_sorted = d_of[order], e_of[order]
    starts = np.searchsorted(d_sorted, np.arange(n_d + 1))
    demand_lists = []
    for d in range(n_d):
        row = e_sorted[starts[d] : starts[d + 1]][:LIST_LEN].tolist()
        while len(row) < LIST_LEN:
            extra = int(rng.integers(n_e))
            if extra not in row:
                row.append(extra)
        demand_lists.append(row)
    return expert_lists, demand_lists, rng.integers(1, expert_cap_max + 1, n_e), rng.integers(1, 4, n_d)


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeats`` calls, and the last result."""
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), out


def main() -> None:
    """Run the bench and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer-timeout", type=float, default=300.0, help="seconds per peer size")
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    n_e, n_d = (2_000, 1_000) if args.quick else (20_000, 10_000)
    sizes = [500, 1_000] if args.quick else [500, 1_000, 2_000, 5_000, 10_000, 20_000]
    timeout = min(args.peer_timeout, 60.0) if args.quick else args.peer_timeout

    print(f"# ours: {n_e:,} specialists x {n_d:,} demands, lists of {LIST_LEN}, median of {args.repeats} runs")
    print("# time = from Python lists to result, stability check included")
    print(f"{'capacities':<30} {'call':<24} {'wall s':>8} {'cpu s':>7} {'pairs':>7} {'blocking':>8}")
    for cap_max, label in ((3, "1-3 both sides"), (1, "specialist 1, demand 1-3 (HR)")):
        lists = market(n_e, n_d, cap_max)
        for side in ("experts", "demands"):
            secs, cpu, res = timed(lambda lists=lists, side=side: stable_matching(*lists, proposing=side), args.repeats)
            block = blocking_pairs(*lists, res.demand_idx, res.expert_idx)
            call = f"{side} propose"
            print(f"{label:<30} {call:<24} {secs:>8.3f} {cpu:>7.3f} {res.n_pairs:>7,} {len(block):>8}")
        secs, cpu, _ = timed(lambda lists=lists, res=res: blocking_pairs(*lists, res.demand_idx, res.expert_idx), 3)
        print(f"{label:<30} {'blocking_pairs() alone':<24} {secs:>8.3f} {cpu:>7.3f}")

    if args.no_peer:
        return
    print(f"\n# peer: matching 1.4.3 HospitalResident (own venv, subprocess), timeout {timeout:.0f} s per size")
    print("# size = specialists (capacity 1); demands = size / 2 (capacity 1-3); lists of 20")
    print(
        f"{'size':>7} {'side':>8} {'ours s':>8} {'peer build s':>12} {'peer solve s':>12} "
        f"{'ratio total':>11} {'ratio solve':>11} {'equal':>6}"
    )
    for size in sizes:
        lists = market(size, size // 2, 1, seed=size)
        finished = True
        for side, optimal in (("experts", "resident"), ("demands", "hospital")):
            secs, _, ours = timed(lambda lists=lists, side=side: stable_matching(*lists, proposing=side), 3)
            start = time.perf_counter()
            peer = run_peer(peer_instance(lists[0], lists[1], lists[3].tolist(), optimal), timeout)
            if peer is None:
                waited = time.perf_counter() - start
                print(f"{size:>7,} {side:>8} {secs:>8.3f}   peer did not finish within {waited:.0f} s")
                finished = False
                break
            build, solve = peer["build_seconds"], peer["solve_seconds"]
            same = peer["pairs"] == set(zip(ours.demand_idx.tolist(), ours.expert_idx.tolist(), strict=True))
            print(
                f"{size:>7,} {side:>8} {secs:>8.3f} {build:>12.2f} {solve:>12.2f} "
                f"{(build + solve) / secs:>10.0f}x {solve / secs:>10.1f}x {'yes' if same else 'NO':>6}"
            )
        if not finished:
            break


if __name__ == "__main__":
    main()
