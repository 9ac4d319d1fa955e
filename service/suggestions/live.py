"""Each worker's matcher, kept current from the change log so a write shows in the very next suggestion request.

State. A worker holds one :class:`IndexState`: a fitted :class:`~matching.matcher.Matcher` (all specialists, all
open demands, each with its live load / filled headcount), the public cards the responses need (specialists'
contacts, enterprises' names and contacts: names and fields are never read from the database per request), and the
highest `record_change` id it reflects, its *watermark*, with the open *gaps* below it.

Catching up. Before answering, a request asks whether any change row lies above the watermark or in a gap. On
PostgreSQL that check is one round trip on a few autocommit connections of the worker's own (no pre-ping, no
BEGIN/ROLLBACK, no lock); when it finds nothing, and no other request is applying what it read, the request goes
straight to its answer. Otherwise (and always on SQLite) it reads those change rows, reloads the records they name,
gives its database connection back, and only then applies them to the index and ranks: no connection is ever held
while ranking or while waiting for another request's ranking. Reads are serialised (`_sync_lock`) so deltas are
applied in the order they were read; ranking and applying share the index lock (`_lock`). Lock order is always
`_sync_lock` then `_lock`.

Commit-order gaps. On PostgreSQL change ids come from a sequence, and a transaction that took id 100 may commit
after another that took 101: reading `id > 101` afterwards would miss 100 forever. So every id skipped below the
watermark is remembered as an open gap (kept as ranges) and re-read with the next requests until it shows up
(then applied — upserts are idempotent) or until `gap_timeout` seconds pass (a rolled-back transaction's ids never
show up). A snapshot treats the ids missing among the last `startup_window` below its watermark as gaps too. On
SQLite writers are serialised and ids are handed out in commit order, so there are no gaps.

Builds and warming. A full build (a snapshot of the database, fitted) runs in a background thread: at start-up,
when the first records arrive in a database that was empty (more than `inline_refit_docs` of them), after a batch
of writes naming more than `inline_changes` records (a bulk import), and when the vocabulary has drifted (below).
Before it is swapped in, the new state catches up from its snapshot's watermark to the current change log, so it
holds every committed record. Until then a worker that is *warming* (no complete index: start-up, or a batch too
large to apply inline) answers no suggestion from a partial index: the request waits up to `warmup_wait_s`, then
answers 503 `index-warming` with Retry-After — never a 200 with an empty or partial list. A vocabulary refit is not
warming: the current index holds every record meanwhile and keeps serving.

Refitting. Upserts reuse the vocabulary and idf learnt at fit time, so words unseen then cannot match. When the
matcher says a refit is worth it (`needs_refit`: drift or out-of-vocabulary share), a small corpus (at most
`inline_refit_docs` documents) is refitted at once; a larger one, once enough documents changed text
(`min_refit_changes`, or a tenth of the corpus if less), is rebuilt in the background and swapped in.

Answers. A page is a pure function of the index state and the question, so rendered pages are kept in a
:class:`~service.suggestions.pages.PageCache` bounded in bytes and stamped with the state's version; any change to
the state bumps the version, so a write is still seen by the very next request, and a cache hit takes no lock.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import and_, create_engine, func, or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError
from sqlmodel import Session, col, select

from matching.matcher import CandidatePairs, Matcher
from matching.records import DemandProfile, ExpertProfile
from matching.scoring import Suggestion
from service.common import RecordChange
from service.config import Settings
from service.demands.models import Demand, DemandStatus
from service.errors import ServiceUnavailable
from service.experts.models import Expert
from service.heap import large_blocks_mapped, release_free_heap
from service.observability import matcher_index_size, matcher_refresh_seconds
from service.suggestions.pages import PageCache, RenderedPage
from service.suggestions.profiles import (
    EnterpriseCard,
    load_enterprise_cards,
    load_expert_contacts,
    load_experts,
    load_open_demands,
)

log = logging.getLogger("expertmatch.matcher")

MatcherFactory = Callable[[], Matcher]

EXPLAIN_CACHE = 50_000
"""Specialists whose tokenised profile parts (for the evidence) a worker keeps: enough for every profile of a
provincial programme, so a warm worker never re-tokenises a profile to explain a suggestion."""

_PROBE_SQL = f"SELECT id FROM {RecordChange.__tablename__} WHERE id > %s"  # psycopg's placeholders

PROBE_CONNECTIONS = 2
"""Connections a worker keeps for the "nothing changed" check (each is held for one round trip)."""
PROBE_WAIT_S = 0.05
"""How long a request waits for one of them before it catches up the full way instead."""


def default_matcher() -> Matcher:
    """The matcher every worker builds (library defaults, a cache for explanations sized for the programme)."""
    return Matcher(explain_cache=EXPLAIN_CACHE)


def matcher_factory(settings: Settings) -> MatcherFactory:
    """A factory of matchers with the settings' score weights, field weights and home province."""
    return partial(Matcher, explain_cache=EXPLAIN_CACHE, **settings.matching_options())


class IndexWarming(ServiceUnavailable):
    """The worker's index does not hold every committed record yet (start-up or a bulk import): retry later."""

    code, title = "index-warming", "Index warming up"


@dataclass(slots=True)
class _Gap:
    """Change ids lo..hi (inclusive) not seen yet although a higher one was; given up on after `deadline`."""

    lo: int
    hi: int
    deadline: float


@dataclass(slots=True)
class IndexState:
    """What one worker knows: the matcher, the cards responses need, and the change-log position they reflect."""

    matcher: Matcher | None
    watermark: int
    gaps: list[_Gap]
    contacts: dict[int, bytes] = field(default_factory=dict)  # specialist id -> contact JSON (absent: none)
    enterprises: dict[int, EnterpriseCard] = field(default_factory=dict)

    def expert_contact(self, expert_id: int) -> bytes | None:
        return self.contacts.get(expert_id)

    def enterprise(self, enterprise_id: int) -> EnterpriseCard:
        return self.enterprises.get(enterprise_id) or EnterpriseCard(name="", contact=None)


@dataclass(slots=True)
class _Delta:
    """Change rows read and the records they name, loaded: profiles (None when gone or no longer open) and cards."""

    ids: list[int]
    experts: dict[int, ExpertProfile | None]
    demands: dict[int, DemandProfile | None]
    contacts: dict[int, bytes | None]
    enterprises: dict[int, EnterpriseCard | None]


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
    warming_builds: int = 0
    last_build_seconds: float = 0.0
    cached_answers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class LiveMatcher:
    """One worker's index state plus the bookkeeping that keeps it in step with the database."""

    def __init__(
        self,
        engine: Engine,
        *,
        factory: MatcherFactory = default_matcher,
        gap_timeout: float = 600.0,
        startup_window: int = 1000,
        max_gaps: int = 256,
        inline_refit_docs: int = 300,
        inline_changes: int = 1000,
        min_refit_changes: int = 100,
        background_refit: bool = True,
        cache_bytes: int = 64 * 2**20,
    ) -> None:
        self.engine = engine
        self._probe_engine: Engine | None = None  # made on first use, in the process that uses it
        self._probe_lock = threading.Lock()
        self.factory = factory
        self.gap_timeout = gap_timeout
        self.startup_window = startup_window
        self.max_gaps = max_gaps
        self.inline_refit_docs = inline_refit_docs
        self.inline_changes = inline_changes
        self.min_refit_changes = min_refit_changes
        self.background_refit = background_refit
        self.cache = PageCache(cache_bytes)
        self.stats = SyncStats()
        self._sync_lock = threading.Lock()  # one catch-up (read + apply) at a time, in change-log order
        self._lock = threading.RLock()  # the index state: applying, querying, swapping
        self._state = IndexState(matcher=None, watermark=0, gaps=[])
        self._version = 0  # bumped on every change to the state; pages are cached per version
        self._complete = False  # the state holds every committed record (false until the first build)
        self._warm = threading.Event()  # set whenever no build that completes the state is running
        self._warm.set()
        self._building: threading.Thread | None = None
        self._build_lock = threading.Lock()  # starting a build is check-then-act
        self._build_started = 0.0
        self._failed_at = -math.inf
        self._closed = False

    # ------------------------------------------------------------------ state
    @property
    def matcher(self) -> Matcher | None:
        """The current matcher (None until the database holds a specialist or an open demand)."""
        return self._state.matcher

    @property
    def state(self) -> IndexState:
        """The current index state (read it under `locked()` when it must not change meanwhile)."""
        return self._state

    @property
    def watermark(self) -> int:
        return self._state.watermark

    @property
    def _gaps(self) -> list[_Gap]:
        return self._state.gaps

    @property
    def version(self) -> int:
        return self._version

    @property
    def warming(self) -> bool:
        """True until the index holds every committed record (start-up, bulk import)."""
        return not self._complete

    def locked(self) -> threading.RLock:
        """The index lock: hold it to query the matcher and read the cards as one consistent state."""
        return self._lock

    # ------------------------------------------------------------------ building
    def _fit(self, experts: dict[int, ExpertProfile], demands: dict[int, DemandProfile]) -> Matcher | None:
        """A matcher fitted on these records (None for an empty database: there is nothing to learn from)."""
        if not experts and not demands:
            return None
        started = time.perf_counter()
        with large_blocks_mapped():
            matcher = self.factory().fit(experts.values(), demands.values())
        self.stats.last_build_seconds = time.perf_counter() - started
        matcher_refresh_seconds.observe(self.stats.last_build_seconds)
        log.info(
            "matcher fitted",
            extra={"experts": len(experts), "demands": len(demands), "seconds": self.stats.last_build_seconds},
        )
        return matcher

    def _snapshot(self, db_session: Session) -> IndexState:
        """A state fitted on the database as it is now, with the watermark and gaps it is current to."""
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
        contacts = {k: v for k, v in load_expert_contacts(db_session).items() if v is not None}
        enterprises = load_enterprise_cards(db_session, sorted({d.enterprise_id for d in demands.values()}))
        db_session.rollback()  # the connection goes back to the pool before the CPU-bound fit
        gaps = _holes(low + 1, watermark, list(present), time.monotonic() + self.gap_timeout)
        return IndexState(self._fit(experts, demands), watermark, gaps, contacts, enterprises)

    def _build_state(self) -> IndexState:
        """A snapshot of the database, fitted, then caught up to the change log as it is at the end."""
        with Session(self.engine) as db_session:
            state = self._snapshot(db_session)
        with self._sync_lock:
            # Writes committed during the fit: applied to the new state before anyone can query it.
            state.gaps = _merge(state.gaps, self._state.gaps)
            with Session(self.engine) as db_session:
                delta = self._read(db_session, state, limit=None)
            if delta is not None:
                self._apply(state, delta)
            self._install(state)
        release_free_heap()  # what the fit used and the state replaced left free, given back
        return state

    def _install(self, state: IndexState) -> None:
        """Swap a complete state in (caller holds `_sync_lock`)."""
        with self._lock:
            self._state = state
            self._version += 1
            self.cache.invalidate(self._version)
            self._complete = True
            self._report_size()

    def build(self, db_session: Session | None = None) -> LiveMatcher:
        """Build from the database in this thread (tests, tools); a failure leaves the worker warming."""
        if db_session is not None:
            db_session.rollback()
        self._build_state()
        return self

    def build_or_defer(self) -> LiveMatcher:
        """Build now; if the database is unreachable or not migrated yet, leave it to the first request."""
        try:
            return self.build()
        except (OperationalError, ProgrammingError) as exc:
            log.warning("matcher not built at start-up (%s); the first suggestion request builds it", exc.orig)
            return self

    def start(self, seed: IndexState | None = None) -> LiveMatcher:
        """Start from `seed` (a state the supervisor built before forking this worker), else start building in the
        background: the worker answers at once and warms meanwhile."""
        if seed is None:
            self._start_build(warming=True)
            return self
        # The seed's open gaps were open when it was built, maybe long ago (a worker replacing a dead one): they get
        # this worker's full wait, or ids committed since would expire unread.
        deadline = time.monotonic() + self.gap_timeout
        seed.gaps = [_Gap(g.lo, g.hi, deadline) for g in seed.gaps]
        with self._sync_lock:
            self._install(seed)  # the next request catches it up from its watermark, like any state
        return self

    def shareable_state(self) -> IndexState | None:
        """The complete state, to hand to workers forked after this (None while warming: they build their own)."""
        return None if self.warming else self._state

    def _start_build(self, *, warming: bool) -> None:
        """Start a background build unless one runs; a warming one marks the state incomplete until it lands."""
        with self._build_lock:
            if warming:
                self._complete = False
                self._warm.clear()
            if self._closed or self._building is not None:
                return
            if not warming and not self.background_refit:
                return
            if warming and time.monotonic() - self._failed_at < 1.0:
                self._warm.set()  # failed a moment ago: let waiters answer 503 instead of hammering the database
                return
            self._build_started = time.monotonic()
            self._building = threading.Thread(
                target=self._build_in_background, args=(warming,), name="matcher-build", daemon=True
            )
            self._building.start()

    def _build_in_background(self, warming: bool) -> None:
        try:
            self._build_state()
            if warming:
                self.stats.warming_builds += 1
            else:
                self.stats.background_refits += 1
        except Exception:
            self._failed_at = time.monotonic()
            log.exception("matcher build failed; %s", "still warming" if self.warming else "keeping the current index")
        finally:
            self._building = None
            self._warm.set()

    def close(self) -> None:
        """Stop starting builds and wait for one in flight."""
        with self._build_lock:  # a build being started now is either refused or seen below
            self._closed = True
            thread = self._building
        if thread is not None:
            thread.join(timeout=120)
        if self._probe_engine is not None:
            self._probe_engine.dispose()

    def wait_warm(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the index to hold every committed record; True when it does."""
        if not self._complete and self._building is None and not self._closed:
            self._start_build(warming=True)
        self._warm.wait(timeout)
        return self._complete

    def retry_after(self) -> int:
        """Seconds a warming worker expects to need (the last build's duration minus the time spent), 1..60."""
        left = self.stats.last_build_seconds - (time.monotonic() - self._build_started)
        return max(1, min(60, math.ceil(left)))

    # ---------------------------------------------------------------- catching up
    def catch_up(self, db_session: Session, *, wait: float = 0.0, release: bool = True) -> None:
        """Bring the index up to every change committed before this call, waiting up to `wait` seconds while it
        warms, else raise :class:`IndexWarming`. With `release` the session's transaction is ended (its
        connection returned to the pool) before the index is touched."""
        deadline = time.monotonic() + wait
        while True:
            self.refresh(db_session, release=release)
            if self._complete:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.wait_warm(remaining):
                raise IndexWarming(
                    "this worker's suggestion index is warming up (start-up or a bulk import) and does not hold "
                    "every record yet; retry shortly",
                    retry_after=self.retry_after(),
                )
            # The build landed: what was committed after its snapshot is read on the next turn.

    def sync(self, db_session: Session) -> int:
        """Apply every change committed since the last catch-up, in the caller's transaction (workflows that
        must keep it open); returns how many change rows were read."""
        before = self.stats.applied_changes
        self.refresh(db_session, release=False)
        return self.stats.applied_changes - before

    def refresh(self, db_session: Session, *, release: bool = True) -> None:
        """Read the change log, give the connection back (with `release`), then apply what it names."""
        if release:
            db_session.rollback()  # whatever the request read before (its key) must not pin a connection
            if self._unchanged():
                return
        # Held for one read and at most `inline_changes` upserts (plus the wait for one ranking to finish).
        with self._sync_lock:
            if not self._complete:
                if self._building is None:
                    self._start_build(warming=True)
                return  # the build in flight catches up to the change log before it lands
            started = time.perf_counter()
            state = self._state
            delta = self._read(db_session, state, limit=self.inline_changes)
            if release:
                db_session.rollback()
            if delta is None:
                return
            if not delta.ids:  # too large to apply inline: warm up from a fresh build instead
                log.info("a large batch of changes: rebuilding the index in the background")
                self._start_build(warming=True)
                return
            with self._lock:
                self._apply(state, delta)
                self._maybe_refit(state)
                self._version += 1
                self.cache.invalidate(self._version)
                self._report_size()
            matcher_refresh_seconds.observe(time.perf_counter() - started)

    def _unchanged(self) -> bool:
        """True when the state is complete and no change row lies above its watermark or in its gaps: one
        autocommit query, no lock (the common case of a request: nothing to apply)."""
        state = self._state
        probe = self._probe()
        if probe is None or not self._complete:
            return False
        # Watermark before gaps: a concurrent apply extends the gaps before it raises the watermark, so this
        # pair covers at least every id the state has not applied.
        watermark = state.watermark
        gaps = list(state.gaps)
        # Plain SQL on the driver's connection: building and compiling a statement would cost more than the trip.
        sql = _PROBE_SQL + " OR id BETWEEN %s AND %s" * len(gaps) + " LIMIT 1"
        params = [watermark, *(bound for g in gaps for bound in (g.lo, g.hi))]
        driver_error = probe.dialect.loaded_dbapi.Error
        try:
            conn = probe.raw_connection()
        except (SQLAlchemyError, driver_error):  # its connections busy, or the database away: the full read decides
            return False
        try:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            found = cursor.fetchone()
            cursor.close()
        except driver_error:  # this connection may be broken: drop it, and let the full read decide
            conn.invalidate()
            return False
        finally:
            conn.close()
        # A catch-up in flight may have raised the watermark before bumping the page version: wait for it.
        return found is None and not self._sync_lock.locked()

    def _probe(self) -> Engine | None:
        """The engine of the "nothing changed" check: a few autocommit connections of its own, without the
        pre-ping of the main pool, so the check is exactly one round trip (no ping, no BEGIN, no ROLLBACK). None
        on SQLite, whose reads cost no round trip and whose connections keep the driver's autocommit with an
        explicit BEGIN IMMEDIATE (service.db), a mode an isolation-level switch would not restore."""
        if self._probe_engine is None and self.engine.dialect.name != "sqlite":
            with self._probe_lock:
                if self._probe_engine is None:
                    self._probe_engine = create_engine(
                        self.engine.url,
                        isolation_level="AUTOCOMMIT",
                        pool_size=PROBE_CONNECTIONS,
                        max_overflow=0,
                        pool_timeout=PROBE_WAIT_S,
                        # a hung server must not hold a request: the check gives up and the full read decides
                        connect_args={"connect_timeout": 5, "options": "-c statement_timeout=5000"},
                    )
        return self._probe_engine

    def _change_query(self, state: IndexState) -> Any:
        conditions = [col(RecordChange.id) > state.watermark]
        conditions += [and_(col(RecordChange.id) >= g.lo, col(RecordChange.id) <= g.hi) for g in state.gaps]
        return (
            select(RecordChange.id, RecordChange.kind, RecordChange.record_id)
            .where(or_(*conditions))
            .order_by(col(RecordChange.id))
        )

    def _read(self, db_session: Session, state: IndexState, *, limit: int | None) -> _Delta | None:
        """The changes above the state's watermark and in its gaps, with the records they name loaded (None when
        nothing changed; a delta without ids when it names more than `limit` records, or the first records of an
        empty index exceed `inline_refit_docs`)."""
        self._expire(state, time.monotonic())
        rows = db_session.exec(self._change_query(state)).all()
        if not rows:
            return None
        expert_ids = sorted({r[2] for r in rows if r[1] == "expert"})
        demand_ids = sorted({r[2] for r in rows if r[1] == "demand"})
        enterprise_ids = {r[2] for r in rows if r[1] == "enterprise"}
        ids = sorted(r[0] for r in rows)
        if limit is not None:
            too_many = len(expert_ids) + len(demand_ids) > limit
            if state.matcher is None:
                too_many = too_many or _count_docs(db_session) > self.inline_refit_docs
            if too_many:
                return _Delta([], {}, {}, {}, {})
        if state.matcher is None:
            # The first records of an empty index: few enough to fit now, from everything in the database.
            expert_ids = sorted(db_session.exec(select(Expert.id)).all())  # type: ignore[arg-type]
            demand_ids = sorted(
                db_session.exec(select(Demand.id).where(Demand.status == DemandStatus.open.value)).all()  # type: ignore[arg-type]
            )
        experts = load_experts(db_session, expert_ids) if expert_ids else {}
        demands = load_open_demands(db_session, demand_ids) if demand_ids else {}
        contacts = load_expert_contacts(db_session, expert_ids) if expert_ids else {}
        enterprise_ids |= {d.enterprise_id for d in demands.values()}
        enterprises = load_enterprise_cards(db_session, sorted(enterprise_ids)) if enterprise_ids else {}
        return _Delta(
            ids,
            {i: experts.get(i) for i in expert_ids},
            {i: demands.get(i) for i in demand_ids},
            {i: contacts.get(i) for i in expert_ids},
            {i: enterprises.get(i) for i in enterprise_ids},
        )

    def _apply(self, state: IndexState, delta: _Delta) -> None:
        """Apply a delta to a state: cards, then profiles (upserted, or removed when gone), then the watermark."""
        for expert_id, contact in delta.contacts.items():
            if contact is None:
                state.contacts.pop(expert_id, None)
            else:
                state.contacts[expert_id] = contact
        for enterprise_id, card in delta.enterprises.items():
            if card is None:
                state.enterprises.pop(enterprise_id, None)
            else:
                state.enterprises[enterprise_id] = card
        matcher = state.matcher
        if matcher is None:
            experts = {i: p for i, p in delta.experts.items() if p is not None}
            demands = {i: d for i, d in delta.demands.items() if d is not None}
            state.matcher = self._fit(experts, demands)
            self.stats.inline_refits += 1
        else:
            for expert_id, profile in delta.experts.items():
                if profile is None:
                    self.stats.removals += matcher.remove_expert(expert_id)
                else:
                    matcher.upsert_expert(profile)
                    self.stats.upserts += 1
            for demand_id, demand in delta.demands.items():
                if demand is None:
                    self.stats.removals += matcher.remove_demand(demand_id)
                else:
                    matcher.upsert_demand(demand)
                    self.stats.upserts += 1
        self._track(state, delta.ids, time.monotonic())
        self.stats.applied_changes += len(delta.ids)

    def _report_size(self) -> None:
        """Publish the index size (specialists plus open demands) for /metrics."""
        matcher = self._state.matcher
        matcher_index_size.set(0 if matcher is None else len(matcher.experts_) + len(matcher.demands_))

    def _track(self, state: IndexState, ids: list[int], now: float) -> None:
        """Advance the watermark over the ids read (sorted), opening gaps for ids skipped, closing gaps filled."""
        if state.gaps:
            kept: list[_Gap] = []
            for gap in state.gaps:
                inside = ids[bisect_left(ids, gap.lo) : bisect_right(ids, gap.hi)]
                if not inside:
                    kept.append(gap)
                    continue
                self.stats.gaps_filled += len(inside)
                kept.extend(_holes(gap.lo, gap.hi, inside, gap.deadline))
            state.gaps = kept
        if ids[-1] > state.watermark:
            above = ids[bisect_right(ids, state.watermark) :]
            state.gaps.extend(_holes(state.watermark + 1, above[-1], above, now + self.gap_timeout))
            state.watermark = above[-1]
        if len(state.gaps) > self.max_gaps:
            # Too many open gaps (a storm of rolled-back transactions): give up on the oldest.
            dropped = state.gaps[: len(state.gaps) - self.max_gaps]
            state.gaps = state.gaps[len(dropped) :]
            self.stats.gaps_expired += sum(g.hi - g.lo + 1 for g in dropped)
            log.warning("too many change-log gaps; gave up on %d", len(dropped))

    def _expire(self, state: IndexState, now: float) -> None:
        if state.gaps and min(g.deadline for g in state.gaps) <= now:
            self.stats.gaps_expired += sum(g.hi - g.lo + 1 for g in state.gaps if g.deadline <= now)
            state.gaps = [g for g in state.gaps if g.deadline > now]

    # ------------------------------------------------------------------ refitting
    def _maybe_refit(self, state: IndexState) -> None:
        matcher = state.matcher
        if matcher is None or not matcher.needs_refit():
            return
        n_docs = len(matcher.experts_) + len(matcher.demands_)
        if n_docs <= self.inline_refit_docs:
            matcher.refit()
            self.stats.inline_refits += 1
            return
        # A few out-of-vocabulary words in the first upserts say little: wait for enough changed text.
        changed = matcher.expert_index_.n_changed_ + matcher.demand_index_.n_changed_
        if changed >= min(self.min_refit_changes, max(1, n_docs // 10)):
            self._start_build(warming=False)

    def refit_now(self) -> None:
        """Rebuild from the database and swap in (tests, administrators' tooling)."""
        self._build_state()

    # -------------------------------------------------------------------- queries
    def page(
        self,
        key: Hashable | None,
        compute: Callable[[Matcher], tuple[list[Suggestion], int]],
        render: Callable[[list[Suggestion], int, IndexState], RenderedPage],
    ) -> RenderedPage:
        """A rendered page: from the cache of the current state, else ranked and rendered under the index lock
        (and cached unless `key` is None). An empty index renders an empty page."""
        version = self._version
        if key is not None:
            found = self.cache.get(key, version)
            if found is not None:
                self.stats.cached_answers += 1
                return found
        with self._lock:
            version = self._version
            state = self._state
            found_items, total = ([], 0) if state.matcher is None else compute(state.matcher)
            rendered = render(found_items, total, state)
        if key is not None:
            self.cache.put(key, rendered, version)
        return rendered

    def suggest_experts(
        self, db_session: Session, demand: DemandProfile, *, limit: int, offset: int, include_excluded: bool
    ) -> tuple[list[Suggestion], int]:
        """Ranked specialists for a demand after catching up (tests and tools; the API renders through `page`)."""
        self.catch_up(db_session)
        with self._lock:
            matcher = self._state.matcher
            if matcher is None:
                return [], 0
            query: int | DemandProfile = demand.id if demand.id in matcher.demands_ else demand
            return matcher.suggest_experts(query, limit=limit, offset=offset, include_excluded=include_excluded)

    def suggest_demands(
        self, db_session: Session, expert_id: int, *, limit: int, offset: int, include_excluded: bool
    ) -> tuple[list[Suggestion], int]:
        """Ranked open demands for a specialist after catching up (tests and tools)."""
        self.catch_up(db_session)
        with self._lock:
            matcher = self._state.matcher
            if matcher is None or expert_id not in matcher.experts_:
                return [], 0
            return matcher.suggest_demands(expert_id, limit=limit, offset=offset, include_excluded=include_excluded)

    def candidate_pairs(self, db_session: Session, demand_ids: Sequence[int] | None, k: int) -> CandidatePairs:
        """The assignment's candidate graph over the open demands among `demand_ids` (all open ones when None),
        with the free capacity and open headcount the matcher holds after catching up (503 while warming)."""
        self.sync(db_session)
        if not self._complete:
            raise IndexWarming(
                "the suggestion index is warming up; an assignment now would miss records",
                retry_after=self.retry_after(),
            )
        with self._lock:
            matcher = self._state.matcher
            if matcher is None:
                empty = np.zeros(0, dtype=np.int64)
                return CandidatePairs(empty, empty, empty, empty, np.zeros(0), empty, empty)
            known = matcher.demands_
            wanted = sorted(known) if demand_ids is None else [d for d in demand_ids if d in known]
            return matcher.candidate_pairs(wanted, k_per_demand=k, k_per_expert=k)

    def knows_demand(self, demand_id: int) -> bool:
        """Whether the index holds this (open) demand."""
        with self._lock:
            matcher = self._state.matcher
            return matcher is not None and demand_id in matcher.demands_

    def score_pairs(self, pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], Suggestion]:
        """Explained scores of (demand_id, expert_id) pairs both sides of which the matcher knows."""
        out: dict[tuple[int, int], Suggestion] = {}
        for demand_id, expert_id in pairs:
            # One pair at a time under the lock, so a long list never holds up this worker's suggestion requests.
            with self._lock:
                matcher = self._state.matcher
                if matcher is not None and demand_id in matcher.demands_ and expert_id in matcher.experts_:
                    out[(demand_id, expert_id)] = matcher.score_pair(demand_id, expert_id)
        return out


def _count_docs(db_session: Session) -> int:
    """Specialists plus open demands in the database."""
    experts = db_session.exec(select(func.count()).select_from(Expert)).one()
    demands = db_session.exec(
        select(func.count()).select_from(Demand).where(Demand.status == DemandStatus.open.value)
    ).one()
    return int(experts) + int(demands)


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


def explainer_for(app: Any, db_session: Session) -> PairExplainer | None:
    """The explained score of one (demand_id, expert_id) pair from the app's matcher, caught up now (open calls)."""
    live: LiveMatcher | None = getattr(app.state, "matcher", None)
    if live is None:
        return None
    live.sync(db_session)
    return PairExplainer(live)


@dataclass(frozen=True, slots=True)
class PairExplainer:
    """One pair's explained score from a live matcher; None when it does not know both sides."""

    live: LiveMatcher

    def __call__(self, demand_id: int, expert_id: int) -> Suggestion | None:
        return self.live.score_pairs([(demand_id, expert_id)]).get((demand_id, expert_id))

    def knows_demand(self, demand_id: int) -> bool:
        return self.live.knows_demand(demand_id)
