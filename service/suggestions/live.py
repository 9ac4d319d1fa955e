"""Each worker's matcher, kept current from the change log so a write shows in the very next suggestion request.

Every worker process builds one :class:`~matching.matcher.Matcher` at start-up (all specialists, all open demands,
each with its live load / filled headcount) and remembers the highest `record_change` id it has applied, its
*watermark*. Before answering, a request reads the change rows above the watermark, reloads the specialists and
demands they name (with fresh load, filled counts, ratings, conflicts, capacity, active flag, status) and upserts
or removes them — a handful of rows, not a refit. So a write committed before the request started is always seen,
whichever worker served the write.

Commit-order gaps. On PostgreSQL change ids come from a sequence, and a transaction that took id 100 may commit
after another that took 101: reading `id > 101` afterwards would miss 100 forever. So every id skipped below the
watermark is remembered as an open *gap* (kept as ranges) and re-read with the next requests until it shows up
(then applied — upserts are idempotent) or until `gap_timeout` seconds pass (a rolled-back transaction's ids never
show up). At start-up the ids missing among the last `startup_window` below the watermark are gaps too. On SQLite
writers are serialised and ids are handed out in commit order, so there are no gaps.

Refitting. Upserts reuse the vocabulary and idf learnt at fit time, so words unseen then cannot match. When the
matcher says a refit is worth it (`needs_refit`: drift or out-of-vocabulary share), a small corpus (at most
`inline_refit_docs` documents: a fraction of a second) is refitted at once; a larger one, once enough documents
changed text (`min_refit_changes`, or a tenth of the corpus if less: a few new words say little), is rebuilt from
the database in a background thread — never on the request path — and swapped in, then brought current from the
change log. A large batch of writes (an import while serving) is upserted by the next request, record by record.

Answers. A page of suggestions is a pure function of the matcher's state and the question, so each worker keeps
the last `cache_size` pages it computed and forgets them all whenever catching up, fitting or refitting changes the
state: a repeated question costs a lookup, and a write is still seen by the very next request.

Threads. uvicorn runs sync routes in a thread pool; one lock covers catching up and querying, so a request always
queries the state its own catch-up produced. The work is CPU-bound NumPy/SciPy and Python, never in `async def`.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import and_, func, or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Session, col, select

from matching.matcher import CandidatePairs, Matcher
from matching.records import DemandProfile, ExpertProfile
from matching.scoring import Suggestion
from service.common import RecordChange
from service.config import Settings
from service.demands.models import Demand, DemandStatus
from service.experts.models import Expert
from service.observability import matcher_index_size, matcher_refresh_seconds
from service.suggestions.profiles import load_experts, load_open_demands

log = logging.getLogger("expertmatch.matcher")

MatcherFactory = Callable[[], Matcher]

EXPLAIN_CACHE = 50_000
"""Specialists whose tokenised profile parts (for the evidence) a worker keeps: enough for every profile of a
provincial programme, so a warm worker never re-tokenises a profile to explain a suggestion."""


def default_matcher() -> Matcher:
    """The matcher every worker builds (library defaults, a cache for explanations sized for the programme)."""
    return Matcher(explain_cache=EXPLAIN_CACHE)


def matcher_factory(settings: Settings) -> MatcherFactory:
    """A factory of matchers with the settings' score weights, field weights and home province."""
    return partial(Matcher, explain_cache=EXPLAIN_CACHE, **settings.matching_options())


@dataclass(slots=True)
class _Gap:
    """Change ids lo..hi (inclusive) not seen yet although a higher one was; given up on after `deadline`."""

    lo: int
    hi: int
    deadline: float


@dataclass(slots=True)
class SyncStats:
    """What catching up has done, for logs, metrics and tests."""

    applied_changes: int = 0
    upserts: int = 0
    removals: int = 0
    gaps_filled: int = 0
    gaps_expired: int = 0
    inline_refits: int = 0
    background_refits: int = 0
    last_build_seconds: float = 0.0
    cached_answers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class LiveMatcher:
    """One worker's matcher plus the bookkeeping that keeps it in step with the database."""

    def __init__(
        self,
        engine: Engine,
        *,
        factory: MatcherFactory = default_matcher,
        gap_timeout: float = 600.0,
        startup_window: int = 1000,
        max_gaps: int = 256,
        inline_refit_docs: int = 300,
        min_refit_changes: int = 100,
        background_refit: bool = True,
        cache_size: int = 2048,
    ) -> None:
        self.engine = engine
        self.cache_size = cache_size
        self._answers: OrderedDict[tuple, tuple[list[Suggestion], int]] = OrderedDict()
        self.factory = factory
        self.gap_timeout = gap_timeout
        self.startup_window = startup_window
        self.max_gaps = max_gaps
        self.inline_refit_docs = inline_refit_docs
        self.min_refit_changes = min_refit_changes
        self.background_refit = background_refit
        self.stats = SyncStats()
        self._lock = threading.RLock()
        self._matcher: Matcher | None = None
        self._watermark = 0
        self._gaps: list[_Gap] = []
        self._refitting: threading.Thread | None = None
        self._closed = False
        self._built = False

    # ------------------------------------------------------------------ building
    def _fit(self, experts: dict[int, ExpertProfile], demands: dict[int, DemandProfile]) -> Matcher | None:
        """A matcher fitted on these records (None for an empty database: there is nothing to learn from)."""
        if not experts and not demands:
            return None
        started = time.perf_counter()
        matcher = self.factory().fit(experts.values(), demands.values())
        self.stats.last_build_seconds = time.perf_counter() - started
        matcher_refresh_seconds.observe(self.stats.last_build_seconds)
        log.info(
            "matcher fitted",
            extra={"experts": len(experts), "demands": len(demands), "seconds": self.stats.last_build_seconds},
        )
        return matcher

    def _snapshot(self, db_session: Session | None = None) -> tuple[Matcher | None, int, list[_Gap]]:
        """A matcher fitted on the database as it is now, with the watermark and gaps it is current to."""
        if db_session is None:
            with Session(self.engine) as own_session:
                return self._snapshot(own_session)
        # Read the watermark first: anything committed later is re-applied by catching up (idempotent).
        watermark = db_session.exec(select(func.coalesce(func.max(RecordChange.id), 0))).one()
        low = max(0, watermark - self.startup_window)
        present = db_session.exec(
            select(RecordChange.id)
            .where(col(RecordChange.id) > low, col(RecordChange.id) <= watermark)
            .order_by(col(RecordChange.id))
        ).all()
        experts = load_experts(db_session)
        demands = load_open_demands(db_session)
        gaps = _holes(low + 1, watermark, list(present), time.monotonic() + self.gap_timeout)
        return self._fit(experts, demands), watermark, gaps

    def build(self, db_session: Session | None = None) -> LiveMatcher:
        """Fit from the database (start-up, or the first request when start-up could not reach the tables)."""
        matcher, watermark, gaps = self._snapshot(db_session)
        with self._lock:
            self._matcher, self._watermark, self._gaps = matcher, watermark, gaps
            self._built = True
            self._answers.clear()
            self._report_size()
        return self

    def build_or_defer(self) -> LiveMatcher:
        """Fit at start-up; if the database is unreachable or not migrated yet, leave it to the first request."""
        try:
            return self.build()
        except (OperationalError, ProgrammingError) as exc:
            log.warning("matcher not built at start-up (%s); the first suggestion request builds it", exc.orig)
            return self

    def close(self) -> None:
        """Stop accepting background refits and wait for one in flight."""
        self._closed = True
        thread = self._refitting
        if thread is not None:
            thread.join(timeout=120)

    @property
    def matcher(self) -> Matcher | None:
        """The current matcher (None until the database holds a specialist or an open demand)."""
        return self._matcher

    @property
    def watermark(self) -> int:
        return self._watermark

    # ---------------------------------------------------------------- catching up
    def _change_query(self) -> Any:
        conditions = [col(RecordChange.id) > self._watermark]
        conditions += [and_(col(RecordChange.id) >= g.lo, col(RecordChange.id) <= g.hi) for g in self._gaps]
        return (
            select(RecordChange.id, RecordChange.kind, RecordChange.record_id)
            .where(or_(*conditions))
            .order_by(col(RecordChange.id))
        )

    def sync(self, db_session: Session) -> int:
        """Apply every change committed since the last catch-up; returns how many change rows were read."""
        with self._lock:
            if not self._built:
                self.build(db_session)
                return 0
            started = time.perf_counter()
            rows = db_session.exec(self._change_query()).all()
            now = time.monotonic()
            if rows:
                self._track(sorted(r[0] for r in rows), now)
                if self._matcher is None:
                    self._first_fit(db_session)
                else:
                    experts = sorted({r[2] for r in rows if r[1] == "expert"})
                    demands = sorted({r[2] for r in rows if r[1] == "demand"})
                    self._apply(self._matcher, db_session, experts, demands)
                self.stats.applied_changes += len(rows)
                self._answers.clear()
                matcher_refresh_seconds.observe(time.perf_counter() - started)
            self._expire(now)
            if self._matcher is not None:
                self._maybe_refit(self._matcher)
            if rows:
                self._report_size()
            return len(rows)

    def _report_size(self) -> None:
        """Publish the index size (specialists plus open demands) for /metrics."""
        matcher = self._matcher
        matcher_index_size.set(0 if matcher is None else len(matcher.experts_) + len(matcher.demands_))

    def _first_fit(self, db_session: Session) -> None:
        """The first records arrived in a database that was empty at start-up: fit now if few, else in the
        background."""
        n_docs = (
            db_session.exec(select(func.count()).select_from(Expert)).one()
            + db_session.exec(
                select(func.count()).select_from(Demand).where(Demand.status == DemandStatus.open.value)
            ).one()
        )
        if n_docs <= self.inline_refit_docs:
            self._matcher = self._fit(load_experts(db_session), load_open_demands(db_session))
            self.stats.inline_refits += 1
        else:
            self._start_background_refit()

    def _track(self, ids: list[int], now: float) -> None:
        """Advance the watermark over the ids read (sorted), opening gaps for ids skipped, closing gaps filled."""
        if self._gaps:
            kept: list[_Gap] = []
            for gap in self._gaps:
                inside = ids[bisect_left(ids, gap.lo) : bisect_right(ids, gap.hi)]
                if not inside:
                    kept.append(gap)
                    continue
                self.stats.gaps_filled += len(inside)
                kept.extend(_holes(gap.lo, gap.hi, inside, gap.deadline))
            self._gaps = kept
        if ids[-1] > self._watermark:
            above = ids[bisect_right(ids, self._watermark) :]
            self._gaps.extend(_holes(self._watermark + 1, above[-1], above, now + self.gap_timeout))
            self._watermark = above[-1]
        if len(self._gaps) > self.max_gaps:
            # Too many open gaps (a storm of rolled-back transactions): give up on the oldest.
            dropped = self._gaps[: len(self._gaps) - self.max_gaps]
            self._gaps = self._gaps[len(dropped) :]
            self.stats.gaps_expired += sum(g.hi - g.lo + 1 for g in dropped)
            log.warning("too many change-log gaps; gave up on %d", len(dropped))

    def _expire(self, now: float) -> None:
        if self._gaps and self._gaps[0].deadline <= now:
            kept = [g for g in self._gaps if g.deadline > now]
            self.stats.gaps_expired += sum(g.hi - g.lo + 1 for g in self._gaps if g.deadline <= now)
            self._gaps = kept

    def _apply(self, matcher: Matcher, db_session: Session, expert_ids: list[int], demand_ids: list[int]) -> None:
        """Reload the named records and upsert them (or remove them when gone, or a demand no longer open)."""
        experts = load_experts(db_session, expert_ids) if expert_ids else {}
        demands = load_open_demands(db_session, demand_ids) if demand_ids else {}
        for expert_id in expert_ids:
            profile = experts.get(expert_id)
            if profile is None:
                self.stats.removals += matcher.remove_expert(expert_id)
            else:
                matcher.upsert_expert(profile)
                self.stats.upserts += 1
        for demand_id in demand_ids:
            demand = demands.get(demand_id)
            if demand is None:
                self.stats.removals += matcher.remove_demand(demand_id)
            else:
                matcher.upsert_demand(demand)
                self.stats.upserts += 1

    # ------------------------------------------------------------------ refitting
    def _maybe_refit(self, matcher: Matcher) -> None:
        if not matcher.needs_refit():
            return
        n_docs = len(matcher.experts_) + len(matcher.demands_)
        if n_docs <= self.inline_refit_docs:
            matcher.refit()
            self.stats.inline_refits += 1
            self._answers.clear()
            return
        # A few out-of-vocabulary words in the first upserts say little: wait for enough changed text.
        changed = matcher.expert_index_.n_changed_ + matcher.demand_index_.n_changed_
        if changed >= min(self.min_refit_changes, max(1, n_docs // 10)):
            self._start_background_refit()

    def _start_background_refit(self) -> None:
        if self.background_refit and not self._closed and self._refitting is None:
            self._refitting = threading.Thread(target=self._refit_in_background, name="matcher-refit", daemon=True)
            self._refitting.start()

    def _refit_in_background(self) -> None:
        """Rebuild from the database off the request path, then swap in; catching up covers what came since."""
        try:
            matcher, watermark, gaps = self._snapshot()
            with self._lock:
                # Changes above the snapshot's watermark are re-applied by the next catch-up.
                self._matcher = matcher
                self._watermark = min(self._watermark, watermark)
                self._gaps = _merge(self._gaps, gaps)
                self._answers.clear()
                self._report_size()
                self.stats.background_refits += 1
        except Exception:
            log.exception("background matcher refit failed; keeping the current index")
        finally:
            self._refitting = None

    def refit_now(self) -> None:
        """Rebuild from the database and swap in (tests, administrators' tooling)."""
        matcher, watermark, gaps = self._snapshot()
        with self._lock:
            self._matcher = matcher
            self._watermark = min(self._watermark, watermark)
            self._gaps = _merge(self._gaps, gaps)
            self._answers.clear()

    # -------------------------------------------------------------------- queries
    def suggest_experts(
        self, db_session: Session, demand: DemandProfile, *, limit: int, offset: int, include_excluded: bool
    ) -> tuple[list[Suggestion], int]:
        """Ranked specialists for a demand, after catching up (the indexed demand when it is there)."""
        with self._lock:
            self.sync(db_session)
            matcher = self._matcher
            if matcher is None:
                return [], 0
            paging = {"limit": limit, "offset": offset, "include_excluded": include_excluded}
            if demand.id not in matcher.demands_:  # not indexed yet (a gap): rank the record as read, uncached
                return matcher.suggest_experts(demand, **paging)
            key = ("experts", demand.id, limit, offset, include_excluded)
            return self._answer(key, lambda: matcher.suggest_experts(demand.id, **paging))

    def suggest_demands(
        self, db_session: Session, expert_id: int, *, limit: int, offset: int, include_excluded: bool
    ) -> tuple[list[Suggestion], int]:
        """Ranked open demands for a specialist, after catching up (none when the specialist is unknown)."""
        with self._lock:
            self.sync(db_session)
            matcher = self._matcher
            if matcher is None or expert_id not in matcher.experts_:
                return [], 0
            paging = {"limit": limit, "offset": offset, "include_excluded": include_excluded}
            key = ("demands", expert_id, limit, offset, include_excluded)
            return self._answer(key, lambda: matcher.suggest_demands(expert_id, **paging))

    def _answer(self, key: tuple, compute: Callable[[], tuple[list[Suggestion], int]]) -> tuple[list[Suggestion], int]:
        """The page for this question from the cache of the current state, else computed and remembered."""
        found = self._answers.get(key)
        if found is not None:
            self._answers.move_to_end(key)
            self.stats.cached_answers += 1
            return found
        found = compute()
        if self.cache_size > 0:
            self._answers[key] = found
            while len(self._answers) > self.cache_size:
                self._answers.popitem(last=False)
        return found

    def candidate_pairs(self, db_session: Session, demand_ids: Sequence[int] | None, k: int) -> CandidatePairs:
        """The assignment's candidate graph over the open demands among `demand_ids` (all open ones when None),
        with the free capacity and open headcount the matcher holds after catching up."""
        with self._lock:
            self.sync(db_session)
            matcher = self._matcher
            if matcher is None:
                empty = np.zeros(0, dtype=np.int64)
                return CandidatePairs(empty, empty, empty, empty, np.zeros(0), empty, empty)
            known = matcher.demands_
            wanted = sorted(known) if demand_ids is None else [d for d in demand_ids if d in known]
            return matcher.candidate_pairs(wanted, k_per_demand=k, k_per_expert=k)

    def score_pairs(self, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Suggestion]:
        """Explained scores of (demand_id, expert_id) pairs both sides of which the matcher knows."""
        out: dict[tuple[int, int], Suggestion] = {}
        for demand_id, expert_id in pairs:
            # One pair at a time under the lock, so a long list never holds up this worker's suggestion requests.
            with self._lock:
                matcher = self._matcher
                if matcher is not None and demand_id in matcher.demands_ and expert_id in matcher.experts_:
                    out[(demand_id, expert_id)] = matcher.score_pair(demand_id, expert_id)
        return out


def _holes(lo: int, hi: int, present: list[int], deadline: float) -> list[_Gap]:
    """The ranges of lo..hi (inclusive) not in `present` (sorted ids)."""
    out: list[_Gap] = []
    start = lo
    for i in present:
        if i < start or i > hi:
            continue
        if i > start:
            out.append(_Gap(start, i - 1, deadline))
        start = i + 1
    if start <= hi:
        out.append(_Gap(start, hi, deadline))
    return out


def _merge(a: list[_Gap], b: list[_Gap]) -> list[_Gap]:
    """Both gap lists, oldest deadline first (overlaps are harmless: re-reads are idempotent)."""
    return sorted([*a, *b], key=lambda g: g.deadline)


PairScorer = Callable[[Sequence[tuple[int, int]]], dict[tuple[int, int], float]]


def scorer_for(app: Any, db_session: Session) -> PairScorer | None:
    """Pair scores from the app's matcher, caught up now: call it before the transaction writes anything, so the
    workflow records each new engagement's score as the suggestions showed it (None without a matcher)."""
    live: LiveMatcher | None = getattr(app.state, "matcher", None)
    if live is None:
        return None
    live.sync(db_session)

    def score(pairs: Sequence[tuple[int, int]]) -> dict[tuple[int, int], float]:
        return {pair: s.score for pair, s in live.score_pairs(pairs).items()}

    return score
