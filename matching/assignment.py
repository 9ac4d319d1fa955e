"""Programme assignment: cover the most demands, then maximise the total score, solved exactly.

Model
-----
Candidate pairs ``(demand_idx[p], expert_idx[p], score[p])`` form a bipartite graph. A pairing uses each pair at
most once, gives demand ``d`` at most ``headcount[d]`` specialists and specialist ``e`` at most ``capacity[e]``
demands. Among all pairings it maximises, lexicographically, first the number of covered demands (demands with at
least one specialist), then the total score.

Scores are turned into integers ``c[p] = round(score[p] / resolution)`` (``resolution`` defaults to ``1e-6``):
the pairing is exactly optimal for the rounded scores, so its true total is within ``k * resolution`` of the true
optimum, ``k`` the number of pairs used (half a unit of rounding on each side of each pair).

Min-cost flow (OR-Tools ``SimpleMinCostFlow``) on nodes source ``s``, one node per demand, one per specialist, sink
``t``. Arcs: ``s -> d`` "first slot" with capacity ``min(1, headcount[d])`` and cost ``-B``; ``s -> d`` "further
slots" with capacity ``headcount[d] - 1`` and cost 0; ``d -> e`` for each candidate pair, capacity 1, cost ``-c[p]``;
``e -> t`` with capacity ``capacity[e]``, cost 0; a bypass ``s -> t`` with cost 0 and capacity ``F``, so no unit is
forced through the graph. ``s`` supplies ``F = U`` units and ``t`` absorbs them, where
``U = min(sum(headcount), sum(capacity), n_pairs)`` bounds the number of pairs any pairing uses; the coverage bonus
``B = U * max(c) + 1`` therefore exceeds the largest possible total score.

Proof of correctness.
(1) Integral flows and pairings correspond one to one: by the integrality theorem the min-cost flow is integral;
unit capacities on pair arcs use each pair at most once, the two ``s -> d`` arcs carry at most ``headcount[d]``
units in all, and ``e -> t`` carries at most ``capacity[e]``. Conversely any pairing routes as such a flow, the
bypass taking the remainder ``F - |pairing| >= 0``.
(2) In a min-cost flow, a demand receiving any flow uses its first-slot arc: otherwise moving one unit from its
further-slots arc to its first-slot arc lowers the cost by ``B > 0``. Hence the cost of an optimal flow is
``-(B * C + S)``, ``C`` the number of covered demands and ``S`` the rounded total score, and the flow minimises it.
(3) ``0 <= S <= U * max(c) < B`` for every pairing, so ``B * C + S`` orders pairings lexicographically by
``(C, S)``: if ``C1 > C2`` then ``B*C1 + S1 >= B*C1 > B*C2 + S2``. The minimum-cost flow is therefore a
lexicographic optimum.

Working set with pricing (why it is still exact). The flow is first solved on a subset of the pair arcs: each
demand's ``working_set_per_node`` best pairs, and each specialist's when total capacity is below total headcount
(specialists are then the scarce side). A specialist whose capacity cannot bind there (at least as many slots as
arcs in the working set, or no arc at all) gets no node: its arcs go straight to the sink, which changes no flow's
cost or feasibility. Every excluded arc is then priced with node potentials ``pi``: shortest-path distances in the
residual graph of the restricted optimum (it has no negative cycle, so Bellman-Ford from a virtual root joined to
every node gives them; they satisfy ``cost(u, v) + pi[u] - pi[v] >= 0`` on every residual arc), a specialist without
a node taking the sink's potential (its ``e -> t`` or ``t -> e`` residual arcs cost 0 and its pair arcs then have
the same reduced costs as their contracted copies). The supply ``F = U`` and the bypass are the same as in the full
problem, so the full residual graph is the restricted one plus the excluded pair arcs ``d -> e`` (unused, so forward
only) and those specialists' arcs to and from ``t``. If every excluded pair arc also has non-negative reduced cost
``-c + pi[d] - pi[e]``, ``pi`` is a feasible potential for the full residual graph, which then has no negative cycle,
so the flow is optimal for the full problem (the negative-cycle optimality condition). Otherwise each node's most
violated arcs, and the cheapest other excluded arcs up to a quarter of the working set, join it and the restricted
problem is solved again; the set only grows (to every arc once it passes half of them), so this ends.

Ties: the result is deterministic for a given set of pairs (inputs are put in ``(demand, expert)`` order first);
among several equally good pairings the one returned is the solver's choice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from ortools.graph.python import min_cost_flow
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

__all__ = ["Assignment", "FeasibilityReport", "assign", "assign_milp", "feasibility_report"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_MAX_COST = 2**62
_ADD_FRACTION = 4


@dataclass(frozen=True, eq=False)
class FeasibilityReport:
    """What can and cannot be achieved before solving: headcount against capacity, unmatched nodes, a bound."""

    n_demands: int
    n_experts: int
    n_pairs: int
    total_headcount: int
    total_capacity: int
    headcount_excess: int
    demands_without_candidates: IntArray
    experts_without_candidates: IntArray
    coverage_upper_bound: int

    @property
    def messages(self) -> tuple[str, ...]:
        """The report in plain sentences, naming demands and specialists by position."""
        return self.describe()

    def describe(
        self, demand_ids: npt.ArrayLike | None = None, expert_ids: npt.ArrayLike | None = None
    ) -> tuple[str, ...]:
        """The report in plain sentences, naming demands and specialists by these ids (positions when omitted)."""
        no_demand = self.demands_without_candidates
        no_expert = self.experts_without_candidates
        if demand_ids is not None:
            no_demand = np.asarray(demand_ids)[no_demand]
        if expert_ids is not None:
            no_expert = np.asarray(expert_ids)[no_expert]
        lines = []
        if self.headcount_excess > 0:
            lines.append(
                f"Open headcount {self.total_headcount} exceeds free capacity {self.total_capacity} "
                f"by {self.headcount_excess}: at least {self.headcount_excess} slots stay empty."
            )
        else:
            lines.append(f"Open headcount {self.total_headcount} fits within free capacity {self.total_capacity}.")
        if no_demand.size:
            lines.append(f"{no_demand.size} demand(s) have no candidate at all: {_preview(no_demand)}.")
        if no_expert.size:
            lines.append(f"{no_expert.size} specialist(s) with free capacity have no candidate: {_preview(no_expert)}.")
        lines.append(f"At most {self.coverage_upper_bound} demand(s) can be covered.")
        return tuple(lines)


@dataclass(frozen=True, eq=False)
class Assignment:
    """Chosen pairs (sorted by demand, then specialist) with their totals and the pre-solve report."""

    demand_idx: IntArray
    expert_idx: IntArray
    score: FloatArray
    pair_idx: IntArray
    total_score: float
    covered_demands: int
    solve_seconds: float
    optimal: bool
    report: FeasibilityReport

    @property
    def n_pairs(self) -> int:
        """Number of chosen pairs."""
        return int(self.demand_idx.size)


@dataclass(frozen=True, eq=False)
class _Instance:
    """Validated input in (demand, expert) order; ``order`` maps back to the caller's positions."""

    demand_idx: IntArray
    expert_idx: IntArray
    score: FloatArray
    order: IntArray
    headcount: IntArray
    capacity: IntArray


def _preview(idx: IntArray, limit: int = 10) -> str:
    """First few ids as text."""
    head = ", ".join(str(int(i)) for i in idx[:limit])
    return head + (", ..." if idx.size > limit else "")


def _as_counts(values: npt.ArrayLike, name: str) -> IntArray:
    """A 1-D array of non-negative integers."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integers")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be >= 0")
    return arr


def _validate(
    demand_idx: npt.ArrayLike,
    expert_idx: npt.ArrayLike,
    score: npt.ArrayLike,
    headcount: npt.ArrayLike,
    capacity: npt.ArrayLike,
) -> _Instance:
    """Check shapes, ranges and uniqueness; return the pairs in (demand, expert) order."""
    hc = _as_counts(headcount, "headcount")
    cap = _as_counts(capacity, "capacity")
    d = np.asarray(demand_idx)
    e = np.asarray(expert_idx)
    s = np.asarray(score, dtype=np.float64)
    if not (d.ndim == e.ndim == s.ndim == 1) or not (d.size == e.size == s.size):
        raise ValueError("demand_idx, expert_idx and score must be 1-D arrays of equal length")
    if d.size and not (np.issubdtype(d.dtype, np.integer) and np.issubdtype(e.dtype, np.integer)):
        raise ValueError("demand_idx and expert_idx must hold integers")
    d = d.astype(np.int64, copy=False)
    e = e.astype(np.int64, copy=False)
    if d.size:
        if d.min() < 0 or d.max() >= hc.size:
            raise ValueError("demand_idx out of range of headcount")
        if e.min() < 0 or e.max() >= cap.size:
            raise ValueError("expert_idx out of range of capacity")
        if not np.isfinite(s).all() or s.min() < 0.0 or s.max() > 1.0:
            raise ValueError("score must be finite and in [0, 1]")
    key = d * max(cap.size, 1) + e
    if key.size > 1 and not bool(np.all(key[1:] > key[:-1])):
        order = np.argsort(key, kind="stable")
        key = key[order]
        if bool(np.any(key[1:] == key[:-1])):
            raise ValueError("a (demand, expert) pair appears more than once")
        d, e, s = d[order], e[order], s[order]
    else:
        order = np.arange(d.size, dtype=np.int64)
    return _Instance(d, e, s, order, hc, cap)


def _report(inst: _Instance) -> FeasibilityReport:
    """Feasibility report of a validated instance."""
    n_d, n_e = inst.headcount.size, inst.capacity.size
    deg_d = np.bincount(inst.demand_idx, minlength=n_d)
    deg_e = np.bincount(inst.expert_idx, minlength=n_e)
    usable = (inst.headcount[inst.demand_idx] > 0) & (inst.capacity[inst.expert_idx] > 0)
    use_d = np.bincount(inst.demand_idx[usable], minlength=n_d)
    use_e = np.bincount(inst.expert_idx[usable], minlength=n_e)
    total_hc, total_cap = int(inst.headcount.sum()), int(inst.capacity.sum())
    bound = min(int(np.count_nonzero(use_d)), int(np.minimum(inst.capacity, use_e).sum()))
    return FeasibilityReport(
        n_demands=n_d,
        n_experts=n_e,
        n_pairs=int(inst.demand_idx.size),
        total_headcount=total_hc,
        total_capacity=total_cap,
        headcount_excess=max(0, total_hc - total_cap),
        demands_without_candidates=np.flatnonzero((deg_d == 0) & (inst.headcount > 0)).astype(np.int64),
        experts_without_candidates=np.flatnonzero((deg_e == 0) & (inst.capacity > 0)).astype(np.int64),
        coverage_upper_bound=bound,
    )


def feasibility_report(
    demand_idx: npt.ArrayLike,
    expert_idx: npt.ArrayLike,
    score: npt.ArrayLike,
    headcount: npt.ArrayLike,
    capacity: npt.ArrayLike,
) -> FeasibilityReport:
    """Headcount against capacity, demands and specialists without candidates, a coverage bound."""
    return _report(_validate(demand_idx, expert_idx, score, headcount, capacity))


def _max_pairs(c: IntArray, headcount: IntArray, capacity: IntArray) -> int:
    """U: no pairing uses more pairs than this."""
    return min(int(headcount.sum()), int(capacity.sum()), int(c.size))


def _bonus(c: IntArray, headcount: IntArray, capacity: IntArray) -> int:
    """Coverage bonus B: one more than the largest total rounded score any pairing can reach."""
    return _max_pairs(c, headcount, capacity) * (int(c.max()) if c.size else 0) + 1


def _potentials(tails: IntArray, heads: IntArray, costs: IntArray, n_nodes: int) -> IntArray:
    """Shortest-path distances from a virtual root joined to every node (queue-style Bellman-Ford, vectorised)."""
    order = np.argsort(tails, kind="stable")
    tails, heads, costs = tails[order], heads[order], costs[order]
    indptr = np.searchsorted(tails, np.arange(n_nodes + 1))
    dist = np.zeros(n_nodes, dtype=np.int64)
    active = np.arange(n_nodes)
    for _ in range(n_nodes + 1):
        starts, lens = indptr[active], indptr[active + 1] - indptr[active]
        total = int(lens.sum())
        if total == 0:
            return dist
        offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
        new = dist.copy()
        np.minimum.at(new, heads[offsets], dist[tails[offsets]] + costs[offsets])
        active = np.flatnonzero(new < dist)
        dist = new
        if active.size == 0:
            return dist
    raise RuntimeError("negative cycle in the residual graph: the restricted flow is not optimal")


def _solve_flow(
    d: IntArray, e: IntArray, c: IntArray, headcount: IntArray, capacity: IntArray, bonus: int, supply: int
) -> tuple[npt.NDArray[np.bool_], IntArray]:
    """Min-cost flow on the given pair arcs; return which carry flow and potentials (demands, experts, s, t).

    Only specialists whose capacity can bind (fewer slots than arcs here) get a node; the others' arcs go straight
    to the sink, and those specialists, like the ones without an arc here, take the sink's potential: their only
    other residual arcs are ``e -> t`` or ``t -> e`` at cost 0, which it satisfies with equality.
    """
    n_d, n_e, n_p = headcount.size, capacity.size, c.size
    binding = capacity < np.bincount(e, minlength=n_e)
    node_of = np.full(n_e, -1, dtype=np.int64)
    present = np.flatnonzero(binding)
    m_e = present.size
    src, snk = n_d + m_e, n_d + m_e + 1
    node_of[present] = n_d + np.arange(m_e)
    head = node_of[e]
    head[head < 0] = snk
    dn = np.arange(n_d, dtype=np.int64)
    tails = np.concatenate([np.full(2 * n_d, src), d, n_d + np.arange(m_e), [src]]).astype(np.int64)
    heads = np.concatenate([dn, dn, head, np.full(m_e, snk), [snk]]).astype(np.int64)
    caps = np.concatenate(
        [np.minimum(headcount, 1), np.maximum(headcount - 1, 0), np.ones(n_p, np.int64), capacity[present], [supply]]
    ).astype(np.int64)
    costs = np.concatenate([np.full(n_d, -bonus), np.zeros(n_d, np.int64), -c, np.zeros(m_e, np.int64), [0]]).astype(
        np.int64
    )
    if bonus * (n_d + m_e + 3) >= _MAX_COST:
        raise ValueError("instance too large for this resolution: use a coarser resolution")
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails.astype(np.int32), heads.astype(np.int32), caps, costs)
    flow.set_nodes_supplies(np.array([src, snk], dtype=np.int32), np.array([supply, -supply], dtype=np.int64))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow ended with status {status}")
    f = flow.flows(arcs)
    fwd, bwd = f < caps, f > 0
    local = _potentials(
        np.concatenate([tails[fwd], heads[bwd]]),
        np.concatenate([heads[fwd], tails[bwd]]),
        np.concatenate([costs[fwd], -costs[bwd]]),
        n_d + m_e + 2,
    )
    pi = np.empty(n_d + n_e + 2, dtype=np.int64)
    pi[:n_d] = local[:n_d]
    pi[n_d : n_d + n_e] = local[snk]
    pi[n_d + present] = local[n_d : n_d + m_e]
    pi[-2:] = local[-2:]
    return f[2 * n_d : 2 * n_d + n_p] > 0, pi


def _group_by(key: IntArray, n_groups: int) -> tuple[IntArray, IntArray]:
    """A stable permutation grouping equal keys, and the groups' boundaries in it."""
    small = np.uint16 if n_groups <= np.iinfo(np.uint16).max else np.uint32
    order = np.argsort(key.astype(small), kind="stable")
    return order, np.searchsorted(key[order], np.arange(n_groups + 1))


def _top_per_group(indptr: IntArray, values: IntArray, k: int) -> npt.NDArray[np.bool_]:
    """Mark each contiguous group's ``k`` largest values (ties at the k-th value all kept)."""
    n, n_groups = values.size, indptr.size - 1
    lens = np.diff(indptr)
    width = int(lens.max()) if n else 0
    if width <= k:
        return np.ones(n, dtype=bool)
    if n == n_groups * width:  # every group equally long: a plain matrix
        table = values.reshape(n_groups, width)
        kth = np.partition(table, width - k, axis=1)[:, width - k]
        return (table >= kth[:, None]).ravel()
    group = np.repeat(np.arange(n_groups), lens)
    if n_groups * width <= 2 * n + 4096:
        low = np.iinfo(np.int64).min
        padded = np.full((n_groups, width), low, dtype=np.int64)
        padded[group, np.arange(n) - indptr[group]] = values
        kth = np.partition(padded, width - k, axis=1)[:, width - k]
        return values >= kth[group]
    # Very unequal groups: peel each group's largest value level until it has k values.
    keep = np.zeros(n, dtype=bool)
    rest = values.astype(np.float64)
    starts = indptr[:-1][lens > 0]
    taken = np.zeros(n_groups, dtype=np.int64)
    for _ in range(k):
        best = np.full(n_groups, -np.inf)
        best[group[starts]] = np.maximum.reduceat(rest, starts)
        best[taken >= k] = np.inf
        hit = (rest == best[group]) & (rest > -np.inf)
        keep |= hit
        rest[hit] = -np.inf
        taken += np.bincount(group[hit], minlength=n_groups)
    return keep


def assign(
    demand_idx: npt.ArrayLike,
    expert_idx: npt.ArrayLike,
    score: npt.ArrayLike,
    headcount: npt.ArrayLike,
    capacity: npt.ArrayLike,
    *,
    resolution: float = 1e-6,
    working_set_per_node: int = 6,
) -> Assignment:
    """Cover the most demands, then maximise the total score, exactly; ``working_set_per_node`` tunes speed only."""
    start = time.perf_counter()
    if not resolution > 0:
        raise ValueError("resolution must be > 0")
    if working_set_per_node < 0:
        raise ValueError("working_set_per_node must be >= 0")
    inst = _validate(demand_idx, expert_idx, score, headcount, capacity)
    report = _report(inst)
    hc, cap = inst.headcount, inst.capacity
    usable = np.flatnonzero((hc[inst.demand_idx] > 0) & (cap[inst.expert_idx] > 0))
    d, e = inst.demand_idx[usable], inst.expert_idx[usable]
    c = np.rint(inst.score[usable] / resolution).astype(np.int64)
    chosen = np.zeros(usable.size, dtype=bool)
    if usable.size:
        bonus, supply = _bonus(c, hc, cap), _max_pairs(c, hc, cap)
        k = max(working_set_per_node, 1)
        # Specialists' own best pairs matter when they are the scarce side; otherwise they would only bring
        # many idle specialist nodes into the flow graph.
        by_expert = _group_by(e, cap.size) if cap.sum() < hc.sum() else None

        def top(values: IntArray, among: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.bool_]:
            """Each demand's (and, if scarce, specialist's) k largest values, among the marked positions."""
            keep = np.zeros(c.size, dtype=bool)
            idx = np.arange(c.size) if among is None else np.flatnonzero(among)
            keep[idx[_top_per_group(np.searchsorted(d[idx], np.arange(hc.size + 1)), values[idx], k)]] = True
            if by_expert is not None:
                order, indptr = by_expert
                if among is not None:
                    order = order[among[order]]
                    indptr = np.searchsorted(e[order], np.arange(cap.size + 1))
                keep[order[_top_per_group(indptr, values[order], k)]] = True
            return keep

        work = top(c) if k * (hc.size + cap.size) < c.size else np.ones(c.size, dtype=bool)
        while True:
            ws = np.flatnonzero(work)
            used, pi = _solve_flow(d[ws], e[ws], c[ws], hc, cap, bonus, supply)
            if ws.size == usable.size:
                break
            reduced = pi[d] - pi[hc.size + e] - c
            reduced[work] = np.iinfo(np.int64).max
            violating = reduced < 0
            if not violating.any():
                break
            # Each node's most violated arcs join; then, to save rounds, the cheapest other excluded ones.
            add = top(-reduced, violating)
            work |= add
            n_more = min(ws.size // _ADD_FRACTION, usable.size - ws.size) - int(np.count_nonzero(add))
            if n_more > 0:
                reduced[work] = np.iinfo(np.int64).max
                work[np.argpartition(reduced, n_more - 1)[:n_more]] = True
            if 2 * int(np.count_nonzero(work)) > usable.size:
                work[:] = True
        chosen[ws[used]] = True
    pick = usable[chosen]
    return _result(inst, pick, report, start, optimal=True)


def _result(inst: _Instance, pick: IntArray, report: FeasibilityReport, start: float, *, optimal: bool) -> Assignment:
    """Package chosen positions (in validated order) as an Assignment."""
    pick = np.sort(pick)
    sc = inst.score[pick]
    return Assignment(
        demand_idx=inst.demand_idx[pick],
        expert_idx=inst.expert_idx[pick],
        score=sc,
        pair_idx=inst.order[pick],
        total_score=float(sc.sum()),
        covered_demands=int(np.unique(inst.demand_idx[pick]).size),
        solve_seconds=time.perf_counter() - start,
        optimal=optimal,
        report=report,
    )


def assign_milp(
    demand_idx: npt.ArrayLike,
    expert_idx: npt.ArrayLike,
    score: npt.ArrayLike,
    headcount: npt.ArrayLike,
    capacity: npt.ArrayLike,
    *,
    resolution: float = 1e-6,
    time_limit: float | None = None,
    relaxation: bool = False,
) -> Assignment:
    """Reference solver: the same lexicographic objective as an integer program for SciPy's HiGHS ``milp``.

    Variables ``x[p]`` (pair used) and ``y[d]`` (demand covered, ``y[d] <= sum of x over d``); objective
    ``B * sum(y) + sum(c * x)`` with the same rounded scores and bonus as ``assign``, asked for a zero MIP gap.
    The constraint matrix is totally unimodular (Ghouila-Houri: put each demand's two rows on one side and the
    specialists' rows on the other, except a demand's coverage row chosen without its headcount row, which goes
    with the specialists), so every vertex of the LP relaxation is integral: ``relaxation=True`` solves that LP with
    HiGHS's dual simplex (``linprog``) instead, much faster at the same optimum. ``optimal`` is False when
    ``time_limit`` stopped the solver (the incumbent, if any, is returned) or, for the LP, if a value came out
    fractional. HiGHS does not check the limit in every phase, so a caller needing a hard cap should use a process.

    Not a substitute: ``scipy.optimize.linear_sum_assignment`` on a score matrix expanded on both sides (one row per
    headcount slot, one column per capacity slot) can pair the same demand and specialist twice, so its optimum is
    only an upper bound on this problem's.
    """
    start = time.perf_counter()
    inst = _validate(demand_idx, expert_idx, score, headcount, capacity)
    report = _report(inst)
    hc, cap = inst.headcount, inst.capacity
    n_d, n_e = hc.size, cap.size
    usable = np.flatnonzero((hc[inst.demand_idx] > 0) & (cap[inst.expert_idx] > 0))
    if usable.size == 0:
        return _result(inst, usable, report, start, optimal=True)
    d, e = inst.demand_idx[usable], inst.expert_idx[usable]
    c = np.rint(inst.score[usable] / resolution).astype(np.int64)
    bonus = _bonus(c, hc, cap)
    n_p = usable.size
    # Objective in score units (rounded scores), so coefficients stay small for HiGHS.
    obj = -np.concatenate([c * resolution, np.full(n_d, bonus * resolution)])
    p = np.arange(n_p)
    cover_row = n_d + n_e
    rows = np.concatenate([d, n_d + e, cover_row + d, cover_row + np.arange(n_d)])
    cols = np.concatenate([p, p, p, n_p + np.arange(n_d)])
    vals = np.concatenate([np.ones(2 * n_p), -np.ones(n_p), np.ones(n_d)])
    a = sp.csr_array((vals, (rows, cols)), shape=(2 * n_d + n_e, n_p + n_d))
    ub = np.concatenate([hc, cap, np.zeros(n_d)]).astype(np.float64)
    upper = np.concatenate([np.ones(n_p), np.minimum(hc, 1)])
    if relaxation:
        options: dict[str, float | bool] = {} if time_limit is None else {"time_limit": float(time_limit)}
        res = linprog(
            obj,
            A_ub=a,
            b_ub=ub,
            bounds=np.column_stack([np.zeros(upper.size), upper]),
            method="highs-ds",
            options=options,
        )
        x = res.x
        ok = res.status == 0 and x is not None and bool(np.all(np.minimum(x, 1 - x) < 1e-6))
    else:
        lb = np.concatenate([np.zeros(n_d + n_e), np.full(n_d, -np.inf)])
        options = {"mip_rel_gap": 0.0, "disp": False}
        if time_limit is not None:
            options["time_limit"] = float(time_limit)
        res = milp(
            obj,
            constraints=LinearConstraint(a, lb, ub),
            integrality=np.ones(n_p + n_d),
            bounds=Bounds(0, upper),
            options=options,
        )
        x = res.x
        ok = res.status == 0
    if x is None:
        return _result(inst, usable[:0], report, start, optimal=False)
    return _result(inst, usable[x[:n_p] > 0.5], report, start, optimal=ok)
