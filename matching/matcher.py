"""The :class:`Matcher`: text indexes over specialists and demands, their current records, constraints and the
ranked, explained suggestions built from them.

One fitted :class:`~matching.text.TextVectorizer` (vocabulary and idf learnt from profiles and demands
together) encodes both sides, so a pair's text relevance is the same whichever side asks. Each side has a
:class:`~matching.index.TextIndex` (rows plus inverted index, incremental upserts) and a table of the
attributes the constraints read, aligned with the index's slots.

Writes: ``upsert_expert`` / ``upsert_demand`` re-encode a record only when its text changed (an attribute-only
change such as a new ``load`` or ``filled`` just rewrites its table row); ``remove_*`` tombstones. Both show
in the next request. ``needs_refit()`` says when the fitted vocabulary/idf have drifted enough for ``refit()``.
Only open demands should be upserted (remove a demand when it leaves ``open``). Every public method takes one
lock, so a Matcher may be shared by a worker's threads.

Ranking: score (rounded to 4 places) descending, then id ascending; only pairs with text relevance above
``min_text`` (default 0: any shared term) are suggestions; excluded pairs come after the others, in the same
order, when asked for. ``total`` counts the items the listing would have without paging.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching.index import Aggregation, TextIndex, top_k_order
from matching.records import DemandProfile, ExpertProfile
from matching.scoring import (
    COMPONENTS,
    DemandTable,
    Evidence,
    ExpertTable,
    PairScores,
    Reason,
    RegionCodes,
    ScoreWeights,
    Suggestion,
    component_reasons,
    exclusion_reasons,
    industry_values,
    round_score,
    score_pairs,
)
from matching.text import AnalyzerMode, Encoded, TextVectorizer, normalise_text, split_parts

EXPERT_FIELD_WEIGHTS = {"fields": 2.0, "keywords": 2.0, "title": 0.5, "bio": 1.0, "achievements": 1.0}
DEMAND_FIELD_WEIGHTS = {"title": 2.0, "keywords": 2.0, "industry": 1.0, "description": 1.0}
EXPERT_TEXT_FIELDS = ("fields", "keywords", "title", "bio", "achievements")
DEMAND_TEXT_FIELDS = ("title", "keywords", "industry", "description")
EXPERT_PRESENCE = ("expert.fields", "expert.keywords", "expert.bio")
DEMAND_PRESENCE = ("demand.industry",)


def expert_doc(p: ExpertProfile) -> dict[str, str | tuple[str, ...]]:
    """The text fields of a specialist as an index document (field names qualified by side)."""
    return {f"expert.{name}": getattr(p, name) for name in EXPERT_TEXT_FIELDS}


def demand_doc(d: DemandProfile) -> dict[str, str | tuple[str, ...]]:
    """The text fields of a demand as an index document (field names qualified by side)."""
    return {f"demand.{name}": getattr(d, name) for name in DEMAND_TEXT_FIELDS}


def _text_key(record: ExpertProfile | DemandProfile, names: tuple[str, ...]) -> tuple:
    """The record's text fields, to tell a text change from an attribute-only change."""
    return tuple(getattr(record, n) for n in names)


def _slice(enc: Encoded, start: int, stop: int) -> Encoded:
    """Rows start:stop of an encoding."""
    return Encoded(
        X=enc.X[start:stop],
        presence=enc.presence[start:stop] if enc.presence is not None else None,
        n_tokens=enc.n_tokens[start:stop],
        n_oov=enc.n_oov[start:stop],
        presence_len=enc.presence_len[start:stop],
    )


@dataclass(frozen=True, slots=True)
class CandidatePairs:
    """Sparse candidate graph for the assignment: the union of each demand's and each specialist's top-K.

    ``demand_idx`` indexes ``demand_ids`` and ``expert_idx`` indexes ``expert_ids`` (all live specialists,
    sorted by id); ``score`` is the pair's final score. ``demand_open`` is each demand's open headcount and
    ``expert_free`` each specialist's free capacity. Pairs are sorted by demand, then score desc, then id.
    Iterating yields ``(demand_idx, expert_idx, score)`` so it unpacks like a tuple.
    """

    demand_ids: np.ndarray
    expert_ids: np.ndarray
    demand_idx: np.ndarray
    expert_idx: np.ndarray
    score: np.ndarray
    demand_open: np.ndarray
    expert_free: np.ndarray

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.demand_idx, self.expert_idx, self.score))

    def __len__(self) -> int:
        return int(self.score.size)


@dataclass(slots=True)
class _Query:
    """One side of a request: its record, vector, industry data and (lazily) its surface words."""

    record: ExpertProfile | DemandProfile
    vector: sp.csr_matrix
    industry_terms: np.ndarray
    industry_len: int
    surfaces: list[tuple[str, np.ndarray]] | None = None


class Matcher:
    """Ranks specialists for demands and demands for specialists, with constraints and explanations."""

    def __init__(
        self,
        *,
        analyzer: AnalyzerMode = "blend",
        char_weight: float = 0.5,
        expert_field_weights: Mapping[str, float] | None = None,
        demand_field_weights: Mapping[str, float] | None = None,
        aggregation: Aggregation = "document",
        weights: ScoreWeights | None = None,
        sublinear_tf: bool = True,
        min_df: int | float = 1,
        max_df: int | float = 1.0,
        min_text: float = 0.0,
        n_jobs: int = 1,
        max_terms: int = 8,
        explain_cache: int = 4096,
    ) -> None:
        self.analyzer = analyzer
        self.char_weight = char_weight
        self.expert_field_weights = expert_field_weights
        self.demand_field_weights = demand_field_weights
        self.aggregation = aggregation
        self.weights = weights
        self.sublinear_tf = sublinear_tf
        self.min_df = min_df
        self.max_df = max_df
        self.min_text = min_text
        self.n_jobs = n_jobs
        self.max_terms = max_terms
        self.explain_cache = explain_cache

    # ------------------------------------------------------------------ fitting
    def _field_weights(self) -> dict[str, float]:
        """Field weights with side-qualified names."""
        ew = dict(EXPERT_FIELD_WEIGHTS if self.expert_field_weights is None else self.expert_field_weights)
        dw = dict(DEMAND_FIELD_WEIGHTS if self.demand_field_weights is None else self.demand_field_weights)
        return {f"expert.{k}": float(v) for k, v in ew.items()} | {f"demand.{k}": float(v) for k, v in dw.items()}

    def fit(self, experts: Iterable[ExpertProfile], demands: Iterable[DemandProfile]) -> Matcher:
        """Learn vocabulary and idf from all profiles and demands, and index both sides."""
        experts = sorted(experts, key=lambda p: p.id)
        demands = sorted(demands, key=lambda d: d.id)
        for name, recs in (("expert", experts), ("demand", demands)):
            ids = [r.id for r in recs]
            if len(set(ids)) != len(ids):
                raise ValueError(f"duplicate {name} ids")
        if not hasattr(self, "_lock"):
            self._lock = threading.RLock()
        with self._lock:
            self.weights_ = (self.weights or ScoreWeights()).normalised()
            self.vectorizer_ = TextVectorizer(
                analyzer=self.analyzer,
                field_weights=self._field_weights(),
                sublinear_tf=self.sublinear_tf,
                min_df=self.min_df,
                max_df=self.max_df,
                char_weight=self.char_weight,
                n_jobs=self.n_jobs,
            )
            edocs = [expert_doc(p) for p in experts]
            ddocs = [demand_doc(d) for d in demands]
            enc = self.vectorizer_.fit_encode(edocs + ddocs, presence_fields=EXPERT_PRESENCE + DEMAND_PRESENCE)
            n_e = len(experts)
            self.expert_index_ = self._new_index(EXPERT_PRESENCE).fit_encoded(
                [p.id for p in experts], _slice(enc, 0, n_e), edocs
            )
            self.demand_index_ = self._new_index(DEMAND_PRESENCE).fit_encoded(
                [d.id for d in demands], _slice(enc, n_e, enc.X.shape[0]), ddocs
            )
            self._regions = RegionCodes()
            self.experts_: dict[int, ExpertProfile] = {}
            self.demands_: dict[int, DemandProfile] = {}
            self._expert_table = ExpertTable()
            self._demand_table = DemandTable()
            self._conflicts: dict[int, set[int]] = {}
            for slot, p in enumerate(experts):
                self._store_expert(slot, p)
            ind_len = enc.presence_len[n_e:]
            for slot, d in enumerate(demands):
                self._store_demand(slot, d, int(ind_len[slot]))
            self._parts_cache: OrderedDict[int, tuple[tuple, list, sp.csr_matrix]] = OrderedDict()
        return self

    def _new_index(self, presence: tuple[str, ...]) -> TextIndex:
        """An index over one side sharing the fitted vectorizer; compaction is driven by the matcher."""
        return TextIndex(
            vectorizer=self.vectorizer_,
            prefit=True,
            aggregation=self.aggregation,
            presence_fields=presence,
            auto_compact=False,
            keep_docs=False,
        )

    def refit(self) -> Matcher:
        """Rebuild vocabulary, idf and both indexes from the current records."""
        self._check()
        with self._lock:
            return self.fit(list(self.experts_.values()), list(self.demands_.values()))

    def needs_refit(self, max_drift: float = 0.2, max_oov: float = 0.05) -> bool:
        """Whether either index has drifted enough since the fit for a refit to pay off."""
        self._check()
        return self.expert_index_.needs_refit(max_drift, max_oov) or self.demand_index_.needs_refit(max_drift, max_oov)

    def _check(self) -> None:
        """Raise unless fitted."""
        if not hasattr(self, "expert_index_"):
            raise RuntimeError("Matcher is not fitted yet: call fit(experts, demands)")

    # ---------------------------------------------------------------- updating
    def _store_expert(self, slot: int, p: ExpertProfile) -> None:
        """Record a specialist's attributes at its slot and its conflicts."""
        old = self.experts_.get(p.id)
        if old is not None:
            for ent in old.conflicts:
                self._conflicts.get(ent, set()).discard(p.id)
        self.experts_[p.id] = p
        self._expert_table.set(slot, p, self._regions)
        for ent in p.conflicts:
            self._conflicts.setdefault(ent, set()).add(p.id)

    def _store_demand(self, slot: int, d: DemandProfile, industry_len: int) -> None:
        """Record a demand's attributes at its slot."""
        self.demands_[d.id] = d
        self._demand_table.set(slot, d, self._regions, industry_len)

    def upsert_expert(self, expert: ExpertProfile) -> None:
        """Add or update a specialist; text is re-encoded only when it changed."""
        self._check()
        with self._lock:
            old = self.experts_.get(expert.id)
            index = self.expert_index_
            if old is not None and _text_key(old, EXPERT_TEXT_FIELDS) == _text_key(expert, EXPERT_TEXT_FIELDS):
                self._store_expert(index.slot(expert.id), expert)
                return
            doc = expert_doc(expert)
            enc = self.vectorizer_.encode([doc], presence_fields=EXPERT_PRESENCE)
            slot = index.upsert_encoded(expert.id, enc, doc)
            self._store_expert(slot, expert)
            self._parts_cache.pop(expert.id, None)
            self._maybe_compact(index, self._expert_table)

    def remove_expert(self, expert_id: int) -> bool:
        """Drop a specialist; returns whether they were present."""
        self._check()
        with self._lock:
            p = self.experts_.pop(expert_id, None)
            if p is None:
                return False
            for ent in p.conflicts:
                self._conflicts.get(ent, set()).discard(expert_id)
            self.expert_index_.remove(expert_id)
            self._parts_cache.pop(expert_id, None)
            self._maybe_compact(self.expert_index_, self._expert_table)
            return True

    def upsert_demand(self, demand: DemandProfile) -> None:
        """Add or update a demand; text is re-encoded only when it changed."""
        self._check()
        with self._lock:
            old = self.demands_.get(demand.id)
            index = self.demand_index_
            if old is not None and _text_key(old, DEMAND_TEXT_FIELDS) == _text_key(demand, DEMAND_TEXT_FIELDS):
                slot = index.slot(demand.id)
                self._store_demand(slot, demand, int(self._demand_table.industry_len[slot]))
                return
            doc = demand_doc(demand)
            enc = self.vectorizer_.encode([doc], presence_fields=DEMAND_PRESENCE)
            slot = index.upsert_encoded(demand.id, enc, doc)
            self._store_demand(slot, demand, int(enc.presence_len[0]))
            self._maybe_compact(index, self._demand_table)

    def remove_demand(self, demand_id: int) -> bool:
        """Drop a demand; returns whether it was present."""
        self._check()
        with self._lock:
            if self.demands_.pop(demand_id, None) is None:
                return False
            self.demand_index_.remove(demand_id)
            self._maybe_compact(self.demand_index_, self._demand_table)
            return True

    @staticmethod
    def _maybe_compact(index: TextIndex, table: ExpertTable | DemandTable) -> None:
        """Compact an index when due, keeping the attribute table aligned with its slots."""
        table.ensure(index.ids_.size)
        if index.should_compact():
            table.take(index.compact())

    # ---------------------------------------------------------------- queries
    def _demand_query(self, demand: int | DemandProfile) -> _Query:
        """Vector and industry data of a demand given by id or as a record."""
        if isinstance(demand, DemandProfile):
            known = self.demands_.get(demand.id)
            if known is None or _text_key(known, DEMAND_TEXT_FIELDS) != _text_key(demand, DEMAND_TEXT_FIELDS):
                enc = self.vectorizer_.encode([demand_doc(demand)], presence_fields=DEMAND_PRESENCE)
                terms = enc.presence[0].indices.copy() if enc.presence is not None else np.zeros(0, np.int32)
                return _Query(demand, enc.X, np.sort(terms), int(enc.presence_len[0]))
            record = demand
        else:
            record = self.demands_[int(demand)]
        index = self.demand_index_
        slot = index.slot(record.id)
        vector = index.doc_vector(record.id)
        if vector is None:
            vector = self.vectorizer_.transform([demand_doc(record)])
        return _Query(record, vector, np.sort(index.presence_terms(slot)), int(self._demand_table.industry_len[slot]))

    def _expert_query(self, expert: int | ExpertProfile) -> _Query:
        """Vector and presence terms of a specialist given by id or as a record."""
        if isinstance(expert, ExpertProfile):
            known = self.experts_.get(expert.id)
            if known is None or _text_key(known, EXPERT_TEXT_FIELDS) != _text_key(expert, EXPERT_TEXT_FIELDS):
                enc = self.vectorizer_.encode([expert_doc(expert)], presence_fields=EXPERT_PRESENCE)
                terms = enc.presence[0].indices.copy() if enc.presence is not None else np.zeros(0, np.int32)
                return _Query(expert, enc.X, np.sort(terms), 0)
            record = expert
        else:
            record = self.experts_[int(expert)]
        index = self.expert_index_
        slot = index.slot(record.id)
        vector = index.doc_vector(record.id)
        if vector is None:
            vector = self.vectorizer_.transform([expert_doc(record)])
        return _Query(record, vector, np.sort(index.presence_terms(slot)), 0)

    def _expert_candidates(
        self, q: _Query, slots: np.ndarray, text: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, PairScores]:
        """Scores of a demand against touched specialist slots (text above min_text only)."""
        keep = text > self.min_text
        slots, text = slots[keep], text[keep].astype(np.float64)
        demand: DemandProfile = q.record  # type: ignore[assignment]
        index = self.expert_index_
        if q.industry_len > 0:
            hit_slots, counts = index.presence_counts(q.industry_terms)
            scratch = np.zeros(index.ids_.size, dtype=np.float64)
            scratch[hit_slots] = counts
            industry = industry_values(scratch[slots], q.industry_len)
        else:
            industry = np.full(slots.size, 0.5)
        conflicted = [index.slot(e) for e in sorted(self._conflicts.get(demand.enterprise_id, ())) if e in index]
        conflict = np.isin(slots, conflicted) if conflicted else np.zeros(slots.size, dtype=bool)
        table = self._demand_scratch(demand, q.industry_len)
        pairs = score_pairs(table, 0, self._expert_table, slots, text, industry, conflict, self.weights_)
        return slots, index.ids_[slots], pairs

    def _demand_scratch(self, demand: DemandProfile, industry_len: int) -> DemandTable:
        """A one-row demand table for a demand (it may not be indexed)."""
        table = DemandTable()
        table.set(0, demand, self._regions, industry_len)
        return table

    def _demand_candidates(
        self, q: _Query, slots: np.ndarray, text: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, PairScores]:
        """Scores of a specialist against touched demand slots (text above min_text only)."""
        keep = text > self.min_text
        slots, text = slots[keep], text[keep].astype(np.float64)
        expert: ExpertProfile = q.record  # type: ignore[assignment]
        index = self.demand_index_
        table = self._demand_table
        hit_slots, counts = index.presence_counts(q.industry_terms)
        scratch = np.zeros(index.ids_.size, dtype=np.float64)
        scratch[hit_slots] = counts
        industry = industry_values(scratch[slots], table.industry_len[slots])
        enterprises = table.enterprise[slots]
        conflict = np.isin(enterprises, sorted(expert.conflicts)) if expert.conflicts else np.zeros(slots.size, bool)
        etable = ExpertTable()
        etable.set(0, expert, self._regions)
        pairs = score_pairs(table, slots, etable, 0, text, industry, conflict, self.weights_)
        return slots, index.ids_[slots], pairs

    @staticmethod
    def _page(
        ids: np.ndarray, pairs: PairScores, limit: int, offset: int, include_excluded: bool
    ) -> tuple[np.ndarray, int]:
        """Positions of one page of the ranking (eligible first, then excluded) and the listing's total."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must be non-negative")
        eligible = np.flatnonzero(pairs.excluded == 0)
        excluded = np.flatnonzero(pairs.excluded != 0) if include_excluded else np.zeros(0, dtype=np.int64)
        total = int(eligible.size + excluded.size)
        want = offset + limit
        first = eligible[top_k_order(pairs.score[eligible], ids[eligible], min(want, eligible.size))]
        chosen = first
        if want > eligible.size and excluded.size:
            rest = excluded[top_k_order(pairs.score[excluded], ids[excluded], want - eligible.size)]
            chosen = np.concatenate([first, rest])
        return chosen[offset:want], total

    def suggest_experts(
        self,
        demand: int | DemandProfile,
        *,
        limit: int = 10,
        offset: int = 0,
        include_excluded: bool = False,
        explain: bool = True,
    ) -> tuple[list[Suggestion], int]:
        """Ranked specialists for a demand (by id or record): one page of suggestions and the total."""
        self._check()
        with self._lock:
            q = self._demand_query(demand)
            slots, text = self.expert_index_.search(q.vector)
            return self._expert_page(q, slots, text, limit, offset, include_excluded, explain)

    def _expert_page(
        self,
        q: _Query,
        slots: np.ndarray,
        text: np.ndarray,
        limit: int,
        offset: int,
        include_excluded: bool,
        explain: bool,
    ) -> tuple[list[Suggestion], int]:
        """Score, rank and explain specialists touched by a demand."""
        slots, ids, pairs = self._expert_candidates(q, slots, text)
        page, total = self._page(ids, pairs, limit, offset, include_excluded)
        items = [
            self._suggestion(q.record, self.experts_[int(ids[i])], pairs, i, q, explain, query_is_demand=True)
            for i in page
        ]
        return items, total

    def suggest_demands(
        self,
        expert: int | ExpertProfile,
        *,
        limit: int = 10,
        offset: int = 0,
        include_excluded: bool = False,
        explain: bool = True,
    ) -> tuple[list[Suggestion], int]:
        """Ranked open demands for a specialist (by id or record): one page of suggestions and the total."""
        self._check()
        with self._lock:
            q = self._expert_query(expert)
            slots, text = self.demand_index_.search(q.vector)
            slots, ids, pairs = self._demand_candidates(q, slots, text)
            page, total = self._page(ids, pairs, limit, offset, include_excluded)
            items = [
                self._suggestion(self.demands_[int(ids[i])], q.record, pairs, i, q, explain, query_is_demand=False)
                for i in page
            ]
            return items, total

    def suggest_experts_batch(
        self,
        demands: Sequence[int | DemandProfile],
        k: int = 10,
        chunk_size: int = 256,
        *,
        explain: bool = True,
    ) -> list[list[Suggestion]]:
        """Top-k specialists for many demands; the text search runs in chunks so memory stays bounded."""
        self._check()
        with self._lock:
            queries = [self._demand_query(d) for d in demands]
            if not queries:
                return []
            Q = sp.vstack([q.vector for q in queries], format="csr", dtype=np.float32)
            out: list[list[Suggestion]] = []
            for q, (slots, text) in zip(queries, self.expert_index_.search_batch(Q, chunk_size), strict=True):
                out.append(self._expert_page(q, slots, text, k, 0, False, explain)[0])
            return out

    def score_pair(
        self, demand: int | DemandProfile, expert: int | ExpertProfile, *, explain: bool = True
    ) -> Suggestion:
        """The scored, explained pair of one demand and one specialist (even without text relevance)."""
        self._check()
        with self._lock:
            q = self._demand_query(demand)
            e = expert if isinstance(expert, ExpertProfile) else self.experts_[int(expert)]
            eq = self._expert_query(e)
            index = self.expert_index_
            if e.id in index and e is self.experts_.get(e.id):
                text = index.score(q.vector, e.id)
            elif self.aggregation == "best_part":
                probe = TextIndex(vectorizer=self.vectorizer_, prefit=True, aggregation="best_part")
                text = probe.fit([e.id], [expert_doc(e)]).score(q.vector, e.id)
            else:
                text = float((q.vector @ eq.vector.T).toarray().ravel()[0])
            table = self._demand_scratch(q.record, q.industry_len)  # type: ignore[arg-type]
            matched = np.isin(q.industry_terms, eq.industry_terms).sum() if q.industry_len else 0
            industry = industry_values(np.array([matched], dtype=np.float64), q.industry_len)
            etable = ExpertTable()
            etable.set(0, e, self._regions)
            conflict = np.array([q.record.enterprise_id in e.conflicts])  # type: ignore[union-attr]
            pairs = score_pairs(table, 0, etable, 0, np.array([text]), industry, conflict, self.weights_)
            return self._suggestion(q.record, e, pairs, 0, q, explain, query_is_demand=True, vector=eq.vector)

    def candidate_pairs(
        self,
        demand_ids: Sequence[int] | None = None,
        k_per_demand: int = 10,
        k_per_expert: int = 3,
        chunk_size: int = 256,
    ) -> CandidatePairs:
        """Union of each demand's top-K specialists and each specialist's top-K demands (eligible pairs)."""
        self._check()
        with self._lock:
            ids = sorted(self.demands_) if demand_ids is None else list(demand_ids)
            d_ids = np.asarray(ids, dtype=np.int64)
            index = self.expert_index_
            live = np.flatnonzero(index.alive_)
            e_ids_sorted = np.sort(index.ids_[live])
            n_slots = index.ids_.size
            best_score = np.full((n_slots, max(k_per_expert, 1)), -np.inf)
            best_dem = np.full((n_slots, max(k_per_expert, 1)), -1, dtype=np.int64)
            pd: list[np.ndarray] = []
            pe: list[np.ndarray] = []
            ps: list[np.ndarray] = []
            queries = [self._demand_query(i) for i in ids]
            # process demands in id order so equal scores keep the smaller demand id
            order = np.argsort(d_ids, kind="stable")
            Q = (
                sp.vstack([queries[i].vector for i in order], format="csr", dtype=np.float32)
                if queries
                else sp.csr_matrix((0, index.n_terms_), dtype=np.float32)
            )
            for pos, (slots, text) in zip(order.tolist(), index.search_batch(Q, chunk_size), strict=True):
                slots, e_ids, pairs = self._expert_candidates(queries[pos], slots, text)
                ok = np.flatnonzero(pairs.excluded == 0)
                if ok.size == 0:
                    continue
                sc, sl, ei = pairs.score[ok], slots[ok], e_ids[ok]
                top = top_k_order(sc, ei, k_per_demand)
                pd.append(np.full(top.size, pos, dtype=np.int64))
                pe.append(ei[top])
                ps.append(sc[top])
                if k_per_expert > 0:
                    better = sc > best_score[sl, -1]
                    if better.any():
                        bs, bsl = sc[better], sl[better]
                        best_score[bsl, -1] = bs
                        best_dem[bsl, -1] = d_ids[pos]
                        rows_s, rows_d = best_score[bsl], best_dem[bsl]
                        srt = np.lexsort((rows_d, -rows_s), axis=1) if rows_s.size else None
                        if srt is not None:
                            best_score[bsl] = np.take_along_axis(rows_s, srt, axis=1)
                            best_dem[bsl] = np.take_along_axis(rows_d, srt, axis=1)
            if k_per_expert > 0:
                has = np.isfinite(best_score)
                rs, cs = np.nonzero(has)
                pos_of = {int(v): i for i, v in enumerate(d_ids.tolist())}
                pd.append(np.array([pos_of[int(v)] for v in best_dem[rs, cs]], dtype=np.int64))
                pe.append(index.ids_[rs])
                ps.append(best_score[rs, cs])
            return self._pairs(d_ids, e_ids_sorted, pd, pe, ps)

    def _pairs(
        self,
        d_ids: np.ndarray,
        e_ids: np.ndarray,
        pd: list[np.ndarray],
        pe: list[np.ndarray],
        ps: list[np.ndarray],
    ) -> CandidatePairs:
        """Deduplicate and sort candidate pairs and attach capacities."""
        d_idx = np.concatenate(pd) if pd else np.zeros(0, dtype=np.int64)
        e_id = np.concatenate(pe) if pe else np.zeros(0, dtype=np.int64)
        score = np.concatenate(ps) if ps else np.zeros(0)
        e_idx = np.searchsorted(e_ids, e_id)
        order = np.lexsort((e_id, -score, d_idx))
        d_idx, e_idx, score = d_idx[order], e_idx[order], score[order]
        if d_idx.size:
            first = np.ones(d_idx.size, dtype=bool)
            key = d_idx * max(e_ids.size, 1) + e_idx
            _, uniq = np.unique(key, return_index=True)
            first[:] = False
            first[uniq] = True
            d_idx, e_idx, score = d_idx[first], e_idx[first], score[first]
        demand_open = np.array([max(self.demands_[int(i)].headcount - self.demands_[int(i)].filled, 0) for i in d_ids])
        expert_free = np.array(
            [max(p.capacity - p.load, 0) if p.active else 0 for p in (self.experts_[int(i)] for i in e_ids)],
            dtype=np.int64,
        )
        return CandidatePairs(
            demand_ids=d_ids,
            expert_ids=e_ids,
            demand_idx=d_idx.astype(np.int64),
            expert_idx=e_idx.astype(np.int64),
            score=score.astype(np.float64),
            demand_open=demand_open.astype(np.int64),
            expert_free=expert_free,
        )

    # ------------------------------------------------------------ explanations
    def _suggestion(
        self,
        demand: DemandProfile,
        expert: ExpertProfile,
        pairs: PairScores,
        i: int,
        q: _Query,
        explain: bool,
        *,
        query_is_demand: bool,
        vector: sp.csr_matrix | None = None,
    ) -> Suggestion:
        """Build one suggestion item (with explanations when asked)."""
        values = {name: round_score(pairs.components[c, i]) for c, name in enumerate(COMPONENTS)}
        bits = int(pairs.excluded[i])
        exclusions = exclusion_reasons(bits, demand, expert) if bits else []
        matched: list[str] = []
        missing: list[str] = []
        evidence: Evidence | None = None
        reasons: list[Reason] = []
        if explain:
            d_vec, e_vec = self._pair_vectors(demand, expert, q, query_is_demand, vector)
            matched = self._matched_terms(q, d_vec, e_vec, query_is_demand)
            missing = self._missing_keywords(demand, expert, e_vec)
            evidence = self._evidence(expert, d_vec)
            reasons = component_reasons(demand, expert, values, matched)
        return Suggestion(
            demand_id=demand.id,
            expert_id=expert.id,
            score=round_score(pairs.score[i]),
            components=values,
            matched_terms=matched,
            missing_keywords=missing,
            evidence=evidence,
            reasons=reasons,
            excluded=bits != 0,
            exclusions=exclusions,
        )

    def _pair_vectors(
        self,
        demand: DemandProfile,
        expert: ExpertProfile,
        q: _Query,
        query_is_demand: bool,
        vector: sp.csr_matrix | None,
    ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Document vectors of the demand and the specialist of a pair."""
        if query_is_demand:
            d_vec = q.vector
            e_vec = vector if vector is not None else self._stored_or_encoded(self.expert_index_, expert, True)
        else:
            e_vec = q.vector
            d_vec = self._stored_or_encoded(self.demand_index_, demand, False)
        return d_vec, e_vec

    def _stored_or_encoded(
        self, index: TextIndex, record: ExpertProfile | DemandProfile, is_expert: bool
    ) -> sp.csr_matrix:
        """A record's stored document vector, else freshly encoded."""
        vec = index.doc_vector(record.id) if record.id in index else None
        if vec is None:
            doc = expert_doc(record) if is_expert else demand_doc(record)  # type: ignore[arg-type]
            vec = self.vectorizer_.transform([doc])
        return vec

    def _surfaces(self, q: _Query, query_is_demand: bool) -> list[tuple[str, np.ndarray]]:
        """Readable words of the query side (keywords first) with the vocabulary ids they produce."""
        if q.surfaces is None:
            rec = q.record
            vocab = self.vectorizer_.vocabulary_
            analyzer = self.vectorizer_.analyzer_
            texts = (
                [rec.title, rec.industry, rec.description]  # type: ignore[union-attr]
                if query_is_demand
                else [" ".join(rec.fields), rec.title, rec.bio, rec.achievements]  # type: ignore[union-attr]
            )
            seen: dict[str, np.ndarray] = {}
            for kw in rec.keywords:
                kw = kw.strip()
                if kw and kw not in seen:
                    seen[kw] = _ids(analyzer(kw), vocab)
            for text in texts:
                for word, _ in analyzer.surface_terms(text):
                    if word not in seen:
                        seen[word] = _ids(analyzer(word), vocab)
            q.surfaces = [(w, ids) for w, ids in seen.items() if ids.size]
        return q.surfaces

    def _matched_terms(self, q: _Query, d_vec: sp.csr_matrix, e_vec: sp.csr_matrix, query_is_demand: bool) -> list[str]:
        """The query side's words that contributed most to the cosine (greedy, no redundant words)."""
        prod = d_vec.multiply(e_vec).tocsr()
        if prod.nnz == 0:
            return []
        contrib = dict(zip(prod.indices.tolist(), prod.data.tolist(), strict=True))
        scored = []
        for word, ids in self._surfaces(q, query_is_demand):
            s = sum(contrib.get(t, 0.0) for t in ids.tolist())
            if s > 0:
                scored.append((-s, -len(word), word, ids))
        scored.sort(key=lambda x: (x[0], x[1], x[2]))
        covered: set[int] = set()
        out: list[str] = []
        for _, _, word, ids in scored:
            useful = {t for t in ids.tolist() if t in contrib}
            if useful <= covered or any(word in w for w in out):
                continue
            covered |= useful
            out.append(word)
            if len(out) >= self.max_terms:
                break
        return out

    def _missing_keywords(self, demand: DemandProfile, expert: ExpertProfile, e_vec: sp.csr_matrix) -> list[str]:
        """The demand's keywords that the specialist's profile does not cover."""
        if not demand.keywords:
            return []
        profile = normalise_text(
            "\n".join([*expert.fields, *expert.keywords, expert.title, expert.bio, expert.achievements])
        )
        present = set(e_vec.indices.tolist())
        vocab = self.vectorizer_.vocabulary_
        analyzer = self.vectorizer_.analyzer_
        missing = []
        for kw in demand.keywords:
            norm = normalise_text(kw).strip()
            if not norm or norm in profile:
                continue
            ids = _ids(analyzer(kw), vocab)
            if ids.size and set(ids.tolist()) <= present:
                continue
            missing.append(kw)
        return missing

    def _evidence(self, expert: ExpertProfile, d_vec: sp.csr_matrix) -> Evidence | None:
        """The part of the specialist's profile (field item or sentence) closest to the demand."""
        key = _text_key(expert, EXPERT_TEXT_FIELDS)
        cached = self._parts_cache.get(expert.id)
        if cached is None or cached[0] != key:
            parts = split_parts(expert_doc(expert))
            X = (
                self.vectorizer_.transform([{p.field: p.text} for p in parts])
                if parts
                else sp.csr_matrix((0, d_vec.shape[1]), dtype=np.float32)
            )
            cached = (key, parts, X)
            self._parts_cache[expert.id] = cached
            while len(self._parts_cache) > self.explain_cache:
                self._parts_cache.popitem(last=False)
        else:
            self._parts_cache.move_to_end(expert.id)
        _, parts, X = cached
        if not parts or d_vec.nnz == 0:
            return None
        sims = (X @ d_vec.T).toarray().ravel()
        best = int(np.argmax(sims))
        if sims[best] <= 0:
            return None
        part = parts[best]
        return Evidence(part.field.split(".", 1)[-1], part.index, part.text, round_score(sims[best]))


def _ids(tokens: list[str], vocab: Mapping[str, int]) -> np.ndarray:
    """Distinct vocabulary ids of tokens."""
    return np.array(sorted({vocab[t] for t in tokens if t in vocab}), dtype=np.int64)
