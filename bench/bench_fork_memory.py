"""What a worker forked from a prepared matcher writes, part by part: the pages it makes its own while serving.

Usage (from the repository root; no database: the matcher is fitted in this process)::

    python bench/bench_fork_memory.py                        # 10,000 specialists, 5,000 demands
    python bench/bench_fork_memory.py --experts 2000 --demands 1000

What it does: fits a :class:`matching.matcher.Matcher` on the seeded generator's profiles (``bench/text_corpus.py``)
with the service's explanation cache (50,000), warms it, prepares every specialist's explanation data as the
supervisor does, collects garbage and freezes the heap (``gc.freeze()``), as ``service/workers.py`` does before a
fork. It prints the supervisor's USS before and after handing its free C heap back (``malloc_trim``, as the
supervisor now does). Then, for each step below, it forks a fresh child from that same state, lets the child do
only that step, and prints how much the child's USS (pages only it maps: those it wrote) grew:

- pages without explanations: every second demand's first page of specialists and ``--expert-pages`` specialists'
  first page of demands, ``explain=False`` (ranking and scoring only);
- pages with explanations: the same pages as the service serves them;
- prepared explanation data read: every prepared profile's parts, texts and arrays read once, nothing computed;
- specialist records read: every specialist's text fields read once;
- demand texts encoded: every second demand's text turned into a vector (the analyzer and the vocabulary).

USS figures are MiB, one run; they vary by a few MiB between runs.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from text_corpus import Generator  # noqa: E402

from matching.matcher import Matcher, demand_doc  # noqa: E402
from service.heap import release_free_heap  # noqa: E402
from service.suggestions.live import EXPLAIN_CACHE  # noqa: E402

MIB = 2**20


def uss_mib() -> float:
    """This process's unique set size in MiB."""
    return psutil.Process().memory_full_info().uss / MIB


def in_child(step: Callable[[], None]) -> float:
    """Fork, run ``step`` in the child, and return how many MiB the child's USS grew."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, step, report, leave without running any cleanup of the parent's
        os.close(read_end)
        code = 0
        try:
            before = uss_mib()
            step()
            os.write(write_end, f"{uss_mib() - before:.1f}".encode())
        except BaseException:  # noqa: BLE001 - reported by the parent as a failed step
            code = 1
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reported = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not reported:
        raise RuntimeError("the child failed its step")
    return float(reported)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=10_000)
    parser.add_argument("--demands", type=int, default=5_000)
    parser.add_argument("--expert-pages", type=int, default=1_000, help="specialists whose page is asked")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    experts = list(Generator(seed=0).experts(args.experts))
    demands = list(Generator(seed=1).demands(args.demands))
    matcher = Matcher(explain_cache=EXPLAIN_CACHE).fit(experts, demands).warm_up()
    prepared = matcher.prepare_explanations(n_jobs=1)
    gc.collect()
    print(
        f"{args.experts:,} specialists, {args.demands:,} demands; fitted and prepared ({prepared:,} specialists) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    untrimmed = uss_mib()
    released = release_free_heap()
    print(
        f"supervisor USS {untrimmed:.0f} MiB; after malloc_trim {uss_mib():.0f} MiB"
        + ("" if released else " (nothing to release)")
    )
    gc.freeze()

    asked = [d.id for d in demands[::2]]
    specialists = [e.id for e in experts[: args.expert_pages]]

    def pages(explain: bool) -> Callable[[], None]:
        def step() -> None:
            for demand_id in asked:
                matcher.suggest_experts(demand_id, limit=10, explain=explain)
            for expert_id in specialists:
                matcher.suggest_demands(expert_id, limit=10, explain=explain)

        return step

    def read_prepared() -> None:
        for expert in experts:
            profile = matcher._profile(expert)
            _ = [len(part.text) for part in profile.parts], profile.part_terms, profile.part_weights, profile.text

    def read_records() -> None:
        for expert in experts:
            _ = [len(k) for k in expert.keywords], [len(f) for f in expert.fields], expert.bio, expert.achievements

    def encode_demands() -> None:
        for demand in demands[::2]:
            matcher.vectorizer_.transform([demand_doc(demand)])

    steps = {
        f"{len(asked):,} demand pages and {len(specialists):,} specialist pages without explanations": pages(False),
        f"{len(asked):,} demand pages and {len(specialists):,} specialist pages with explanations": pages(True),
        f"prepared explanation data of {len(matcher._packed):,} specialists read": read_prepared,
        f"{len(experts):,} specialist records read": read_records,
        f"{len(asked):,} demand texts encoded": encode_demands,
    }
    print("| a forked worker that does only this | its USS grew (MiB) |\n| --- | ---: |")
    for name, step in steps.items():
        print(f"| {name} | {in_child(step):.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
