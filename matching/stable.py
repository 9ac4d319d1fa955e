"""Mutual-selection rounds: capacitated deferred acceptance and a blocking-pair check.

Both sides rank the other: each specialist an ordered list of demand indices, each demand an ordered list of
specialist indices, most preferred first. A pair is acceptable only if each side ranks the other; anything unranked
is unacceptable. Both sides have capacities (a specialist's free capacity, a demand's open headcount), so this is
the many-to-many generalisation of hospitals/residents with responsive preferences (each agent ranks partners one
by one and prefers a set that is better item by item).

A matching is *stable* when it uses only acceptable pairs, respects capacities and has no blocking pair: an
acceptable pair (e, d) not matched together where e has free capacity or prefers d to one of its partners, and d
has free capacity or prefers e to one of its partners.

Deferred acceptance (Gale-Shapley, Roth 1984 for many-to-many): every proposer proposes down its list, holding up
to its capacity of tentative acceptances; every receiver holds its best proposals up to its capacity and rejects the
rest; a rejected proposer proposes to its next choice. The result is stable and the best stable matching for every
proposer (each proposer's set is its top choices among its partners in this and any other stable matching), and
the worst for every receiver. With specialist capacity 1 it is exactly the hospitals/residents algorithm.

Implementation: ranks and mutual acceptability are computed with NumPy (a sparse rank table over the flattened
lists). Deferred acceptance runs in vectorised rounds (every proposer with free capacity proposes to its next
choices at once; every receiver keeps its best up to capacity, by rank) while many proposers are active, and the
last few rejection chains run one proposal at a time, each receiver keeping a heap of held proposals keyed by rank
(the worst on top) and a stack of proposers with free capacity. Proposal order does not change the result.
Stability is then checked, vectorised, over every acceptable pair.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

__all__ = ["PreferenceLists", "StableMatching", "blocking_pairs", "stable_matching"]

_MIN_ACTIVE = 64  # below this many active proposers, the sequential loop beats a vectorised round

IntArray = npt.NDArray[np.int64]
Proposing = Literal["experts", "demands"]


@dataclass(frozen=True, eq=False)
class PreferenceLists:
    """Ranked lists in compressed form: list ``i`` is ``items[indptr[i]:indptr[i + 1]]``, best first."""

    indptr: IntArray
    items: IntArray

    @classmethod
    def from_lists(cls, lists: Sequence[Sequence[int]]) -> PreferenceLists:
        """Flatten a sequence of ranked lists."""
        lens = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        indptr = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        items = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(indptr[-1]))
        return cls(indptr, items)

    def __len__(self) -> int:
        """Number of lists."""
        return int(self.indptr.size - 1)

    def row(self, i: int) -> IntArray:
        """List ``i``, best first."""
        return self.items[self.indptr[i] : self.indptr[i + 1]]


Prefs: TypeAlias = PreferenceLists | Sequence[Sequence[int]]


@dataclass(frozen=True, eq=False)
class StableMatching:
    """A stable matching: pairs sorted by demand then specialist, who proposed, and who is left over."""

    demand_idx: IntArray
    expert_idx: IntArray
    proposing: Proposing
    unmatched_experts: IntArray
    unmatched_demands: IntArray
    expert_free: IntArray
    demand_free: IntArray

    @property
    def n_pairs(self) -> int:
        """Number of matched pairs."""
        return int(self.demand_idx.size)


@dataclass(frozen=True, eq=False)
class _Market:
    """Mutually acceptable pairs with each side's rank of the other (positions in the original lists)."""

    expert: IntArray
    demand: IntArray
    expert_rank: IntArray  # rank of the demand in the specialist's list
    demand_rank: IntArray  # rank of the specialist in the demand's list
    expert_capacity: IntArray
    demand_capacity: IntArray


def _as_prefs(prefs: Prefs, n_other: int, name: str) -> PreferenceLists:
    """Validated compressed preference lists."""
    p = prefs if isinstance(prefs, PreferenceLists) else PreferenceLists.from_lists(prefs)
    indptr = np.asarray(p.indptr, dtype=np.int64)
    items = np.asarray(p.items, dtype=np.int64)
    if indptr.ndim != 1 or indptr.size < 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise ValueError(f"{name}: malformed list boundaries")
    if items.ndim != 1 or items.size != indptr[-1]:
        raise ValueError(f"{name}: items do not match list boundaries")
    if items.size and (items.min() < 0 or items.max() >= n_other):
        raise ValueError(f"{name}: an index is out of range")
    return PreferenceLists(indptr, items)


def _as_capacity(capacity: npt.ArrayLike, n: int, name: str) -> IntArray:
    """Validated capacities."""
    cap = np.asarray(capacity)
    if cap.ndim == 0:
        cap = np.full(n, int(cap), dtype=np.int64)
    if cap.shape != (n,) or (cap.size and not np.issubdtype(cap.dtype, np.integer)):
        raise ValueError(f"{name} must hold one integer per list")
    cap = cap.astype(np.int64, copy=False)
    if cap.size and cap.min() < 0:
        raise ValueError(f"{name} must be >= 0")
    return cap


def _rank_table(prefs: PreferenceLists, n_other: int, name: str) -> tuple[IntArray, sp.csr_array]:
    """Owner of each list entry, and a sparse (owner, item) -> rank + 1 table; refuses repeated items."""
    lens = np.diff(prefs.indptr)
    owner = np.repeat(np.arange(lens.size, dtype=np.int64), lens)
    rank = np.arange(prefs.items.size, dtype=np.int64) - prefs.indptr[owner]
    table = sp.csr_array((rank + 1, (owner, prefs.items)), shape=(lens.size, n_other))
    if table.nnz != prefs.items.size:
        raise ValueError(f"{name}: a list ranks the same index twice")
    return owner, table


def _market(
    expert_prefs: Prefs, demand_prefs: Prefs, expert_capacity: npt.ArrayLike, demand_capacity: npt.ArrayLike
) -> _Market:
    """Validate the inputs and find every mutually acceptable pair."""
    n_e = len(expert_prefs)
    n_d = len(demand_prefs)
    ep = _as_prefs(expert_prefs, n_d, "expert_prefs")
    dp = _as_prefs(demand_prefs, n_e, "demand_prefs")
    e_cap = _as_capacity(expert_capacity, n_e, "expert_capacity")
    d_cap = _as_capacity(demand_capacity, n_d, "demand_capacity")
    e_owner, _ = _rank_table(ep, n_d, "expert_prefs")
    d_owner, d_table = _rank_table(dp, n_e, "demand_prefs")
    # For each specialist's entry (e, d): the rank of e in d's list, 0 if d does not rank e.
    d_rank_plus = np.asarray(d_table[ep.items, e_owner]).ravel() if ep.items.size else ep.items
    ok = d_rank_plus > 0
    entry = np.flatnonzero(ok)
    return _Market(
        expert=e_owner[entry],
        demand=ep.items[entry],
        expert_rank=entry - ep.indptr[e_owner[entry]],
        demand_rank=d_rank_plus[entry] - 1,
        expert_capacity=e_cap,
        demand_capacity=d_cap,
    )


def _deferred_acceptance(
    prop: IntArray,
    recv: IntArray,
    prop_rank: IntArray,
    recv_rank: IntArray,
    prop_cap: IntArray,
    recv_cap: IntArray,
    *,
    min_active: int | None = None,
) -> npt.NDArray[np.bool_]:
    """Proposer-optimal stable matching over the given acceptable pairs; returns which pairs are matched.

    Runs in vectorised rounds (every proposer with free capacity proposes to its next choices at once; every
    receiver keeps its best) while at least ``min_active`` proposers are active, then finishes one proposal at a
    time. Deferred acceptance may process proposals in any order and reaches the same matching.
    """
    min_active = max(_MIN_ACTIVE if min_active is None else min_active, 1)
    idx = np.flatnonzero((prop_cap[prop] > 0) & (recv_cap[recv] > 0))
    idx = idx[np.lexsort((prop_rank[idx], prop[idx]))]  # each proposer's list, best first
    n, n_r = idx.size, recv_cap.size
    starts = np.searchsorted(prop[idx], np.arange(prop_cap.size + 1))
    target, rank, owner = recv[idx], recv_rank[idx], prop[idx]
    ptr, end, need = starts[:-1].copy(), starts[1:], prop_cap.copy()
    width = int(np.minimum(recv_cap, np.bincount(target, minlength=n_r)).max()) if n else 1
    held = np.full((n_r, width), -1, dtype=np.int64)  # entries each receiver holds, best first
    while True:
        active = np.flatnonzero((need > 0) & (ptr < end))
        if active.size < min_active:
            break
        count = np.minimum(need[active], end[active] - ptr[active])
        total = np.cumsum(count)
        new = np.repeat(ptr[active] - total + count, count) + np.arange(total[-1])
        ptr[active] += count
        need[active] -= count
        touched = np.unique(target[new])
        old = held[touched].ravel()
        cand = np.concatenate([old[old >= 0], new])
        cand = cand[np.lexsort((rank[cand], target[cand]))]
        r = target[cand]
        group = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        pos = np.arange(cand.size) - np.repeat(group, np.diff(np.r_[group, cand.size]))
        keep = pos < recv_cap[r]
        held[touched] = -1
        held[r[keep], pos[keep]] = cand[keep]
        need += np.bincount(owner[cand[~keep]], minlength=need.size)
    entries = (
        _sequential_tail(held, active, ptr, end, need, target, rank, owner, recv_cap)
        if active.size
        else held[held >= 0]
    )
    matched = np.zeros(prop.size, dtype=bool)
    matched[idx[entries]] = True
    return matched


def _sequential_tail(
    held: IntArray,
    active: IntArray,
    ptr: IntArray,
    end: IntArray,
    need: IntArray,
    target: IntArray,
    rank: IntArray,
    owner: IntArray,
    recv_cap: IntArray,
) -> IntArray:
    """Finish deferred acceptance one proposal at a time from the rounds' state; return the held entries.

    A held proposal is one int, entry - receiver's rank * n: each receiver's heap has its worst proposal on top,
    a better proposal has a larger code, and code % n gives the entry back. ``held`` rows lose their order.
    """
    scale = max(target.size, 1)
    code = np.arange(target.size) - rank * scale
    slots = recv_cap - (held >= 0).sum(axis=1)
    # Built lazily: the tail is short, so only the receivers it reaches need heaps.
    holds: dict[int, list[int]] = {}
    heappush, heapreplace = heapq.heappush, heapq.heapreplace
    stack = active[::-1].tolist()
    while stack:
        p = stack.pop()
        k, stop, free = int(ptr[p]), int(end[p]), int(need[p])
        while free and k < stop:
            r = int(target[k])
            v = int(code[k])
            k += 1
            h = holds.get(r)
            if h is None:  # rows are best first, so reversed they ascend in code: already a heap
                h = holds[r] = [int(code[j]) for j in held[r, ::-1] if j >= 0]
            if slots[r]:
                slots[r] -= 1
                heappush(h, v)
                free -= 1
            elif v > h[0]:
                q = int(owner[heapreplace(h, v) % scale])
                free -= 1
                need[q] += 1
                stack.append(q)
        ptr[p], need[p] = k, free
    for r, h in holds.items():
        held[r] = -1
        held[r, : len(h)] = [v % scale for v in h]
    return held[held >= 0]


def _blocking(m: _Market, matched: npt.NDArray[np.bool_]) -> IntArray:
    """Blocking pairs (demand, expert) of a matching given as a mask over the market's acceptable pairs."""
    e_thr = _threshold(m.expert[matched], m.expert_rank[matched], m.expert_capacity)
    d_thr = _threshold(m.demand[matched], m.demand_rank[matched], m.demand_capacity)
    block = ~matched & (m.expert_rank < e_thr[m.expert]) & (m.demand_rank < d_thr[m.demand])
    out = np.column_stack([m.demand[block], m.expert[block]])
    return out[np.lexsort((out[:, 1], out[:, 0]))] if out.size else out.reshape(0, 2)


def _threshold(agent: IntArray, rank: IntArray, capacity: IntArray) -> IntArray:
    """Rank below which a partner tempts each agent: its worst partner's rank when full, else any rank."""
    count = np.bincount(agent, minlength=capacity.size)
    worst = np.full(capacity.size, -1, dtype=np.int64)
    np.maximum.at(worst, agent, rank)
    return np.where(count >= capacity, worst, np.iinfo(np.int64).max)


def _summary(m: _Market, matched: npt.NDArray[np.bool_], proposing: Proposing) -> StableMatching:
    """Package a matching mask as a StableMatching."""
    d, e = m.demand[matched], m.expert[matched]
    order = np.lexsort((e, d))
    e_free = m.expert_capacity - np.bincount(e, minlength=m.expert_capacity.size)
    d_free = m.demand_capacity - np.bincount(d, minlength=m.demand_capacity.size)
    return StableMatching(
        demand_idx=d[order],
        expert_idx=e[order],
        proposing=proposing,
        unmatched_experts=np.flatnonzero((e_free == m.expert_capacity) & (m.expert_capacity > 0)),
        unmatched_demands=np.flatnonzero((d_free == m.demand_capacity) & (m.demand_capacity > 0)),
        expert_free=e_free,
        demand_free=d_free,
    )


def stable_matching(
    expert_prefs: Prefs,
    demand_prefs: Prefs,
    expert_capacity: npt.ArrayLike,
    demand_capacity: npt.ArrayLike,
    *,
    proposing: Proposing = "experts",
    check: bool = True,
) -> StableMatching:
    """Capacitated deferred acceptance; specialist-proposing by default (optimal for the proposing side)."""
    if proposing not in ("experts", "demands"):
        raise ValueError("proposing must be 'experts' or 'demands'")
    m = _market(expert_prefs, demand_prefs, expert_capacity, demand_capacity)
    if proposing == "experts":
        matched = _deferred_acceptance(
            m.expert, m.demand, m.expert_rank, m.demand_rank, m.expert_capacity, m.demand_capacity
        )
    else:
        matched = _deferred_acceptance(
            m.demand, m.expert, m.demand_rank, m.expert_rank, m.demand_capacity, m.expert_capacity
        )
    if check and _blocking(m, matched).size:
        raise RuntimeError("deferred acceptance produced a blocking pair")  # a bug, never the input's fault
    return _summary(m, matched, proposing)


def blocking_pairs(
    expert_prefs: Prefs,
    demand_prefs: Prefs,
    expert_capacity: npt.ArrayLike,
    demand_capacity: npt.ArrayLike,
    demand_idx: npt.ArrayLike,
    expert_idx: npt.ArrayLike,
) -> IntArray:
    """Every blocking pair of the given matching, as rows ``(demand, expert)`` sorted; empty when stable.

    Refuses (``ValueError``) a matching that is not one: a pair used twice, an unacceptable pair, or an agent
    over capacity.
    """
    m = _market(expert_prefs, demand_prefs, expert_capacity, demand_capacity)
    d = np.asarray(demand_idx, dtype=np.int64).ravel()
    e = np.asarray(expert_idx, dtype=np.int64).ravel()
    if d.size != e.size:
        raise ValueError("demand_idx and expert_idx must have equal length")
    n_d = m.demand_capacity.size
    if d.size and (d.min() < 0 or d.max() >= n_d or e.min() < 0 or e.max() >= m.expert_capacity.size):
        raise ValueError("the matching uses an index out of range")
    key = np.sort(m.expert * n_d + m.demand)  # unique: lists have no repeats
    given = e * n_d + d
    pos = np.searchsorted(key, given)
    pos[pos == key.size] = 0
    if d.size and (key.size == 0 or np.any(key[pos] != given)):
        raise ValueError("the matching uses a pair that is not mutually acceptable")
    if np.unique(given).size != given.size:
        raise ValueError("the matching uses a pair twice")
    if np.any(np.bincount(e, minlength=m.expert_capacity.size) > m.expert_capacity) or np.any(
        np.bincount(d, minlength=n_d) > m.demand_capacity
    ):
        raise ValueError("the matching exceeds a capacity")
    matched = np.isin(m.expert * n_d + m.demand, given)
    return _blocking(m, matched)
