"""Mutual-selection rounds: stability, proposer optimality against brute force, blocking pairs, input checks."""

from __future__ import annotations

import random
from unittest import mock

import numpy as np
import pytest
from hypothesis import event, given, settings, target
from hypothesis import strategies as st

import matching.stable as stable_module
from matching.stable import PreferenceLists, StableMatching, blocking_pairs, stable_matching

SIDES = ["experts", "demands"]


@st.composite
def markets(draw, max_experts=8, max_demands=6, max_cap=3):
    """Random rank lists (one-sided entries included) and capacities (zero allowed)."""
    n_e = draw(st.integers(1, max_experts))
    n_d = draw(st.integers(1, max_demands))
    e_lists = [draw(st.permutations(range(n_d)).map(lambda p, k=draw(st.integers(0, n_d)): p[:k])) for _ in range(n_e)]
    d_lists = [draw(st.permutations(range(n_e)).map(lambda p, k=draw(st.integers(0, n_e)): p[:k])) for _ in range(n_d)]
    e_cap = draw(st.lists(st.integers(0, max_cap), min_size=n_e, max_size=n_e))
    d_cap = draw(st.lists(st.integers(0, max_cap), min_size=n_d, max_size=n_d))
    return e_lists, d_lists, e_cap, d_cap


def _acceptable(e_lists, d_lists) -> list[tuple[int, int]]:
    """Every (demand, expert) pair ranked by both sides."""
    return sorted((d, e) for e, row in enumerate(e_lists) for d in row if e in d_lists[d])


def _naive_blocking(e_lists, d_lists, e_cap, d_cap, pairs) -> set[tuple[int, int]]:
    """Blocking pairs straight from the definition, agent by agent."""
    mine_e = {e: [d for d, x in pairs if x == e] for e in range(len(e_lists))}
    mine_d = {d: [x for y, x in pairs if y == d] for d in range(len(d_lists))}

    def tempted(lst, partners, cap, other):
        if cap == 0:
            return False
        if len(partners) < cap:
            return True
        return any(lst.index(other) < lst.index(p) for p in partners)

    out = set()
    for d, e in _acceptable(e_lists, d_lists):
        if (d, e) in pairs:
            continue
        if tempted(e_lists[e], mine_e[e], e_cap[e], d) and tempted(d_lists[d], mine_d[d], d_cap[d], e):
            out.add((d, e))
    return out


def _pairs(result: StableMatching) -> set[tuple[int, int]]:
    return set(zip(result.demand_idx.tolist(), result.expert_idx.tolist(), strict=True))


def _check_valid(result: StableMatching, e_lists, d_lists, e_cap, d_cap) -> None:
    """Within capacity, nobody with a partner twice, only mutually acceptable pairs, consistent leftovers."""
    pairs = list(zip(result.demand_idx.tolist(), result.expert_idx.tolist(), strict=True))
    assert len(pairs) == len(set(pairs))
    assert set(pairs) <= set(_acceptable(e_lists, d_lists))
    e_load = np.bincount(result.expert_idx, minlength=len(e_cap))
    d_load = np.bincount(result.demand_idx, minlength=len(d_cap))
    assert np.all(e_load <= e_cap) and np.all(d_load <= d_cap)
    assert np.array_equal(result.expert_free, np.asarray(e_cap) - e_load)
    assert np.array_equal(result.demand_free, np.asarray(d_cap) - d_load)
    assert result.unmatched_experts.tolist() == [e for e in range(len(e_cap)) if e_cap[e] > 0 and e_load[e] == 0]
    assert result.unmatched_demands.tolist() == [d for d in range(len(d_cap)) if d_cap[d] > 0 and d_load[d] == 0]
    assert pairs == sorted(pairs)


@settings(max_examples=300, deadline=None)
@given(markets(), st.sampled_from(SIDES))
def test_deferred_acceptance_is_valid_and_stable(market, side):
    result = stable_matching(*market, proposing=side)
    assert result.proposing == side
    _check_valid(result, *market)
    assert _naive_blocking(*market, _pairs(result)) == set()
    assert blocking_pairs(*market, result.demand_idx, result.expert_idx).shape == (0, 2)


def _all_stable(e_lists, d_lists, e_cap, d_cap) -> list[set[tuple[int, int]]]:
    """Every stable matching: all subsets of acceptable pairs, checked against the definition (vectorised)."""
    acc = _acceptable(e_lists, d_lists)
    n = len(acc)
    d = np.array([p[0] for p in acc], dtype=np.int64)
    e = np.array([p[1] for p in acc], dtype=np.int64)
    rank_e = np.array([e_lists[x].index(y) for y, x in acc], dtype=np.int64)
    rank_d = np.array([d_lists[y].index(x) for y, x in acc], dtype=np.int64)
    subsets = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)

    def tempted(agent, rank, caps):
        """Per subset and pair: would the pair's agent take the pair on (free slot, or a worse partner)?"""
        out = np.zeros(subsets.shape, dtype=bool)
        ok = np.ones(len(subsets), dtype=bool)
        for a, cap in enumerate(caps):
            mine = subsets & (agent == a)
            count = mine.sum(axis=1)
            ok &= count <= cap
            worst = np.where(mine, rank, -1).max(axis=1, initial=-1)
            hit = (cap > 0) & ((count < cap)[:, None] | (rank < worst[:, None]))
            out |= hit & (agent == a)
        return out, ok

    tempt_e, ok_e = tempted(e, rank_e, e_cap)
    tempt_d, ok_d = tempted(d, rank_d, d_cap)
    stable = ok_e & ok_d & ~np.any(~subsets & tempt_e & tempt_d, axis=1)
    return [{acc[i] for i in np.flatnonzero(row)} for row in subsets[stable]]


def _choose(ranking: list[int], options: set[int], cap: int) -> set[int]:
    """An agent's favourite ``cap`` partners among the options (responsive preferences)."""
    return set(sorted(options, key=ranking.index)[:cap])


def _proposer_optimal(market, side, result, every) -> None:
    """Proposers get their favourites within the union with any stable matching; receivers the reverse."""
    e_lists, d_lists, e_cap, d_cap = market
    prop_lists, prop_cap, recv_lists, recv_cap = (
        (e_lists, e_cap, d_lists, d_cap) if side == "experts" else (d_lists, d_cap, e_lists, e_cap)
    )
    prop_at = 1 if side == "experts" else 0

    def partners(pairs, agent, at):
        return {p[1 - at] for p in pairs if p[at] == agent}

    for other in every:
        for a in range(len(prop_lists)):
            mine, theirs = partners(result, a, prop_at), partners(other, a, prop_at)
            assert _choose(prop_lists[a], mine | theirs, prop_cap[a]) == mine
        for b in range(len(recv_lists)):
            mine, theirs = partners(result, b, 1 - prop_at), partners(other, b, 1 - prop_at)
            assert _choose(recv_lists[b], mine | theirs, recv_cap[b]) == theirs


@st.composite
def tiny_markets(draw):
    """Markets small enough to enumerate every matching: near-complete lists, where several stable ones are common."""
    n_e, n_d = draw(st.sampled_from([(2, 2), (3, 2), (2, 3), (3, 3), (4, 2), (4, 3), (3, 4)]))
    e_lists = [draw(st.permutations(range(n_d))) for _ in range(n_e)]
    d_lists = [draw(st.permutations(range(n_e))) for _ in range(n_d)]
    drop = draw(st.sets(st.tuples(st.integers(0, n_e - 1), st.integers(0, n_d - 1)), max_size=2))
    e_lists = [[d for d in row if (e, d) not in drop] for e, row in enumerate(e_lists)]
    cap = st.sampled_from([1, 1, 2])
    e_cap = draw(st.lists(cap, min_size=n_e, max_size=n_e))
    d_cap = draw(st.lists(cap, min_size=n_d, max_size=n_d))
    return e_lists, d_lists, e_cap, d_cap


@settings(max_examples=300, deadline=None)
@given(tiny_markets(), st.sampled_from(SIDES))
def test_result_is_the_proposer_optimal_stable_matching(market, side):
    e_lists, d_lists, e_cap, d_cap = market
    result = _pairs(stable_matching(*market, proposing=side))
    every = _all_stable(*market)
    target(float(len(every)))  # steer the search towards markets with several stable matchings
    event(f"{min(len(every), 3)}{'+' if len(every) > 2 else ''} stable matching(s)")
    assert result in every
    _proposer_optimal(market, side, result, every)


@pytest.mark.parametrize(
    ("n_e", "n_d", "caps"), [(3, 3, [1]), (4, 3, [1, 1, 2]), (3, 4, [1, 1, 2]), (4, 2, [1, 2, 2]), (2, 4, [1, 2, 2])]
)
def test_proposer_optimal_on_markets_with_several_stable_matchings(n_e, n_d, caps):
    rnd = random.Random(f"{n_e}x{n_d}")
    found = 0
    for _ in range(5000):
        market = (
            [rnd.sample(range(n_d), n_d) for _ in range(n_e)],
            [rnd.sample(range(n_e), n_e) for _ in range(n_d)],
            [rnd.choice(caps) for _ in range(n_e)],
            [rnd.choice(caps) for _ in range(n_d)],
        )
        every = _all_stable(*market)
        if len(every) < 2:
            continue
        found += 1
        for side in SIDES:
            result = _pairs(stable_matching(*market, proposing=side))
            assert result in every
            _proposer_optimal(market, side, result, every)
        if found == 25:
            break
    assert found == 25


@settings(max_examples=150, deadline=None)
@given(markets(max_experts=12, max_demands=10), st.sampled_from(SIDES))
def test_vectorised_rounds_and_sequential_loop_agree(market, side):
    results = []
    for min_active in (1, 3, 10**9):
        with mock.patch.object(stable_module, "_MIN_ACTIVE", min_active):
            results.append(_pairs(stable_matching(*market, proposing=side)))
    assert results[0] == results[1] == results[2]


def test_capacitated_instance_with_two_stable_matchings_gives_each_side_its_optimum():
    # Demands hold two slots each. Specialists 0 and 1 prefer demand 0, specialists 2 and 3 demand 1; the demands
    # prefer the other pair. Both "everyone gets their first choice" matchings are stable, one per side.
    e_lists = [[0, 1], [0, 1], [1, 0], [1, 0]]
    d_lists = [[2, 3, 0, 1], [0, 1, 2, 3]]
    by_experts = stable_matching(e_lists, d_lists, [1, 1, 1, 1], [2, 2], proposing="experts")
    by_demands = stable_matching(e_lists, d_lists, [1, 1, 1, 1], [2, 2], proposing="demands")
    assert _pairs(by_experts) == {(0, 0), (0, 1), (1, 2), (1, 3)}
    assert _pairs(by_demands) == {(0, 2), (0, 3), (1, 0), (1, 1)}
    assert len(_all_stable(e_lists, d_lists, [1, 1, 1, 1], [2, 2])) >= 2


def test_one_to_one_textbook_instance():
    # Gale-Shapley: men propose. Two stable matchings exist; each side gets its own optimum.
    men = [[0, 1], [1, 0]]
    women = [[1, 0], [0, 1]]
    by_men = stable_matching(men, women, [1, 1], [1, 1], proposing="experts")
    by_women = stable_matching(men, women, [1, 1], [1, 1], proposing="demands")
    assert _pairs(by_men) == {(0, 0), (1, 1)}
    assert _pairs(by_women) == {(1, 0), (0, 1)}
    assert by_women.proposing == "demands"


def test_blocking_pairs_finds_the_pair_that_prefers_each_other():
    e_lists = [[0, 1], [0, 1]]
    d_lists = [[0, 1], [0, 1]]
    # Expert 0 and demand 0 rank each other first but are matched elsewhere: (0, 0) blocks.
    found = blocking_pairs(e_lists, d_lists, [1, 1], [1, 1], demand_idx=[1, 0], expert_idx=[0, 1])
    assert found.tolist() == [[0, 0]]
    # A demand with free headcount is tempted by anyone who prefers it.
    found = blocking_pairs(e_lists, d_lists, [1, 1], [2, 1], demand_idx=[1, 0], expert_idx=[0, 1])
    assert found.tolist() == [[0, 0]]
    # The empty matching: every acceptable pair blocks.
    assert blocking_pairs(e_lists, d_lists, [1, 1], [1, 1], [], []).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]


def test_capacity_aware_blocking_pair():
    # Demand 0 has two slots, holds experts 1 and 2, and prefers expert 0 to expert 2; expert 0 has a free slot.
    e_lists = [[0, 1], [0], [0]]
    d_lists = [[1, 0, 2], [0]]
    found = blocking_pairs(e_lists, d_lists, [2, 1, 1], [2, 1], demand_idx=[0, 0, 1], expert_idx=[1, 2, 0])
    assert found.tolist() == [[0, 0]]
    result = stable_matching(e_lists, d_lists, [2, 1, 1], [2, 1])
    assert _pairs(result) == {(0, 0), (0, 1), (1, 0)}


def test_one_sided_ranking_is_not_acceptable():
    result = stable_matching([[0]], [[]], [1], [1])
    assert result.n_pairs == 0
    assert result.unmatched_experts.tolist() == [0] and result.unmatched_demands.tolist() == [0]


def test_preference_lists_in_compressed_form_give_the_same_result():
    e_lists = [[1, 0], [0], [1]]
    d_lists = [[2, 1, 0], [0, 2]]
    compressed = (PreferenceLists.from_lists(e_lists), PreferenceLists.from_lists(d_lists))
    assert compressed[0].row(0).tolist() == [1, 0] and len(compressed[1]) == 2
    a = stable_matching(e_lists, d_lists, [1, 1, 1], 1)
    b = stable_matching(*compressed, [1, 1, 1], 1)
    assert _pairs(a) == _pairs(b)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([[0, 0]], [[0]], [1], [1]), "ranks the same index twice"),
        (([[0]], [[0, 0]], [1], [1]), "ranks the same index twice"),
        (([[1]], [[0]], [1], [1]), "out of range"),
        (([[0]], [[-1]], [1], [1]), "out of range"),
        (([[0]], [[0]], [1, 1], [1]), "one integer per list"),
        (([[0]], [[0]], [1], [-1]), ">= 0"),
        (([[0]], [[0]], [1], [1.5]), "one integer per list"),
    ],
)
def test_bad_input_is_refused(args, message):
    with pytest.raises(ValueError, match=message):
        stable_matching(*args)


def test_bad_side_is_refused():
    with pytest.raises(ValueError, match="proposing"):
        stable_matching([[0]], [[0]], [1], [1], proposing="enterprises")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (([0], [1]), "not mutually acceptable"),
        (([0, 0], [0, 0]), "twice"),
        (([0, 1], [0, 0]), "exceeds a capacity"),
        (([0], [0, 1]), "equal length"),
        (([3], [-1]), "out of range"),
    ],
)
def test_blocking_pairs_refuses_something_that_is_not_a_matching(pairs, message):
    e_lists = [[0, 1], [1]]
    d_lists = [[0], [0, 1]]
    with pytest.raises(ValueError, match=message):
        blocking_pairs(e_lists, d_lists, [1, 1], [1, 1], *pairs)


def test_larger_random_market_is_stable_from_both_sides():
    rng = np.random.default_rng(11)
    n_e, n_d = 400, 200
    e_lists = [rng.choice(n_d, 15, replace=False).tolist() for _ in range(n_e)]
    d_lists = [rng.choice(n_e, 30, replace=False).tolist() for _ in range(n_d)]
    e_cap, d_cap = rng.integers(1, 4, n_e), rng.integers(1, 4, n_d)
    a = stable_matching(e_lists, d_lists, e_cap, d_cap, proposing="experts")
    b = stable_matching(e_lists, d_lists, e_cap, d_cap, proposing="demands")
    for r in (a, b):
        assert blocking_pairs(e_lists, d_lists, e_cap, d_cap, r.demand_idx, r.expert_idx).size == 0
    # Rural-hospitals theorem: every stable matching fills each agent to the same count.
    assert np.array_equal(a.expert_free, b.expert_free) and np.array_equal(a.demand_free, b.demand_free)
