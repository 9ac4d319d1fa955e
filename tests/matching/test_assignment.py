"""Programme assignment: exact against brute force and HiGHS, invariants, feasibility report, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.assignment import Assignment, assign, assign_milp, feasibility_report

RES = 1e-6


def _instance(rng: np.random.Generator, n_d: int, n_e: int, density: float, corr: float = 0.0):
    """Random candidate graph, scores and counts; ``corr`` mixes in a per-specialist quality (popular experts)."""
    mask = rng.random((n_d, n_e)) < density
    d, e = np.nonzero(mask)
    quality = rng.random(n_e)
    score = np.clip((1 - corr) * rng.random(d.size) + corr * quality[e], 0, 1)
    return d, e, score, rng.integers(1, 4, n_d), rng.integers(1, 4, n_e)


def _check_invariants(out: Assignment, d, e, s, hc, cap) -> None:
    """Within headcount and capacity, no pair twice, only candidate pairs, consistent totals."""
    d, e, s = np.asarray(d), np.asarray(e), np.asarray(s)
    assert np.array_equal(d[out.pair_idx], out.demand_idx)
    assert np.array_equal(e[out.pair_idx], out.expert_idx)
    assert np.array_equal(s[out.pair_idx], out.score)
    assert np.unique(out.pair_idx).size == out.n_pairs
    assert np.unique(out.demand_idx * (len(cap) + 1) + out.expert_idx).size == out.n_pairs
    assert np.all(np.bincount(out.demand_idx, minlength=len(hc)) <= hc)
    assert np.all(np.bincount(out.expert_idx, minlength=len(cap)) <= cap)
    assert out.covered_demands == np.unique(out.demand_idx).size
    assert out.total_score == pytest.approx(float(out.score.sum()))
    order = np.lexsort((out.expert_idx, out.demand_idx))
    assert np.array_equal(order, np.arange(out.n_pairs))
    assert out.optimal


def _brute_force(d, e, s, hc, cap) -> tuple[int, int]:
    """Best (coverage, rounded score) over every feasible subset of the candidate pairs."""
    n = len(d)
    c = np.rint(np.asarray(s) / RES).astype(np.int64)
    subsets = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(np.int64)
    per_d = subsets @ np.eye(len(hc), dtype=np.int64)[d] if n else np.zeros((1, len(hc)), np.int64)
    per_e = subsets @ np.eye(len(cap), dtype=np.int64)[e] if n else np.zeros((1, len(cap)), np.int64)
    feasible = np.all(per_d <= hc, axis=1) & np.all(per_e <= cap, axis=1)
    coverage = (per_d > 0).sum(axis=1)
    total = subsets @ c if n else np.zeros(1, np.int64)
    key = coverage[feasible] * (int(c.sum()) + 1) + total[feasible]
    best = int(np.argmax(key))
    return int(coverage[feasible][best]), int(total[feasible][best])


@st.composite
def small_instances(draw):
    """At most 5 demands x 5 specialists and 16 candidate pairs, counts 0-3, scores with ties."""
    n_d = draw(st.integers(1, 5))
    n_e = draw(st.integers(1, 5))
    all_pairs = [(i, j) for i in range(n_d) for j in range(n_e)]
    pairs = draw(st.lists(st.sampled_from(all_pairs), unique=True, max_size=16))
    pairs.sort()
    score = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.floats(0, 1))
    s = draw(st.lists(score, min_size=len(pairs), max_size=len(pairs)))
    hc = draw(st.lists(st.integers(0, 3), min_size=n_d, max_size=n_d))
    cap = draw(st.lists(st.integers(0, 3), min_size=n_e, max_size=n_e))
    d = np.array([p[0] for p in pairs], dtype=np.int64)
    e = np.array([p[1] for p in pairs], dtype=np.int64)
    return d, e, np.array(s, dtype=np.float64), np.array(hc), np.array(cap)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances(), st.integers(0, 3))
def test_assignment_matches_brute_force_lexicographic_optimum(inst, per_node):
    d, e, s, hc, cap = inst
    out = assign(d, e, s, hc, cap, working_set_per_node=per_node)
    _check_invariants(out, d, e, s, hc, cap)
    coverage, total = _brute_force(d, e, s, hc, cap)
    assert out.covered_demands == coverage
    assert int(np.rint(out.score / RES).sum()) == total
    assert out.total_score == pytest.approx(total * RES, abs=RES * max(out.n_pairs, 1))


@settings(max_examples=60, deadline=None)
@given(small_instances(), st.randoms(use_true_random=False))
def test_assignment_does_not_depend_on_input_order(inst, rnd):
    d, e, s, hc, cap = inst
    perm = np.array(rnd.sample(range(len(d)), len(d)), dtype=np.int64)
    first = assign(d, e, s, hc, cap)
    shuffled = assign(d[perm], e[perm], s[perm], hc, cap)
    assert np.array_equal(first.demand_idx, shuffled.demand_idx)
    assert np.array_equal(first.expert_idx, shuffled.expert_idx)
    assert np.array_equal(perm[shuffled.pair_idx], first.pair_idx)


@pytest.mark.parametrize("seed", range(6))
def test_assignment_equals_highs_milp_on_medium_instances(seed):
    rng = np.random.default_rng(seed)
    inst = _instance(rng, 40, 25, density=0.25, corr=0.5 * (seed % 2))
    ours = assign(*inst)
    _check_invariants(ours, *inst)
    for ref in (assign_milp(*inst), assign_milp(*inst, relaxation=True)):
        _check_invariants(ref, *inst)
        assert ours.covered_demands == ref.covered_demands
        assert int(np.rint(ours.score / RES).sum()) == int(np.rint(ref.score / RES).sum())


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(20, 60),
    st.integers(10, 40),
    st.sampled_from([0.0, 0.6, 0.9]),
    st.integers(0, 3),
)
def test_working_set_pricing_reaches_the_full_graph_optimum(seed, n_d, n_e, corr, per_node):
    rng = np.random.default_rng(seed)
    inst = _instance(rng, n_d, n_e, density=1.0, corr=corr)
    priced = assign(*inst, working_set_per_node=per_node)
    full = assign(*inst, working_set_per_node=10**6)
    _check_invariants(priced, *inst)
    assert priced.covered_demands == full.covered_demands
    assert int(np.rint(priced.score / RES).sum()) == int(np.rint(full.score / RES).sum())


def test_coverage_comes_before_score():
    # Demand 0 could take specialist 0 at 1.0, but then demand 1 (whose only candidate is specialist 0) is left
    # empty while specialist 1 could serve demand 0: coverage wins over the stronger single match.
    out = assign([0, 0, 1], [0, 1, 0], [1.0, 0.1, 0.2], [1, 1], [1, 1])
    assert out.covered_demands == 2
    assert set(zip(out.demand_idx.tolist(), out.expert_idx.tolist(), strict=True)) == {(0, 1), (1, 0)}
    assert out.total_score == pytest.approx(0.3)


def test_headcount_beyond_one_is_filled_after_coverage():
    out = assign([0, 0, 0, 1], [0, 1, 2, 2], [0.9, 0.8, 0.7, 0.1], [3, 1], [1, 1, 1])
    assert out.covered_demands == 2
    assert out.n_pairs == 3
    assert out.total_score == pytest.approx(0.9 + 0.8 + 0.1)


def test_feasibility_report_flags_headcount_beyond_capacity_and_demands_without_candidates():
    d = [0, 0, 1, 3]
    e = [0, 1, 1, 1]
    report = feasibility_report(d, e, [0.5, 0.5, 0.5, 0.5], [3, 2, 4, 1, 0], [1, 2, 5])
    assert report.total_headcount == 10
    assert report.total_capacity == 8
    assert report.headcount_excess == 2
    assert report.demands_without_candidates.tolist() == [2]  # demand 4 has no open headcount
    assert report.experts_without_candidates.tolist() == [2]
    # Demands 0, 1 and 3 have candidates; specialists 0 and 1 can give at most 1 + 2 slots.
    assert report.coverage_upper_bound == 3
    text = " ".join(report.messages)
    assert "exceeds free capacity 8 by 2" in text
    assert "1 demand(s) have no candidate at all: 2" in text


def test_feasibility_report_when_capacity_suffices():
    report = assign([0], [0], [0.4], [1], [3]).report
    assert report.headcount_excess == 0
    assert report.demands_without_candidates.size == 0
    assert "fits within free capacity" in report.messages[0]


def test_empty_and_zero_count_instances():
    out = assign([], [], [], [2, 1], [1])
    assert out.n_pairs == 0 and out.covered_demands == 0 and out.total_score == 0.0
    assert out.report.demands_without_candidates.tolist() == [0, 1]
    out = assign([0, 1], [0, 0], [0.5, 0.7], [0, 1], [1])
    assert out.demand_idx.tolist() == [1]
    out = assign([0], [0], [0.5], [1], [0])
    assert out.n_pairs == 0
    assert assign_milp([0], [0], [0.5], [1], [0]).n_pairs == 0
    assert assign_milp([0, 1], [0, 0], [0.5, 0.7], [0, 1], [1], relaxation=True).demand_idx.tolist() == [1]


def test_zero_scores_still_cover():
    out = assign([0, 1, 1], [0, 0, 1], [0.0, 0.0, 0.0], [1, 1], [1, 1])
    assert out.covered_demands == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0, 0], [1, 1], [0.5, 0.6], [1], [1, 2]), "more than once"),
        (([0], [2], [0.5], [1], [1, 2]), "expert_idx out of range"),
        (([1], [0], [0.5], [1], [1]), "demand_idx out of range"),
        (([0], [0], [1.5], [1], [1]), r"\[0, 1\]"),
        (([0], [0], [float("nan")], [1], [1]), r"\[0, 1\]"),
        (([0], [0], [0.5], [-1], [1]), "headcount must be >= 0"),
        (([0], [0], [0.5], [1], [1.5]), "capacity must hold integers"),
        (([0, 1], [0], [0.5], [1, 1], [1]), "equal length"),
        (([0.0], [0], [0.5], [1], [1]), "integers"),
    ],
)
def test_bad_input_is_refused(args, message):
    with pytest.raises(ValueError, match=message):
        assign(*args)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="resolution"):
        assign([0], [0], [0.5], [1], [1], resolution=0)
    with pytest.raises(ValueError, match="working_set_per_node"):
        assign([0], [0], [0.5], [1], [1], working_set_per_node=-1)


def test_milp_reference_reports_time_limit_as_not_optimal():
    rng = np.random.default_rng(7)
    inst = _instance(rng, 30, 20, density=0.5)
    for relaxation in (False, True):
        ref = assign_milp(*inst, time_limit=1e-9, relaxation=relaxation)
        assert not ref.optimal or ref.covered_demands == assign(*inst).covered_demands


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 12), min_size=1, max_size=30),
    st.integers(1, 5),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0, 6000]),
)
def test_top_per_group_keeps_each_groups_k_best(lens, k, seed, big_group):
    from matching.assignment import _top_per_group

    lens = np.array(lens + ([big_group] if big_group else []), dtype=np.int64)  # a huge group: the peeling path
    indptr = np.r_[0, np.cumsum(lens)]
    values = np.random.default_rng(seed).integers(0, 6, indptr[-1])
    keep = _top_per_group(indptr, values, k)
    for g in range(lens.size):
        part = values[indptr[g] : indptr[g + 1]]
        expect = part >= np.sort(part)[-k] if part.size > k else np.ones(part.size, bool)
        assert np.array_equal(keep[indptr[g] : indptr[g + 1]], expect)


def test_skewed_candidate_lists_reach_the_full_graph_optimum():
    rng = np.random.default_rng(3)
    # One demand lists every specialist, the rest a handful each: groups of very unequal length.
    d = np.r_[np.zeros(3000, np.int64), np.repeat(np.arange(1, 400), 3)]
    e = np.r_[np.arange(3000), rng.integers(0, 3000, 399 * 3)]
    keep = np.unique(d * 3000 + e, return_index=True)[1]
    d, e = d[keep], e[keep]
    s = rng.random(d.size)
    hc, cap = rng.integers(1, 4, 400), rng.integers(1, 3, 3000)
    priced = assign(d, e, s, hc, cap, working_set_per_node=1)
    full = assign(d, e, s, hc, cap, working_set_per_node=10**6)
    _check_invariants(priced, d, e, s, hc, cap)
    assert priced.covered_demands == full.covered_demands
    assert int(np.rint(priced.score / RES).sum()) == int(np.rint(full.score / RES).sum())
