"""Text-matching benchmark: index build time and peak memory, single-query and batch top-10 latency, peers.

Usage (run from the repository root; small first, the full sizes once)::

    python bench/bench_text.py --size 20000 --batch 2000            # quick
    python bench/bench_text.py --size 100000 --batch 10000 --million  # the targets

Every figure comes from a fresh child process (so peak RSS is the build's own), over profiles and demands from
the seeded generator in ``bench/text_corpus.py`` (about 300 characters each, mostly Chinese, one in ten in
English). Latencies are medians over all queries of all runs; the single-query figure includes the query's
text processing (tokenising and vectorising the demand). Peers: ``bm25s`` and ``tantivy`` index the very same
tokens (our analyzer's output, space-joined; tantivy with a whitespace tokenizer, frequencies only) and answer
the same queries. When ``fixtures/labelled/judgements.json`` exists, the quality of each on it is printed too
(text only, nDCG@5 and the rest, ranking each demand's judged specialists).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

LABELLED = ROOT / "fixtures" / "labelled" / "judgements.json"


def _peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _expert_doc(p) -> dict:  # noqa: ANN001
    from matching.matcher import expert_doc

    return expert_doc(p)


def _demand_doc(d) -> dict:  # noqa: ANN001
    from matching.matcher import demand_doc

    return demand_doc(d)


PREVIOUS = {
    "char_weight": 0.5,
    "char_unigrams": False,
    "stem": True,
    "sublinear_tf": True,
    "expert_field_weights": {"fields": 2.0, "keywords": 2.0, "title": 0.5, "bio": 1.0, "achievements": 1.0},
    "demand_field_weights": {"title": 2.0, "keywords": 2.0, "industry": 1.0, "description": 1.0},
}
"""The text pipeline before issue 10 (``--previous``), to compare speed with the current one."""


def _vectorizer(analyzer: str, jobs: int, previous: bool = False, bilingual: bool = False):  # noqa: ANN202
    from matching.matcher import Matcher
    from matching.text import TextVectorizer

    params = Matcher(**(PREVIOUS if previous else {"bilingual": bilingual})).vectorizer_params()
    return TextVectorizer(**(params | {"analyzer": analyzer, "n_jobs": jobs}))


# --------------------------------------------------------------------------- child runs
def _generator(args: argparse.Namespace, seed: int):  # noqa: ANN202
    """The corpus generator asked for: the domain corpus or the Zipfian one."""
    if args.corpus == "zipf":
        from zipf_corpus import ZipfGenerator

        return ZipfGenerator(seed=seed, vocabulary=args.vocabulary)
    from text_corpus import Generator

    return Generator(seed=seed)


def _dir_bytes(path: Path) -> int:
    """Total size of the files under a directory."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def child(args: argparse.Namespace) -> dict:
    """Build an index over ``size`` generated profiles and measure it; returns the figures."""
    from matching.index import TextIndex, top_k_order

    gen = _generator(args, args.seed)
    out: dict = {"size": args.size, "analyzer": args.analyzer, "jobs": args.jobs}
    from matching.text import initialize_jieba

    initialize_jieba()
    rss_before = _peak_rss_mib()
    building = contextlib.nullcontext()
    if args.server_heap:
        from service.heap import large_blocks_mapped

        building = large_blocks_mapped()
        out["server_heap"] = True
    t0 = time.perf_counter()
    with building:
        vec = _vectorizer(args.analyzer, args.jobs, args.previous, args.bilingual)
        enc = vec.fit_encode(_expert_doc(p) for p in gen.experts(args.size))
        index = TextIndex(vectorizer=vec, prefit=True, keep_docs=False).fit_encoded(np.arange(1, args.size + 1), enc)
    out["fit_s"] = time.perf_counter() - t0
    ref = enc.X if args.naive else None  # the vectorizer's own float32 rows, before float16 rounding
    del enc
    out["peak_rss_mib"] = _peak_rss_mib()
    out["rss_before_mib"] = rss_before
    out["nnz"] = int(index._main.rows.nnz)
    out["vocabulary"] = int(index.n_terms_)
    out["index_mib"] = sum(a.nbytes for a in index._main.arrays().values()) / 2**20
    out["postings_mib"] = sum(a.nbytes for a in index._main.post.arrays().values()) / 2**20
    if args.save:
        t = time.perf_counter()
        index.save(args.save)
        out["save_s"] = time.perf_counter() - t

    demand_gen = _generator(args, args.seed + 1)
    queries = [_demand_doc(d) for d in demand_gen.demands(args.queries)]
    for q in queries[:5]:
        index.query(q, 10)
    lat, search_lat, touched = [], [], []
    for _ in range(args.runs):
        for q in queries:
            t = time.perf_counter()
            index.query(q, 10)
            lat.append(time.perf_counter() - t)
    Q = index.vectorizer_.transform(queries)
    for _ in range(args.runs):
        for i in range(Q.shape[0]):
            row = Q[i]
            t = time.perf_counter()
            slots, _ = index.search(row)
            top_k_order(_, index.ids_[slots], 10)
            search_lat.append(time.perf_counter() - t)
            touched.append(slots.size)
    topk_lat = []
    for _ in range(args.runs):
        for i in range(Q.shape[0]):
            row = Q[i]
            t = time.perf_counter()
            index.top_k(row, 10)
            topk_lat.append(time.perf_counter() - t)
    out["topk_only_ms"] = statistics.median(topk_lat) * 1e3
    out["query_ms"] = statistics.median(lat) * 1e3
    out["query_p90_ms"] = float(np.percentile(lat, 90)) * 1e3
    out["search_only_ms"] = statistics.median(search_lat) * 1e3
    out["touched_median"] = float(np.median(touched))

    if args.batch:
        demands = [_demand_doc(d) for d in _generator(args, args.seed + 2).demands(args.batch)]
        t = time.perf_counter()
        QB = index.vectorizer_.transform(demands)
        out["batch_encode_s"] = time.perf_counter() - t
        t = time.perf_counter()
        ids, _scores = index.top_k_batch(QB, 10)
        out["batch_s"] = time.perf_counter() - t
        out["batch_demands"] = args.batch
        if args.naive:
            n_naive = min(args.naive, args.batch)
            X = index._main.X.astype(np.float64)  # the stored (float16) weights, brute force in float64
            t = time.perf_counter()
            same = 0
            for start in range(0, n_naive, 200):
                S = (QB[start : min(start + 200, n_naive)].astype(np.float64) @ X.T).toarray()
                for i in range(S.shape[0]):
                    order = np.lexsort((index.ids_, -S[i]))[:10]
                    same += int(np.array_equal(index.ids_[order], ids[start + i]))
                del S
            naive_s = time.perf_counter() - t
            out["naive_demands"] = n_naive
            out["naive_s"] = naive_s
            out["naive_s_per_demand"] = naive_s / n_naive
            out["naive_same_top10"] = same / n_naive
            # and against the vectorizer's own float32 rows (before float16 rounding)
            ref = ref.astype(np.float64)
            overlap = 0.0
            for start in range(0, min(n_naive, 2000), 200):
                S = (QB[start : min(start + 200, n_naive, 2000)].astype(np.float64) @ ref.T).toarray()
                for i in range(S.shape[0]):
                    order = np.lexsort((index.ids_, -S[i]))[:10]
                    overlap += len(set(index.ids_[order].tolist()) & set(ids[start + i].tolist())) / 10
            out["float32_top10_overlap"] = overlap / min(n_naive, 2000)
            del ref
        del QB

    if args.peers:
        out |= peers(index, queries, gen, args)
    return out


def _tokens_of(analyzer, doc: dict) -> list[str]:  # noqa: ANN001
    """All tokens of a document, fields in name order, with field weights ignored (peers are unweighted)."""
    from matching.text import field_text

    toks: list[str] = []
    for key in sorted(doc):
        toks.extend(analyzer(field_text(doc[key])))
    return toks


def _tokenize_chunk(args: tuple) -> list[str]:
    analyzer, docs = args
    return [" ".join(_tokens_of(analyzer, d)) for d in docs]


def peers(index, queries: list[dict], gen, args: argparse.Namespace) -> dict:  # noqa: ANN001
    """Single-query latency of bm25s and tantivy over the same tokens, and ours for the same query tokens."""
    import multiprocessing
    import tempfile

    import bm25s
    import tantivy

    analyzer = index.vectorizer_.analyzer_
    docs = (_expert_doc(p) for p in _generator(args, args.seed).experts(args.size))
    chunks = iter(lambda: [d for _, d in zip(range(2000), docs, strict=False)], [])
    joined: list[str] = []
    with multiprocessing.get_context("fork").Pool(max(args.jobs, 1)) as pool:
        for part in pool.imap(_tokenize_chunk, ((analyzer, c) for c in chunks)):
            joined.extend(part)
    q_tokens = [_tokens_of(analyzer, q) for q in queries]
    out: dict = {}

    t = time.perf_counter()
    bm = bm25s.BM25()
    bm.index([s.split(" ") if s else [] for s in joined], show_progress=False)
    out["bm25s_fit_s"] = time.perf_counter() - t
    out["bm25s_mib"] = sum(getattr(a, "nbytes", 0) for a in bm.scores.values()) / 2**20
    lat = []
    for _ in range(args.runs):
        for toks in q_tokens:
            t = time.perf_counter()
            bm.retrieve([toks], k=10, show_progress=False, n_threads=1)
            lat.append(time.perf_counter() - t)
    out["bm25s_query_ms"] = statistics.median(lat) * 1e3

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="ws", index_option="freq")
    builder.add_integer_field("id", stored=True, fast=True)
    schema = builder.build()
    tdir = Path(tempfile.mkdtemp(prefix="bench_tantivy_"))
    tindex = tantivy.Index(schema, path=str(tdir))
    tindex.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    t = time.perf_counter()
    writer = tindex.writer(heap_size=256_000_000, num_threads=max(args.jobs, 1))
    for i, text in enumerate(joined, start=1):
        writer.add_document(tantivy.Document(body=text, id=i))
    writer.commit()
    writer.wait_merging_threads()
    tindex.reload()
    out["tantivy_fit_s"] = time.perf_counter() - t
    out["tantivy_mib"] = _dir_bytes(tdir) / 2**20
    searcher = tindex.searcher()
    lat = []
    for _ in range(args.runs):
        for toks in q_tokens:
            t = time.perf_counter()
            terms = sorted(set(toks))
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", tok)) for tok in terms]
            )
            searcher.search(query, 10)
            lat.append(time.perf_counter() - t)
    out["tantivy_query_ms"] = statistics.median(lat) * 1e3

    # ours on the same pre-tokenised queries (no text processing), for a like-for-like ratio
    vec = index.vectorizer_
    lat = []
    for _ in range(args.runs):
        for toks in q_tokens:
            t = time.perf_counter()
            index.top_k(vec.encode_tokens([("text", toks)]), 10)
            lat.append(time.perf_counter() - t)
    out["ours_pretokenised_ms"] = statistics.median(lat) * 1e3
    import shutil

    shutil.rmtree(tdir, ignore_errors=True)
    return out


def quality() -> list[tuple[str, dict]]:
    """Text-only quality on the labelled set: ours (three analyzers) against bm25s and tantivy."""
    import bm25s
    import tantivy

    from matching.evaluate import evaluate, load_dataset, rank_metrics
    from matching.matcher import Matcher

    ds = load_dataset(LABELLED)
    rows = [(f"ours ({a})", evaluate(ds, {"analyzer": a}, 5, text_only=True)) for a in ("blend", "words", "char2")]
    m = Matcher().fit(ds.experts, ds.demands)
    analyzer = m.vectorizer_.analyzer_
    e_tokens = [_tokens_of(analyzer, _expert_doc(p)) for p in ds.experts]
    d_tokens = {d.id: _tokens_of(analyzer, _demand_doc(d)) for d in ds.demands}
    pos = {p.id: i for i, p in enumerate(ds.experts)}

    bm = bm25s.BM25()
    bm.index(e_tokens, show_progress=False)

    def bm_score(d: int, experts: list[int]) -> np.ndarray:
        scores = bm.get_scores(d_tokens[d])
        return np.array([scores[pos[e]] for e in experts])

    rows.append(("bm25s", rank_metrics(ds, bm_score, 5)))

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=False, tokenizer_name="ws", index_option="freq")
    builder.add_integer_field("id", stored=True, fast=True)
    schema = builder.build()
    tindex = tantivy.Index(schema)
    tindex.register_tokenizer("ws", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build())
    writer = tindex.writer(heap_size=64_000_000, num_threads=1)
    for p, toks in zip(ds.experts, e_tokens, strict=True):
        writer.add_document(tantivy.Document(body=" ".join(toks), id=p.id))
    writer.commit()
    writer.wait_merging_threads()
    tindex.reload()
    searcher = tindex.searcher()

    def tv_score(d: int, experts: list[int]) -> np.ndarray:
        terms = sorted(set(d_tokens[d]))
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in terms]
        )
        hits = searcher.search(query, len(ds.experts)).hits
        by_id = {searcher.doc(addr)["id"][0]: s for s, addr in hits}
        return np.array([by_id.get(e, 0.0) for e in experts])

    rows.append(("tantivy", rank_metrics(ds, tv_score, 5)))
    return rows


# --------------------------------------------------------------------------- memory per worker
def worker(args: argparse.Namespace) -> int:
    """A stand-in server worker: open the saved index (memory-mapped or loaded), answer queries, then wait."""
    from matching.index import TextIndex

    index = TextIndex.open(args.worker, mmap=not args.no_mmap)
    queries = [_demand_doc(d) for d in _generator(args, args.seed + 1).demands(args.queries)]
    for q in queries:
        index.query(q, 10)
    print("ready", flush=True)
    sys.stdin.readline()
    return 0


def memory(args: argparse.Namespace, path: Path, counts: tuple[int, ...] = (1, 2, 4)) -> list[dict]:
    """PSS and USS of 1, 2 and 4 worker processes sharing one saved index (and, for contrast, loading it)."""
    import psutil

    rows = []
    for mmap in (True, False):
        for n in counts:
            cmd = [sys.executable, __file__, "--worker", str(path), "--queries", str(args.queries),
                   "--corpus", args.corpus, "--vocabulary", str(args.vocabulary), "--seed", str(args.seed)]  # fmt: skip
            if not mmap:
                cmd.append("--no-mmap")
            procs = [
                subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
                for _ in range(n)
            ]
            try:
                for proc in procs:
                    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
                infos = [psutil.Process(proc.pid).memory_full_info() for proc in procs]
                rows.append({"mmap": mmap, "workers": n, "pss_mib": sum(i.pss for i in infos) / 2**20,
                             "uss_mib": sum(i.uss for i in infos) / 2**20,
                             "rss_mib": sum(i.rss for i in infos) / 2**20})  # fmt: skip
            finally:
                for proc in procs:
                    proc.communicate("\n", timeout=60)
    return rows


# --------------------------------------------------------------------------- driver
def run_child(
    size: int, args: argparse.Namespace, *, batch: int, peers: bool, naive: int, save: Path | None = None
) -> dict:
    """Run one measurement in a fresh process and return its JSON figures."""
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--size",
        str(size),
        "--queries",
        str(args.queries),
        "--runs",
        str(args.runs),
        "--analyzer",
        args.analyzer,
        "--jobs",
        str(args.jobs),
        "--seed",
        str(args.seed),
        "--batch",
        str(batch),
        "--naive",
        str(naive),
        "--corpus",
        args.corpus,
        "--vocabulary",
        str(args.vocabulary),
    ]
    if save:
        cmd += ["--save", str(save)]
    if peers:
        cmd.append("--peers")
    if args.previous:
        cmd.append("--previous")
    if args.bilingual:
        cmd.append("--bilingual")
    if args.server_heap:
        cmd.append("--server-heap")
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=os.environ | {"PYTHONHASHSEED": "0"})
    if res.returncode != 0:
        raise SystemExit(f"child failed:\n{res.stderr[-4000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and print the benchmark tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100_000, help="profiles to index (default 100,000)")
    ap.add_argument("--queries", type=int, default=200, help="single queries per run (default 200)")
    ap.add_argument("--runs", type=int, default=3, help="runs over the queries (default 3)")
    ap.add_argument("--batch", type=int, default=10_000, help="demands in the batch run (0 to skip)")
    ap.add_argument("--naive", type=int, default=10_000, help="demands for naive linear_kernel+argsort (0 to skip)")
    ap.add_argument("--analyzer", default="blend", choices=["blend", "words", "char2"])
    ap.add_argument("--corpus", default="domains", choices=["domains", "zipf"],
                    help="domains: text_corpus (small vocabulary, every demand touches ~99%% of profiles); "
                    "zipf: zipf_corpus (large Zipfian vocabulary)")  # fmt: skip
    ap.add_argument("--vocabulary", type=int, default=300_000, help="words of the zipf corpus (default 300,000)")
    ap.add_argument("--memory", action="store_true", help="also measure 1, 2 and 4 workers sharing the index")
    ap.add_argument("--save", default="", help=argparse.SUPPRESS)
    ap.add_argument("--worker", default="", help=argparse.SUPPRESS)
    ap.add_argument("--no-mmap", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--jobs", type=int, default=2, help="tokenising processes (default 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--million", action="store_true", help="also build and query 1,000,000 profiles")
    ap.add_argument("--million-size", type=int, default=1_000_000, help=argparse.SUPPRESS)
    ap.add_argument("--no-peers", action="store_true", help="skip bm25s and tantivy")
    ap.add_argument("--previous", action="store_true", help="the text pipeline before issue 10 (speed comparison)")
    ap.add_argument("--bilingual", action="store_true", help="with Chinese-English concepts (speed comparison)")
    ap.add_argument(
        "--server-heap",
        action="store_true",
        help="build as the server does: blocks of 1 MiB and more mapped apart (service.heap.large_blocks_mapped)",
    )
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--peers", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.child:
        print(json.dumps(child(args)))
        return 0

    vocab = f" (vocabulary {args.vocabulary:,})" if args.corpus == "zipf" else " (small vocabulary)"
    print(f"# bench_text: corpus={args.corpus}{vocab} analyzer={args.analyzer} jobs={args.jobs} "
          f"queries={args.queries}x{args.runs}")  # fmt: skip
    print(f"# machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}")
    import tempfile

    store = Path(tempfile.mkdtemp(prefix="bench_text_"))
    results = [
        run_child(args.size, args, batch=args.batch, peers=not args.no_peers, naive=args.naive, save=store / "small")
    ]
    mem = {args.size: memory(args, store / "small")} if args.memory else {}
    if args.million:
        results.append(run_child(args.million_size, args, batch=0, peers=False, naive=0, save=store / "large"))
        if args.memory:
            mem[args.million_size] = memory(args, store / "large")
    import shutil

    shutil.rmtree(store, ignore_errors=True)
    print()
    print(
        "| profiles | fit (s) | peak RSS (MiB) | index (MiB) | nnz | vocabulary | top-10 incl. text (ms, median / p90) "
        "| top-10 only (ms) | full listing (ms) | touched |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['size']:,} | {r['fit_s']:.1f} | {r['peak_rss_mib']:.0f} | {r['index_mib']:.0f} | {r['nnz']:,} "
            f"| {r['vocabulary']:,} | {r['query_ms']:.2f} / {r['query_p90_ms']:.2f} | {r['topk_only_ms']:.2f} "
            f"| {r['search_only_ms']:.2f} | {r['touched_median']:,.0f} |"
        )
    r = results[0]
    if "batch_s" in r:
        print()
        print(f"batch: top-10 for {r['batch_demands']:,} demands over {r['size']:,} profiles: "
              f"{r['batch_s']:.1f} s (+ {r['batch_encode_s']:.1f} s to vectorise the demands)")  # fmt: skip
        if "naive_s" in r:
            per = r["naive_s_per_demand"]
            ours = r["batch_s"] / r["batch_demands"]
            print(f"brute force (sparse product + sort, float64): {r['naive_s']:.1f} s for {r['naive_demands']:,} "
                  f"demands ({per * 1e3:.2f} ms/demand vs ours {ours * 1e3:.2f} ms/demand: {per / ours:.1f}x); "
                  f"identical top-10 for {r['naive_same_top10']:.1%}; top-10 overlap with the unrounded float32 "
                  f"rows {r['float32_top10_overlap']:.2%}")  # fmt: skip
    if "bm25s_query_ms" in r:
        ours = r["ours_pretokenised_ms"]
        print()
        print(f"peers, single query over {r['size']:,} profiles, same tokens (median ms; ratio = peer / ours):")
        print("| engine | index (s) | index (MiB) | query (ms) | ratio |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print(f"| ours (pre-tokenised query) | {r['fit_s']:.1f}* | {r['index_mib']:.0f} | {ours:.2f} | 1.0 |")
        print(f"| bm25s | {r['bm25s_fit_s']:.1f} | {r['bm25s_mib']:.0f} | {r['bm25s_query_ms']:.2f} "
              f"| {r['bm25s_query_ms'] / ours:.1f} |")  # fmt: skip
        print(f"| tantivy | {r['tantivy_fit_s']:.1f} | {r['tantivy_mib']:.0f} | {r['tantivy_query_ms']:.2f} | "
              f"{r['tantivy_query_ms'] / ours:.1f} |")  # fmt: skip
        print("(* ours includes tokenising; the peers index already-tokenised text)")
    for size, rows in mem.items():
        print()
        print(f"memory of worker processes answering queries over one saved index of {size:,} profiles (MiB, summed "
              "over the workers; PSS counts a shared page once in total):")  # fmt: skip
        print("| index | workers | PSS | USS | RSS | PSS added per extra worker |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for mmap in (True, False):
            part = [m for m in rows if m["mmap"] is mmap]
            base = part[0]["pss_mib"]
            for m in part:
                extra = (m["pss_mib"] - base) / max(m["workers"] - 1, 1)
                extra_s = "" if m["workers"] == 1 else f"{extra:.0f} ({extra / base:.0%} of one)"
                print(f"| {'memory-mapped' if mmap else 'loaded per worker'} | {m['workers']} | {m['pss_mib']:.0f} "
                      f"| {m['uss_mib']:.0f} | {m['rss_mib']:.0f} | {extra_s} |")  # fmt: skip
    if LABELLED.exists() and not args.no_peers:
        from matching.evaluate import format_table

        print()
        print("quality on fixtures/labelled/judgements.json (text only, judged candidates of each demand):")
        print(format_table(quality(), 5))
    print()
    print(json.dumps({"results": results, "memory": {str(k): v for k, v in mem.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
