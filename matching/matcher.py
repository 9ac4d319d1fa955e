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
from itertools import accumulate
from typing import Literal

import numpy as np
import scipy.sparse as sp

from matching.explain import occurs, occurs_normalised, showable
from matching.index import Aggregation, TextIndex, top_k_order
from matching.latent import LatentModel, LatentTable, blend
from matching.profiles import Profile, ProfileStore
from matching.records import DemandProfile, ExpertProfile
from matching.regions import province_names
from matching.scoring import (
    COMPONENTS,
    DemandTable,
    Evidence,
    ExpertTable,
    PairScores,
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

EXPERT_FIELD_WEIGHTS = {"fields": 1.0, "keywords": 1.0, "title": 0.5, "bio": 1.0, "achievements": 1.0}
DEMAND_FIELD_WEIGHTS = {"title": 1.0, "keywords": 1.0, "industry": 1.0, "description": 1.0}
"""Default field weights: flat (doubling keywords and titles measured worse on both public evaluation sets, see
the README), the professional title (教授, engineer …) at half."""
EXPERT_TEXT_FIELDS = ("fields", "keywords", "title", "bio", "achievements")
DEMAND_TEXT_FIELDS = ("title", "keywords", "industry", "description")
EXPERT_PRESENCE = ("expert.fields", "expert.keywords", "expert.bio")
DEMAND_PRESENCE = ("demand.industry",)
WORD_MEMO = 1 << 16
"""Words whose vocabulary ids a matcher remembers for explanations (forgotten all at once when full)."""
SURFACES_MEMO = 4096
"""Query texts whose surface words a matcher remembers (least recently asked first forgotten; ~10 KiB each)."""


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


_Terms = tuple[np.ndarray, np.ndarray]
"""A document row as its term ids (ascending, as every encoded row stores them) and weights."""

_Explained = tuple[list[str], list[str], Evidence | None]
"""A pair's explanation: matched terms, missing keywords and evidence."""


@dataclass(frozen=True, slots=True)
class _Surfaces:
    """A query's readable words with their vocabulary ids, also flat so one ``bincount`` scores them for a page."""

    words: list[str]
    start: list[int]  # word w's ids are terms[start[w]:start[w + 1]]
    terms: np.ndarray  # all words' ids, word after word
    word_of: np.ndarray  # the word of each entry
    rank: np.ndarray  # each word's place in tie-break order (longer first, then alphabetical)
    norms: list[str]  # each word normalised, as the truth rules read it
    in_own: bytearray  # whether each word occurs in the query side's own text: 0 not asked yet, 1 no, 2 yes


@dataclass(frozen=True, slots=True)
class _Word:
    """A readable word, normalised as the truth rules read it, and the distinct vocabulary ids of its tokens."""

    word: str
    norm: str
    ids: np.ndarray


@dataclass(frozen=True, slots=True)
class _Keywords:
    """A demand's non-blank keywords, as written and normalised; keyword ``k`` owns ``terms[start[k]:start[k + 1]]``."""

    words: list[str]
    norms: list[str]
    start: list[int]
    terms: np.ndarray


@dataclass(slots=True)
class _Query:
    """One side of a request: its record, vector, industry data and (lazily) its surface words and keywords."""

    record: ExpertProfile | DemandProfile
    vector: sp.csr_matrix
    industry_terms: np.ndarray
    industry_len: int
    surfaces: _Surfaces | None = None
    keywords: _Keywords | None = None
    slot: int | None = None  # the record's slot when its vector is the indexed one
    latent: tuple[np.ndarray, float] | None = None


class Matcher:
    """Ranks specialists for demands and demands for specialists, with constraints and explanations."""

    def __init__(
        self,
        *,
        analyzer: AnalyzerMode = "blend",
        char_weight: float = 0.7,
        char_unigrams: bool = False,
        unigram_max_df: float = 0.2,
        stem: bool = False,
        keep_boilerplate: bool = False,
        bilingual: bool = False,
        cross_weight: float = 0.05,
        cross_weight_latin: float = 0.1,
        expert_field_weights: Mapping[str, float] | None = None,
        demand_field_weights: Mapping[str, float] | None = None,
        aggregation: Aggregation = "document",
        weights: ScoreWeights | None = None,
        sublinear_tf: bool | Literal["document"] = "document",
        min_df: int | float = 1,
        max_df: int | float = 1.0,
        min_text: float = 0.0,
        n_jobs: int = 1,
        max_terms: int = 8,
        explain_cache: int = 4096,
        home_province: str = "辽宁",
        latent_rank: int = 50,
        latent_weight: float = 0.3,
        latent_weight_latin: float = 0.0,
        latent_depth: int = 1000,
        latent_min_docs: int = 500,
    ) -> None:
        self.analyzer = analyzer
        self.char_weight = char_weight
        self.char_unigrams = char_unigrams
        self.unigram_max_df = unigram_max_df
        self.stem = stem
        self.keep_boilerplate = keep_boilerplate
        self.bilingual = bilingual
        self.cross_weight = cross_weight
        self.cross_weight_latin = cross_weight_latin
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
        self.home_province = home_province
        self.latent_rank = latent_rank
        self.latent_weight = latent_weight
        self.latent_weight_latin = latent_weight_latin
        self.latent_depth = latent_depth
        self.latent_min_docs = latent_min_docs

    # ------------------------------------------------------------------ fitting
    def _field_weights(self) -> dict[str, float]:
        """Field weights with side-qualified names."""
        ew = dict(EXPERT_FIELD_WEIGHTS if self.expert_field_weights is None else self.expert_field_weights)
        dw = dict(DEMAND_FIELD_WEIGHTS if self.demand_field_weights is None else self.demand_field_weights)
        return {f"expert.{k}": float(v) for k, v in ew.items()} | {f"demand.{k}": float(v) for k, v in dw.items()}

    def vectorizer_params(self) -> dict:
        """The :class:`~matching.text.TextVectorizer` keyword arguments this matcher uses."""
        return {
            "analyzer": self.analyzer,
            "field_weights": self._field_weights(),
            "sublinear_tf": self.sublinear_tf,
            "min_df": self.min_df,
            "max_df": self.max_df,
            "char_weight": self.char_weight,
            "char_unigrams": self.char_unigrams,
            "unigram_max_df": self.unigram_max_df,
            "stem": self.stem,
            "keep_boilerplate": self.keep_boilerplate,
            "bilingual": self.bilingual,
            "cross_weight": self.cross_weight,
            "cross_weight_latin": self.cross_weight_latin,
            "n_jobs": self.n_jobs,
        }

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
            home = province_names(self.home_province)
            if home is None:
                raise ValueError(f"unknown home province {self.home_province!r}")
            self.home_ = (home[1], home[2])
            self.vectorizer_ = TextVectorizer(**self.vectorizer_params())
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
            self._conflicts: dict[int, set[int]] = {}  # enterprise id -> specialists with that conflict
            self._engaged: dict[int, set[int]] = {}  # demand id -> specialists offered or active on it
            for slot, p in enumerate(experts):
                self._store_expert(slot, p)
            ind_len = enc.presence_len[n_e:]
            for slot, d in enumerate(demands):
                self._store_demand(slot, d, int(ind_len[slot]))
            self._fit_latent(enc.X, n_e)
            self._profiles: OrderedDict[int, Profile] = OrderedDict()
            self._packed = ProfileStore.empty()
            self._surfaces_memo: OrderedDict[tuple, _Surfaces] = OrderedDict()
            self._word_memo: dict[str, _Word] = {}
        return self

    def _fit_latent(self, X: sp.csr_matrix, n_experts: int) -> None:
        """Fit the latent channel on both sides' rows (when it is on and the corpus is large enough)."""
        self.latent_ = None
        self._expert_latent = self._demand_latent = None
        on = self.latent_rank > 0 and self.analyzer == "blend" and max(self.latent_weight, self.latent_weight_latin) > 0
        if not on or X.shape[0] < self.latent_min_docs:
            return
        if not (0.0 <= self.latent_weight < 1.0 and 0.0 <= self.latent_weight_latin < 1.0):
            raise ValueError("latent weights must be in [0, 1)")
        self.latent_ = LatentModel(self.latent_rank).fit(X)
        if self.latent_ is None:
            return
        Z = self.latent_.transform(X)
        w = self._latent_weights(X)
        self._expert_latent = LatentTable(self.latent_.rank_)
        self._expert_latent.set_many(Z[:n_experts], w[:n_experts])
        self._demand_latent = LatentTable(self.latent_.rank_)
        self._demand_latent.set_many(Z[n_experts:], w[n_experts:])

    def _latent_weights(self, X: sp.csr_matrix) -> np.ndarray:
        """Each row's latent weight: ``latent_weight`` when it has at least as many character n-grams as words
        (mostly Chinese), else ``latent_weight_latin``."""
        group = self.vectorizer_.group_[X.indices]
        owner = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        chars = np.bincount(owner[group == 1], minlength=X.shape[0])
        words = np.bincount(owner[group == 0], minlength=X.shape[0])
        chinese = (chars >= words) & (chars > 0)
        return np.where(chinese, self.latent_weight, self.latent_weight_latin).astype(np.float32)

    def _store_latent(self, table: LatentTable | None, slot: int, X: sp.csr_matrix) -> None:
        """Project one re-encoded record onto the latent basis and store it at its slot."""
        if table is not None and self.latent_ is not None:
            table.set(slot, self.latent_.transform(X)[0], float(self._latent_weights(X)[0]))

    def _query_latent(self, q: _Query, table: LatentTable | None) -> tuple[np.ndarray, float]:
        """The query's latent vector and weight: the stored ones when its vector is the indexed one."""
        if q.latent is None:
            if q.slot is not None and table is not None and q.slot < table.n:
                q.latent = (table.z[q.slot], float(table.weight[q.slot]))
            else:
                X = sp.csr_matrix(q.vector)
                q.latent = (self.latent_.transform(X)[0], float(self._latent_weights(X)[0]))  # type: ignore[union-attr]
        return q.latent

    def _with_latent(
        self, q: _Query, slots: np.ndarray, text: np.ndarray, own: LatentTable | None, other: LatentTable | None
    ) -> np.ndarray:
        """Text relevance of touched slots with the latent part blended in (see :mod:`matching.latent`)."""
        if self.latent_ is None or other is None or text.size == 0:
            return text
        zq, wq = self._query_latent(q, own)
        weight = np.minimum(other.weight[slots], wq).astype(np.float64)
        return blend(text, weight, slots, other.z, zq, self.latent_depth)

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
        """Record a specialist's attributes at its slot, their conflicts and the demands they are engaged on."""
        old = self.experts_.get(p.id)
        if old is not None:
            self._forget_pairs(old)
        self.experts_[p.id] = p
        self._expert_table.set(slot, p, self._regions)
        for ent in p.conflicts:
            self._conflicts.setdefault(ent, set()).add(p.id)
        for demand_id in p.engaged:
            self._engaged.setdefault(demand_id, set()).add(p.id)

    def _forget_pairs(self, p: ExpertProfile) -> None:
        """Drop a specialist's entries from the conflict and engagement lookups."""
        for ent in p.conflicts:
            self._conflicts.get(ent, set()).discard(p.id)
        for demand_id in p.engaged:
            self._engaged.get(demand_id, set()).discard(p.id)

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
            self._store_latent(self._expert_latent, slot, enc.X)
            self._profiles.pop(expert.id, None)
            self._packed.forget(expert.id)
            self._maybe_compact(index, self._expert_table, self._expert_latent)

    def remove_expert(self, expert_id: int) -> bool:
        """Drop a specialist; returns whether they were present."""
        self._check()
        with self._lock:
            p = self.experts_.pop(expert_id, None)
            if p is None:
                return False
            self._forget_pairs(p)
            self.expert_index_.remove(expert_id)
            self._profiles.pop(expert_id, None)
            self._packed.forget(expert_id)
            self._maybe_compact(self.expert_index_, self._expert_table, self._expert_latent)
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
            self._store_latent(self._demand_latent, slot, enc.X)
            self._maybe_compact(index, self._demand_table, self._demand_latent)

    def remove_demand(self, demand_id: int) -> bool:
        """Drop a demand; returns whether it was present."""
        self._check()
        with self._lock:
            if self.demands_.pop(demand_id, None) is None:
                return False
            self.demand_index_.remove(demand_id)
            self._maybe_compact(self.demand_index_, self._demand_table, self._demand_latent)
            return True

    @staticmethod
    def _maybe_compact(index: TextIndex, table: ExpertTable | DemandTable, latent: LatentTable | None = None) -> None:
        """Compact an index when due, keeping the attribute and latent tables aligned with its slots."""
        table.ensure(index.ids_.size)
        if latent is not None:
            latent.ensure(index.ids_.size)
        if index.should_compact():
            kept = index.compact()
            table.take(kept)
            if latent is not None:
                latent.take(kept)

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
        return _Query(
            record, vector, np.sort(index.presence_terms(slot)), int(self._demand_table.industry_len[slot]), slot=slot
        )

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
        return _Query(record, vector, np.sort(index.presence_terms(slot)), 0, slot=slot)

    def _expert_candidates(
        self, q: _Query, slots: np.ndarray, text: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, PairScores]:
        """Scores of a demand against touched specialist slots (text above min_text only)."""
        keep = text > self.min_text
        slots, text = slots[keep], text[keep].astype(np.float64)
        text = self._with_latent(q, slots, text, self._demand_latent, self._expert_latent)
        demand: DemandProfile = q.record  # type: ignore[assignment]
        index = self.expert_index_
        if q.industry_len > 0:
            hit_slots, counts = index.presence_counts(q.industry_terms)
            scratch = np.zeros(index.ids_.size, dtype=np.float64)
            scratch[hit_slots] = counts
            industry = industry_values(scratch[slots], q.industry_len)
        else:
            industry = np.full(slots.size, 0.5)
        conflict = np.isin(slots, self._slots_of(self._conflicts.get(demand.enterprise_id, ())))
        engaged = np.isin(slots, self._slots_of(self._engaged.get(demand.id, ())))
        table = self._demand_scratch(demand, q.industry_len)
        pairs = score_pairs(table, 0, self._expert_table, slots, text, industry, conflict, self.weights_, engaged)
        return slots, index.ids_[slots], pairs

    def _slots_of(self, expert_ids: Iterable[int]) -> np.ndarray:
        """Index slots of these specialists (those indexed), sorted."""
        index = self.expert_index_
        return np.array(sorted(index.slot(e) for e in expert_ids if e in index), dtype=np.int64)

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
        text = self._with_latent(q, slots, text, self._expert_latent, self._demand_latent)
        expert: ExpertProfile = q.record  # type: ignore[assignment]
        index = self.demand_index_
        table = self._demand_table
        hit_slots, counts = index.presence_counts(q.industry_terms)
        scratch = np.zeros(index.ids_.size, dtype=np.float64)
        scratch[hit_slots] = counts
        industry = industry_values(scratch[slots], table.industry_len[slots])
        enterprises = table.enterprise[slots]
        conflict = np.isin(enterprises, sorted(expert.conflicts))
        engaged = np.isin(index.ids_[slots], sorted(expert.engaged))
        etable = ExpertTable()
        etable.set(0, expert, self._regions)
        pairs = score_pairs(table, slots, etable, 0, text, industry, conflict, self.weights_, engaged)
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
        records = [(q.record, self.experts_[int(ids[i])]) for i in page]
        return self._items(q, records, pairs, page, explain, query_is_demand=True), total

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
            records = [(self.demands_[int(ids[i])], q.record) for i in page]
            return self._items(q, records, pairs, page, explain, query_is_demand=False), total

    def warm_up(self) -> Matcher:
        """Answer one query each way and run each top-k kernel once, so that nothing is compiled on first use."""
        self._check()
        if self.demands_:
            self.suggest_experts(next(iter(self.demands_)), limit=1)
        if self.experts_:
            self.suggest_demands(next(iter(self.experts_)), limit=1)
        for index in (self.expert_index_, self.demand_index_):
            index.warm_up()
        return self

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
            if self.latent_ is not None and text > 0:
                zq, wq = self._query_latent(q, self._demand_latent)
                ze, we = self._query_latent(eq, self._expert_latent)
                w = min(wq, we)
                text = (1.0 - w) * text + w * max(float(np.dot(zq.astype(np.float64), ze.astype(np.float64))), 0.0)
            table = self._demand_scratch(q.record, q.industry_len)  # type: ignore[arg-type]
            matched = np.isin(q.industry_terms, eq.industry_terms).sum() if q.industry_len else 0
            industry = industry_values(np.array([matched], dtype=np.float64), q.industry_len)
            etable = ExpertTable()
            etable.set(0, e, self._regions)
            conflict = np.array([q.record.enterprise_id in e.conflicts])  # type: ignore[union-attr]
            engaged = np.array([q.record.id in e.engaged])
            pairs = score_pairs(table, 0, etable, 0, np.array([text]), industry, conflict, self.weights_, engaged)
            return self._items(q, [(q.record, e)], pairs, [0], explain, query_is_demand=True, vector=eq.vector)[0]

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
    def _items(
        self,
        q: _Query,
        records: list[tuple[DemandProfile, ExpertProfile]],
        pairs: PairScores,
        page: Sequence[int],
        explain: bool,
        *,
        query_is_demand: bool,
        vector: sp.csr_matrix | None = None,
    ) -> list[Suggestion]:
        """Suggestion items for the pairs of one query at positions ``page`` of ``pairs``, explained when asked."""
        explained = self._explanations(q, records, query_is_demand, vector) if explain else [None] * len(records)
        return [self._suggestion(d, e, pairs, i, x) for (d, e), i, x in zip(records, page, explained, strict=True)]

    def _suggestion(
        self, demand: DemandProfile, expert: ExpertProfile, pairs: PairScores, i: int, explained: _Explained | None
    ) -> Suggestion:
        """Build one suggestion item (with its explanation, if any)."""
        values = {name: round_score(pairs.components[c, i]) for c, name in enumerate(COMPONENTS)}
        bits = int(pairs.excluded[i])
        matched, missing, evidence = explained or ([], [], None)
        return Suggestion(
            demand_id=demand.id,
            expert_id=expert.id,
            score=round_score(pairs.score[i]),
            components=values,
            matched_terms=matched,
            missing_keywords=missing,
            evidence=evidence,
            reasons=component_reasons(demand, expert, values, matched, self.home_) if explained else [],
            excluded=bits != 0,
            exclusions=exclusion_reasons(bits, demand, expert) if bits else [],
        )

    def _explanations(
        self,
        q: _Query,
        records: list[tuple[DemandProfile, ExpertProfile]],
        query_is_demand: bool,
        vector: sp.csr_matrix | None,
    ) -> list[_Explained]:
        """Matched terms, missing keywords and evidence of pairs sharing one query; the array work of a whole
        page runs in a few NumPy calls, since per-pair calls on such small arrays cost more than the work."""
        if not records:
            return []
        rows = [self._pair_terms(d, e, q, query_is_demand, vector) for d, e in records]
        by_id = {e.id: e for _, e in records}
        known = {i: self._profile(e) for i, e in by_id.items()}  # a specialist's page has one profile, once
        profiles = [known[e.id] for _, e in records]
        own = _query_text(q.record)
        others = [p.text for p in profiles] if query_is_demand else [_query_text(d) for d, _ in records]
        matched = self._matched_terms(q, [e if query_is_demand else d for d, e in rows], query_is_demand, own, others)
        evidence = _evidence(profiles, [d for d, _ in rows], self._n_terms())
        missing = [
            _missing_keywords(self._keywords(d, q, query_is_demand), profile, e_terms[0])
            for (d, _), profile, (_, e_terms) in zip(records, profiles, rows, strict=True)
        ]
        return list(zip(matched, missing, evidence, strict=True))

    def _pair_terms(
        self,
        demand: DemandProfile,
        expert: ExpertProfile,
        q: _Query,
        query_is_demand: bool,
        vector: sp.csr_matrix | None,
    ) -> tuple[_Terms, _Terms]:
        """Document rows of the demand and the specialist of a pair."""
        if query_is_demand:
            d_terms = _row(q.vector)
            e_terms = _row(vector) if vector is not None else self._stored_or_encoded(self.expert_index_, expert, True)
        else:
            e_terms = _row(q.vector)
            d_terms = self._stored_or_encoded(self.demand_index_, demand, False)
        return d_terms, e_terms

    def _stored_or_encoded(self, index: TextIndex, record: ExpertProfile | DemandProfile, is_expert: bool) -> _Terms:
        """A record's stored document row, else freshly encoded."""
        terms = index.doc_terms(record.id)
        if terms is None:
            doc = expert_doc(record) if is_expert else demand_doc(record)  # type: ignore[arg-type]
            terms = _row(self.vectorizer_.transform([doc]))
        return terms

    def _n_terms(self) -> int:
        """Size of the fitted vocabulary (term ids are below it)."""
        return len(self.vectorizer_.vocabulary_)

    def _word(self, word: str) -> _Word:
        """A word as one shared object, normalised, with the distinct vocabulary ids of its tokens; memoised: the
        same words recur across queries, and each remembered query then holds references, not copies."""
        known = self._word_memo.get(word)
        if known is None:
            if len(self._word_memo) >= WORD_MEMO:
                self._word_memo.clear()
            ids = _ids(self.vectorizer_.analyzer_(word), self.vectorizer_.vocabulary_)
            known = self._word_memo[word] = _Word(word, _same_or(word, normalise_text(word).strip()), ids)
        return known

    def _word_ids(self, word: str) -> np.ndarray:
        """Distinct vocabulary ids of a word's tokens (memoised)."""
        return self._word(word).ids

    def _profile(self, expert: ExpertProfile) -> Profile:
        """A specialist's tokenised parts and normalised text: prepared in advance, else cached until their text
        changes."""
        key = _text_key(expert, EXPERT_TEXT_FIELDS)
        cached = self._profiles.get(expert.id)
        if cached is not None and cached.key == key:
            self._profiles.move_to_end(expert.id)
            return cached
        # a stored record's packed row is current while alive (a text change forgets it); another record's text is
        # compared by digest
        packed = self._packed.get(expert.id, None if self.experts_.get(expert.id) is expert else key)
        if packed is not None:
            return packed
        (profile,) = self._new_profiles([expert])
        self._profiles[expert.id] = profile
        while len(self._profiles) > self.explain_cache:
            self._profiles.popitem(last=False)
        return profile

    def _new_profiles(self, experts: Sequence[ExpertProfile], n_jobs: int | None = None) -> list[Profile]:
        """Specialists' explanation data, computed: their parts encoded in one pass (each part's row is the same
        whether encoded alone or among others)."""
        parts = [split_parts(expert_doc(e)) for e in experts]
        docs = [{p.field: p.text} for ps in parts for p in ps]
        X = self.vectorizer_.transform(docs, n_jobs=n_jobs) if docs else sp.csr_matrix((0, 0), dtype=np.float32)
        ptr, indices, data = X.indptr, X.indices, X.data
        out, row = [], 0
        for expert, ps in zip(experts, parts, strict=True):
            a, b = row, row + len(ps)
            lo, hi = int(ptr[a]), int(ptr[b])
            text = normalise_text(
                "\n".join([*expert.fields, *expert.keywords, expert.title, expert.bio, expert.achievements])
            )
            key = _text_key(expert, EXPERT_TEXT_FIELDS)
            out.append(Profile(key, ps, np.diff(ptr[a : b + 1]), indices[lo:hi].copy(), data[lo:hi].copy(), text))
            row = b
        return out

    def prepare_explanations(self, n_jobs: int | None = None, chunk: int = 1000) -> int:
        """Compute the explanation data of every specialist not prepared yet (up to ``explain_cache`` in all), in
        passes of ``chunk`` specialists tokenised on ``n_jobs`` processes, and pack it in flat arrays; returns how
        many were added.

        A supervisor calls it before forking its workers: they then share this data instead of each working it
        out on the first question that explains a specialist (about 0.8 ms a profile), and, as reading the arrays
        writes to none of their pages, keep sharing it as they explain. Passes of 1,000 rather than 5,000 leave
        less free space scattered in the heap the workers inherit, where their own allocations would copy pages
        (a forked worker ranking without explaining: about 16 MiB its own instead of 24, at 10,000 specialists)."""
        self._check()
        with self._lock:
            room = max(0, self.explain_cache - len(self._packed))
            todo = [e for e in self.experts_.values() if e.id not in self._packed][:room]
            packs = [self._packed]
            for start in range(0, len(todo), chunk):
                batch = todo[start : start + chunk]
                profiles = self._new_profiles(batch, n_jobs)
                packs.append(ProfileStore.pack([(e.id, p) for e, p in zip(batch, profiles, strict=True)]))
            if todo:
                self._packed = ProfileStore.concat(packs)
                for expert in todo:
                    self._profiles.pop(expert.id, None)  # served from the packed copy now
            return len(todo)

    def _surfaces(self, q: _Query, query_is_demand: bool) -> _Surfaces:
        """Readable words of the query side (keywords first) with the vocabulary ids they produce, remembered for
        the same text: a demand asked for its page again is not segmented again."""
        if q.surfaces is None:
            names = DEMAND_TEXT_FIELDS if query_is_demand else EXPERT_TEXT_FIELDS
            key = (query_is_demand, *(tuple(v) if isinstance(v, list) else v for v in _text_key(q.record, names)))
            cached = self._surfaces_memo.get(key)
            if cached is None:
                cached = self._surfaces_memo[key] = self._new_surfaces(q.record, query_is_demand)
                while len(self._surfaces_memo) > SURFACES_MEMO:
                    self._surfaces_memo.popitem(last=False)
            else:
                self._surfaces_memo.move_to_end(key)
            q.surfaces = cached
        return q.surfaces

    def _new_surfaces(self, rec: ExpertProfile | DemandProfile, query_is_demand: bool) -> _Surfaces:
        """The query side's surface words, computed."""
        texts = (
            [rec.title, rec.industry, rec.description]  # type: ignore[union-attr]
            if query_is_demand
            else [" ".join(rec.fields), rec.title, rec.bio, rec.achievements]  # type: ignore[union-attr]
        )
        seen: dict[str, _Word] = {}
        for kw in rec.keywords:
            kw = kw.strip()
            if kw and kw not in seen:
                seen[kw] = self._word(kw)
        for text in texts:
            for word in self.vectorizer_.analyzer_.surface_words(text):
                if word not in seen:
                    seen[word] = self._word(word)
        known = [w for w in seen.values() if w.ids.size]
        words = [w.word for w in known]
        start, terms = _flatten([w.ids for w in known])
        rank = np.empty(len(words), dtype=np.int32)
        rank[sorted(range(len(words)), key=lambda k: (-len(words[k]), words[k]))] = np.arange(len(words))
        return _Surfaces(
            words=words,
            start=start,
            terms=terms,
            word_of=np.repeat(np.arange(len(words), dtype=np.int32), np.diff(start)),
            rank=rank,
            norms=[w.norm for w in known],
            in_own=bytearray(len(words)),
        )

    def _matched_terms(
        self, q: _Query, others: list[_Terms], query_is_demand: bool, own: str, texts: list[str]
    ) -> list[list[str]]:
        """For each row of the other side, the query side's words that contributed most to the cosine (greedy,
        no redundant words), each shown only when it occurs in both texts (``own`` and ``texts[k]``)."""
        sf = self._surfaces(q, query_is_demand)
        n, n_flat, n_words = len(others), sf.terms.size, len(sf.words)
        rows = [*others, _row(q.vector)]
        w = _weights_at(rows, np.tile(sf.terms, n + 1), np.repeat(np.arange(n + 1), n_flat), self._n_terms())
        w = w.reshape(n + 1, n_flat)
        # each entry's contribution to the cosine (the float32 product the sparse multiply gave, 0 for terms the
        # rows do not share), summed per word in float64 and id order as the per-word Python sums were
        contrib = w[:n] * w[n]
        bins = np.arange(n)[:, None] * n_words + sf.word_of
        scores = np.bincount(bins.ravel(), contrib.ravel(), minlength=n * n_words).reshape(n, n_words)
        # best first, ties to the longer word, then alphabetically; words without contribution come last
        order = np.lexsort((np.broadcast_to(sf.rank, scores.shape), -scores)).tolist()
        positive = (scores > 0).tolist()
        shared = contrib != 0
        flat = sf.terms.tolist()
        return [
            self._greedy(sf, flat, order[k], positive[k], set(sf.terms[shared[k]].tolist()), own, texts[k])
            for k in range(n)
        ]

    def _greedy(
        self,
        sf: _Surfaces,
        flat: list[int],
        order: list[int],
        positive: list[bool],
        shared: set[int],
        own: str,
        other: str,
    ) -> list[str]:
        """The best words in ``order`` that add shared terms not yet covered (``flat``: ``sf.terms`` as a list),
        are not part of a chosen word and occur as shown in both texts."""
        covered: set[int] = set()
        out: list[str] = []
        for w in order:
            if not positive[w]:
                break
            word = sf.words[w]
            useful = shared.intersection(flat[sf.start[w] : sf.start[w + 1]])
            if useful <= covered or any(word in o for o in out) or not self._shown(sf, w, own, other):
                continue
            covered |= useful
            out.append(word)
            if len(out) >= self.max_terms:
                break
        return out

    @staticmethod
    def _shown(sf: _Surfaces, w: int, own: str, other: str) -> bool:
        """:func:`~matching.explain.shown_in_both` for word ``w``; its test against the query side's own text
        (the same text for every page of that query) is remembered."""
        norm = sf.norms[w]
        if not showable(norm):
            return False
        if not sf.in_own[w]:
            sf.in_own[w] = 2 if occurs_normalised(norm, own) else 1
        return sf.in_own[w] == 2 and occurs_normalised(norm, other)

    def _keywords(self, demand: DemandProfile, q: _Query, query_is_demand: bool) -> _Keywords:
        """The demand's non-blank keywords, normalised and as vocabulary ids (once per query when it asks)."""
        if query_is_demand and q.keywords is not None:
            return q.keywords
        words, norms = [], []
        for kw in demand.keywords:
            norm = normalise_text(kw).strip()
            if norm:
                words.append(kw)
                norms.append(norm)
        keywords = _Keywords(words, norms, *_flatten([self._word_ids(kw) for kw in words]))
        if query_is_demand:
            q.keywords = keywords
        return keywords


def _row(vec: sp.csr_matrix) -> _Terms:
    """Term ids and weights of a 1×V row."""
    return vec.indices, vec.data


def _flatten(ids: list[np.ndarray]) -> tuple[list[int], np.ndarray]:
    """Per-word id arrays as one flat array, with each word's start offset (and the end)."""
    start = [0, *accumulate(a.size for a in ids)]
    return start, np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32)


def _has(keys: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which ids are in ascending keys."""
    if keys.size == 0:
        return np.zeros(ids.size, dtype=bool)
    return keys.take(np.searchsorted(keys, ids), mode="clip") == ids


def _weights_at(rows: list[_Terms], terms: np.ndarray, owner: np.ndarray, n_terms: int) -> np.ndarray:
    """The weight of each term in row ``owner`` of the given rows (0 where that row lacks it)."""
    # one ascending key space for all rows: row r's term t is r * n_terms + t
    keys = np.concatenate([ids for ids, _ in rows]).astype(np.int64)
    keys += np.repeat(np.arange(len(rows), dtype=np.int64) * n_terms, [ids.size for ids, _ in rows])
    weights = np.concatenate([w for _, w in rows])
    if keys.size == 0:
        return np.zeros(terms.size, dtype=weights.dtype)
    wanted = owner * n_terms + terms
    pos = np.searchsorted(keys, wanted)
    return np.where(keys.take(pos, mode="clip") == wanted, weights.take(pos, mode="clip"), 0)


def _same_or(word: str, norm: str) -> str:
    """The word itself when normalising left it as it was (one string kept, not two equal ones)."""
    return word if norm == word else norm


def _query_text(record: ExpertProfile | DemandProfile) -> str:
    """All text fields of a record, normalised, as the truth rules of explanations read them."""
    if isinstance(record, ExpertProfile):
        parts = [*record.fields, *record.keywords, record.title, record.bio, record.achievements]
    else:
        parts = [record.title, *record.keywords, record.industry, record.description]
    return normalise_text("\n".join(parts))


def _missing_keywords(keywords: _Keywords, profile: Profile, e_ids: np.ndarray) -> list[str]:
    """The demand's keywords that the specialist's profile covers neither in its text nor in its terms."""
    todo = [k for k, norm in enumerate(keywords.norms) if not occurs(norm, profile.text)]
    if not todo:
        return []
    has = _has(e_ids, keywords.terms).tolist()
    s = keywords.start
    return [keywords.words[k] for k in todo if not (s[k + 1] > s[k] and all(has[s[k] : s[k + 1]]))]


def _evidence(profiles: list[Profile], demands: list[_Terms], n_terms: int) -> list[Evidence | None]:
    """For each specialist, the part of their profile (field item or sentence) closest to their pair's demand."""
    sizes = [p.part_terms.size for p in profiles]
    owner = np.repeat(np.arange(len(profiles)), sizes)
    d_w = _weights_at(demands, np.concatenate([p.part_terms for p in profiles]), owner, n_terms)
    starts = list(accumulate((len(p.parts) for p in profiles), initial=0))
    sims = np.zeros(starts[-1], dtype=np.float32)
    part_of = np.repeat(np.arange(sims.size), np.concatenate([p.part_len for p in profiles]))
    # float32 sums in each part's term order, as the sparse product made them (terms the demand lacks add 0)
    np.add.at(sims, part_of, np.concatenate([p.part_weights for p in profiles]) * d_w)
    out: list[Evidence | None] = []
    for profile, a, b in zip(profiles, starts[:-1], starts[1:], strict=True):
        best = int(sims[a:b].argmax()) if b > a else 0
        if b == a or sims[a + best] <= 0:
            out.append(None)
        else:
            part = profile.parts[best]
            out.append(Evidence(part.field.split(".", 1)[-1], part.index, part.text, round_score(sims[a + best])))
    return out


def _ids(tokens: list[str], vocab: Mapping[str, int]) -> np.ndarray:
    """Distinct vocabulary ids of tokens."""
    return np.array(sorted({vocab[t] for t in tokens if t in vocab}), dtype=np.int32)
