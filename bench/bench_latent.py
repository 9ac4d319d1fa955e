"""Cost of the latent (LSA) channel of text relevance: the Matcher with and without it, same records, same run.

Usage (from the repository root)::

    python bench/bench_latent.py --size 20000 --demands 2000 --queries 200 --runs 3

Both matchers are fitted on the same generated profiles and demands (``bench/text_corpus.py``, seeded), then
answer the same queries in alternation: ``suggest_experts(demand_id, limit=10, explain=False)`` (the full listing
with its total, what ``GET /demands/{id}/suggestions`` runs before explaining one page) and
``suggest_demands(expert_id, …)``. Figures are medians over every query of every run; the fit time of each
matcher is printed too (the latent one includes its SVD).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main(argv: list[str] | None = None) -> int:
    """Fit both matchers, time their queries and print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20000, help="profiles (default 20,000)")
    ap.add_argument("--demands", type=int, default=2000, help="open demands indexed (default 2,000)")
    ap.add_argument("--queries", type=int, default=200, help="queries per side and run (default 200)")
    ap.add_argument("--runs", type=int, default=3, help="runs over the queries (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from text_corpus import Generator

    from matching.matcher import Matcher
    from matching.text import initialize_jieba

    initialize_jieba()
    gen = Generator(seed=args.seed)
    experts = list(gen.experts(args.size))
    demands = list(Generator(seed=args.seed + 1).demands(args.demands))
    sizes = f"{args.size:,} profiles, {args.demands:,} demands"
    print(f"# bench_latent: {sizes}, {args.queries} queries x {args.runs} runs")
    print(f"# machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}")
    matchers = {}
    fit_s = {}
    for name, params in (("lexical only (latent_rank=0)", {"latent_rank": 0}), ("default (latent channel)", {})):
        t = time.perf_counter()
        matchers[name] = Matcher(**params).fit(experts, demands)
        fit_s[name] = time.perf_counter() - t
    d_ids = [d.id for d in demands[: args.queries]]
    e_ids = [p.id for p in experts[: args.queries]]
    lat: dict[str, dict[str, list[float]]] = {n: {"experts": [], "demands": []} for n in matchers}
    totals: dict[str, list[int]] = {n: [] for n in matchers}
    for m in matchers.values():  # warm caches and compiled kernels
        for i in d_ids[:5]:
            m.suggest_experts(i, limit=10, explain=False)
    for _ in range(args.runs):
        for d, e in zip(d_ids, e_ids, strict=True):
            for name, m in matchers.items():
                t = time.perf_counter()
                _, total = m.suggest_experts(d, limit=10, explain=False)
                lat[name]["experts"].append(time.perf_counter() - t)
                totals[name].append(total)
                t = time.perf_counter()
                m.suggest_demands(e, limit=10, explain=False)
                lat[name]["demands"].append(time.perf_counter() - t)
    print()
    print("| matcher | fit (s) | suggest_experts median (ms) | suggest_demands median (ms) | listed per demand |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in matchers:
        print(
            f"| {name} | {fit_s[name]:.1f} | {statistics.median(lat[name]['experts']) * 1e3:.2f} "
            f"| {statistics.median(lat[name]['demands']) * 1e3:.2f} | {statistics.median(totals[name]):.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
