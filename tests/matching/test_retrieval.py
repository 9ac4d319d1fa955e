"""Retrieval: pruned top-k (MaxScore with block maxima) equals the brute-force ranking, on random and real text.

The reference is computed here from the vectorizer's own float32 rows, rounded to float16 by NumPy (the stored
weights) and multiplied in float64: a brute-force sparse product that shares no code with the index.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.index import TextIndex
from matching.matcher import Matcher, demand_doc, expert_doc
from matching.retrieval.postings import LUT, top_k_taat
from matching.text import Encoded, TextVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from text_corpus import Generator  # noqa: E402
from zipf_corpus import ZipfGenerator  # noqa: E402


class _Vocabulary:
    """Just enough of a fitted vectorizer for an index over pre-encoded random rows."""

    def __init__(self, n_terms: int) -> None:
        self.idf_ = np.ones(n_terms)


def _stored(X: sp.csr_matrix) -> sp.csr_matrix:
    """The weights as the index stores them: float16, as float64."""
    X = sp.csr_matrix(X, dtype=np.float32)
    half = X.data.astype(np.float16)
    half[(half == 0) & (X.data > 0)] = np.float16(2.0**-24)
    return sp.csr_matrix((half.astype(np.float64), X.indices, X.indptr), shape=X.shape)


def _brute(rows: dict[int, sp.csr_matrix], q: sp.csr_matrix, k: int) -> tuple[list[int], np.ndarray]:
    """Top-k by a brute-force product over every live document: score desc, id asc, positive scores only."""
    ids = np.array(sorted(rows), dtype=np.int64)
    if not ids.size:
        return [], np.zeros(0)
    X = sp.vstack([_stored(rows[i]) for i in ids.tolist()], format="csr")
    s = X @ np.asarray(q.toarray(), dtype=np.float32).ravel().astype(np.float64)
    keep = s > 0
    ids, s = ids[keep], s[keep]
    order = np.lexsort((ids, -s))[:k]
    return ids[order].tolist(), s[order]


def _encoded(X: sp.csr_matrix) -> Encoded:
    n = X.shape[0]
    zeros = np.zeros(n, dtype=np.int64)
    return Encoded(sp.csr_matrix(X, dtype=np.float32), None, zeros, zeros, zeros)


def _random_rows(rng: np.random.Generator, n: int, n_terms: int, skew: float) -> sp.csr_matrix:
    """Rows with Zipf-distributed terms (a few very common ones, a long tail) and skewed weights."""
    p = 1.0 / np.arange(1, n_terms + 1) ** skew
    p /= p.sum()
    rows = []
    for _ in range(n):
        size = int(rng.integers(0, 30))
        terms = np.unique(rng.choice(n_terms, size=size, p=p))
        w = rng.exponential(1.0, size=terms.size).astype(np.float32)
        if rng.random() < 0.1:
            w[:] = 1.0  # many equal weights, hence ties
        row = np.zeros(n_terms, dtype=np.float32)
        row[terms] = w
        if terms.size:
            row /= np.linalg.norm(row)
        rows.append(row)
    return sp.csr_matrix(np.vstack(rows))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 700),
    n_terms=st.integers(2, 60),
    skew=st.floats(0.0, 1.5),
    k=st.integers(1, 40),
    duplicates=st.integers(0, 30),
    changes=st.integers(0, 60),
)
def test_top_k_equals_brute_force_on_random_rows(
    seed: int, n: int, n_terms: int, skew: float, k: int, duplicates: int, changes: int
) -> None:
    rng = np.random.default_rng(seed)
    X = _random_rows(rng, n, n_terms, skew)
    if duplicates:  # identical documents tie exactly: the smaller id must come first
        X = sp.vstack([X, X[rng.integers(0, n, size=duplicates)]], format="csr")
    ids = rng.permutation(np.arange(10, 10 + X.shape[0]) * 3).tolist()
    # either path of top_k: pruned MaxScore, the full listing, or whichever the postings' volume picks
    volume = float(rng.choice([np.inf, 0.0, 8.0]))
    # postings in pages of 2..65,536 rows: small pages put a query's rows on many pages, and ties across them
    pages = {"page_bits": int(rng.choice([1, 3, 6, 16]))}
    index = TextIndex(
        vectorizer=_Vocabulary(n_terms), min_delta=int(rng.integers(1, 50)), full_listing_volume=volume, **pages
    )
    index.fit_encoded(ids, _encoded(X), [{} for _ in ids])
    rows = {i: X[j] for j, i in enumerate(ids)}
    for _ in range(changes):  # upserts (new and replacing) and removals, some compacting
        if rng.random() < 0.3 and rows:
            victim = int(rng.choice(sorted(rows)))
            assert index.remove(victim)
            del rows[victim]
        else:
            doc_id = int(rng.choice(sorted(rows))) if rows and rng.random() < 0.5 else int(rng.integers(1, 5000))
            row = _random_rows(rng, 1, n_terms, skew)
            index.upsert_encoded(doc_id, _encoded(row), {})
            rows[doc_id] = row
    queries = _random_rows(rng, 8, n_terms, skew)
    top_ids, top_scores = index.top_k_batch(queries, k)
    for i in range(queries.shape[0]):
        q = queries[i]
        want_ids, want_scores = _brute(rows, q, k)
        got_ids, got_scores = index.top_k(q, k)
        assert got_ids.tolist() == want_ids
        assert np.array_equal(got_scores, want_scores.astype(np.float32))
        assert top_ids[i, : len(want_ids)].tolist() == want_ids
        slots, vals = index.search(q)  # the full listing agrees too
        by_id = dict(zip(index.ids_[slots].tolist(), vals.tolist(), strict=True))
        assert [by_id[d] for d in want_ids] == want_scores.astype(np.float32).tolist()


@pytest.mark.parametrize("page_bits", [16, 7])
@pytest.mark.parametrize("volume", [np.inf, 0.0, 8.0])
@pytest.mark.parametrize("corpus", ["domains", "zipf"])
def test_top_k_equals_brute_force_on_generated_profiles(corpus: str, volume: float, page_bits: int) -> None:
    gen = Generator(seed=3) if corpus == "domains" else ZipfGenerator(seed=3, vocabulary=20_000)
    experts = list(gen.experts(1500))
    docs = [expert_doc(p) for p in experts]
    vec = TextVectorizer(field_weights=Matcher()._field_weights())
    enc = vec.fit_encode(docs)
    ids = [p.id for p in experts]
    index = TextIndex(
        vectorizer=vec, prefit=True, keep_docs=False, min_delta=64, full_listing_volume=volume, page_bits=page_bits
    )
    index.fit_encoded(ids, enc, docs)
    rows = {i: enc.X[j] for j, i in enumerate(ids)}
    for j, p in enumerate(gen.experts(120, start=1500)):  # new profiles, then replacements of old ones
        doc_id = p.id if j % 2 else ids[j * 7]
        row = vec.transform([expert_doc(p)])
        index.upsert(doc_id, expert_doc(p))
        rows[doc_id] = row
    for victim in ids[1::37]:
        index.remove(victim)
        rows.pop(victim)
    queries = vec.transform([demand_doc(d) for d in gen.demands(40)])
    batch_ids, _ = index.top_k_batch(queries, 10)
    for i in range(queries.shape[0]):
        want_ids, want_scores = _brute(rows, queries[i], 10)
        got_ids, got_scores = index.top_k(queries[i], 10)
        assert got_ids.tolist() == want_ids
        assert np.array_equal(got_scores, want_scores.astype(np.float32))
        assert batch_ids[i].tolist() == want_ids


def test_pruning_reads_a_fraction_of_the_postings() -> None:
    gen = Generator(seed=5)
    docs = [expert_doc(p) for p in gen.experts(4000)]
    index = TextIndex(vectorizer=TextVectorizer(), keep_docs=False).fit(range(4000), docs)
    r, post = index._main.rows, index._main.post
    reads, postings = [], []
    for d in gen.demands(20):
        q = index.encode_query(demand_doc(d))
        _, _, read = top_k_taat(
            post.runs, post.low, post.val, post.tmax, post.page_bits, LUT, q.indices, q.data,
            r.indptr, r.indices, r.data, r.norm2, index._main.max_norm, index.alive_, index.ids_, 10, r.n_rows,
            index._qdense(),
        )  # fmt: skip
        reads.append(read)
        postings.append(int(post.df(q.indices).sum()))
    assert sum(reads) < 0.5 * sum(postings)


def test_stored_weights_stay_within_float16_rounding_of_the_vectorizer() -> None:
    gen = Generator(seed=4)
    docs = [expert_doc(p) for p in gen.experts(300)]
    vec = TextVectorizer(field_weights=Matcher()._field_weights())
    enc = vec.fit_encode(docs)
    index = TextIndex(vectorizer=vec, prefit=True, keep_docs=False).fit_encoded(range(300), enc, docs)
    for i in (0, 17, 299):
        terms, weights = index.doc_terms(i)
        row = enc.X[i]
        assert terms.tolist() == row.indices.tolist()
        assert np.allclose(weights, row.data, rtol=2.0**-11, atol=0)


def test_saved_index_opens_memory_mapped_and_answers_the_same(tmp_path: Path) -> None:
    gen = Generator(seed=6)
    docs = [expert_doc(p) for p in gen.experts(600)]
    vec = TextVectorizer(field_weights=Matcher()._field_weights())
    index = TextIndex(vectorizer=vec, keep_docs=False, presence_fields=("fields",), page_bits=8).fit(range(600), docs)
    index.upsert(5000, docs[3])  # a delta and a tombstone: saving compacts them into the main segment
    index.remove(7)
    path = index.save(tmp_path / "experts")
    shared = TextIndex.open(path)
    assert isinstance(shared._main.post.low, np.memmap) and not shared._main.post.low.flags.writeable
    assert (shared._main.post.page_bits, shared._main.post.n_pages) == (8, 3)  # 600 rows in pages of 256
    queries = index.vectorizer_.transform([demand_doc(d) for d in gen.demands(15)])
    for i in range(queries.shape[0]):
        a, b = index.top_k(queries[i], 10), shared.top_k(queries[i], 10)
        assert a[0].tolist() == b[0].tolist() and np.array_equal(a[1], b[1])
    assert sorted(shared.ids()) == sorted(index.ids())
    terms = np.array(sorted(index.vectorizer_.vocabulary_.values())[:50], dtype=np.int32)
    assert [x.tolist() for x in shared.presence_counts(terms)] == [x.tolist() for x in index.presence_counts(terms)]
    # writes stay private to the process that opened it, and show at once
    shared.upsert(9001, {"bio": "煤矿井下5G通信网络"})
    shared.remove(0)
    ids, _ = shared.query("煤矿井下5G通信网络", 5)
    assert 9001 in ids.tolist() and 0 not in shared.top_k(queries[0], 600)[0].tolist()
    again = TextIndex.open(path)
    assert 9001 not in again and 0 in again


def test_long_queries_take_the_full_listing_and_short_ones_the_pruned_walk() -> None:
    gen = Generator(seed=5)
    demands = list(gen.demands(10))
    matcher = Matcher().fit(list(gen.experts(2000)), demands)
    index = matcher.expert_index_
    longest = max((matcher._demand_query(d.id).vector for d in demands), key=lambda q: q.nnz)
    assert index._full_listing_pays(longest)  # a demand's ~200 terms reach every profile many times over
    df = index._main.post.df()
    rare = int(np.argmin(np.where(df > 0, df, np.iinfo(np.int64).max)))
    short = sp.csr_matrix(([1.0], [rare], [0, 1]), shape=(1, index.n_terms_), dtype=np.float32)
    assert not index._full_listing_pays(short)
    assert index.top_k(short, 5)[0].size >= 1


_WARM_UP_SCRIPT = """
import json, sys
sys.path.insert(0, "bench")
import numpy as np, scipy.sparse as sp
from text_corpus import Generator
from matching.matcher import Matcher
from matching.retrieval import postings

gen = Generator(seed=7)
demands = list(gen.demands(5))
matcher = Matcher().fit(list(gen.experts(300)), demands)
kernels = {name: getattr(postings, name) for name in ("taat", "taat_top_k", "top_k_taat")}
matcher.warm_up()
after_warm_up = {name: len(k.signatures) for name, k in kernels.items()}
index = matcher.expert_index_
long = matcher._demand_query(demands[0].id).vector
short = sp.csr_matrix(([0.5], [int(long.indices[0])], [0, 1]), shape=long.shape, dtype=np.float32)
paths = [index._full_listing_pays(long), index._full_listing_pays(short)]
index.top_k(long, 10), index.top_k(short, 10), index.top_k_batch(sp.vstack([long, short]), 10)
matcher.suggest_experts(demands[1].id)
print(json.dumps({"warm": after_warm_up, "after": {n: len(k.signatures) for n, k in kernels.items()}, "paths": paths}))
"""


def test_warm_up_compiles_every_kernel_a_query_uses() -> None:
    # a fresh process: kernels compiled (or loaded from numba's cache) by other tests would hide a gap
    import json
    import subprocess

    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-c", _WARM_UP_SCRIPT], cwd=root, capture_output=True, text=True, timeout=300, check=True
    )
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["paths"] == [True, False]  # both top-k paths were asked for below
    assert all(n >= 1 for n in seen["warm"].values()), seen
    assert seen["after"] == seen["warm"], "a query compiled a kernel that warm_up left out"
