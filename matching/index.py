"""A fitted TF-IDF index over documents with incremental updates and fast top-k cosine queries.

Layout. Rows (one per document, or one per part in ``"best_part"`` aggregation) are float32 CSR with a
term-major copy (the transposed CSR, i.e. the inverted index) used for queries. A query's cosine scores come
from a sparse row-vector × term-major product, which touches only the postings of the query's terms (no full
similarity matrix); the k best are found with ``np.argpartition`` and ordered by score descending, then id
ascending. Terms found in more than ``dense_df`` (20 %) of a large segment's documents (boilerplate such as
研发, 经验) are kept as dense float32 columns instead of postings: a vectorised multiply-add is several
times cheaper than walking postings that long, for at most twice their postings' memory (less above 50 %;
their postings are cut out of the inverted index in place, never copied). A top-k query skips them when
their largest possible contribution (``min(||q_dense||, sum q_t max_t)``, rows being unit vectors) cannot
lift a document past the k-th best score of the other terms, and adds them only for the few candidates near
the top — still exact. Full listings (:meth:`TextIndex.search`) always include them.

Documents live in *slots*; ``ids_[slot]`` is the caller's id. Rows built by :meth:`TextIndex.fit` form the
static *main* segment; :meth:`TextIndex.upsert` appends to a small *delta* segment (its term-major copy is
rebuilt lazily, in O(delta)), and an upserted or removed document's old slot is tombstoned. Both take effect
at once, with the fitted vocabulary and idf (no refit). :meth:`TextIndex.compact` merges the delta into main
and drops tombstones; it runs by itself (``auto_compact``) once the delta holds more than
``max(min_delta, compact_ratio * main)`` documents or a tenth of the slots are dead, and returns the kept
slots so a caller holding per-slot arrays can follow.

When to refit. Upserts use the vocabulary and idf learnt at fit time: words unseen then are dropped (they
cannot match until a refit) and idf drifts as the corpus changes. ``drift_`` is the share of the fitted
corpus upserted or removed since the fit and ``oov_rate_`` the share of upserted documents' tokens that were
out of vocabulary. A refit is worth it when ``drift_ > 0.2`` or ``oov_rate_ > 0.05`` (see
:meth:`TextIndex.needs_refit`) — e.g. nightly, or when a new programme domain is added — since it re-tokenises
the whole corpus (on two cores, about 20 s per 100,000 profiles with ``char2`` and about a minute with
``blend``/``words``).

In ``"best_part"`` aggregation a document's score is the maximum over its parts (list items, sentences) of
the part's cosine, scaled by the part's field weight divided by the largest field weight.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from matching.text import Document, Encoded, TextVectorizer, split_parts

Aggregation = Literal["document", "best_part"]


def sparse_scores(q: sp.csr_matrix, T: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Rows touched by a 1×V query against a term-major matrix, with their dot products."""
    if q.nnz == 0 or T.shape[1] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    res = q @ T
    return res.indices.astype(np.int64, copy=False), res.data


def top_k_order(scores: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k best entries: score descending, then id ascending."""
    n = scores.size
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    if n > k:
        threshold = np.partition(scores, n - k)[n - k]
        cand = np.flatnonzero(scores >= threshold)
    else:
        cand = np.arange(n)
    order = np.lexsort((ids[cand], -scores[cand].astype(np.float64)))
    return cand[order[:k]]


@dataclass(slots=True)
class _Segment:
    """Rows, their term-major copy (sparse terms) and dense columns of very frequent terms, with owners."""

    X: sp.csr_matrix
    T: sp.csr_matrix
    owner: np.ndarray
    D: np.ndarray | None = None
    dense_pos: np.ndarray | None = None
    D_max: np.ndarray | None = None


def _segment(X: sp.csr_matrix, owner: np.ndarray, dense_df: float = 1.0, dense_min_docs: int = 0) -> _Segment:
    """Build a segment: term-major copy via a C-level transpose; frequent terms as dense columns."""
    T = X.T.tocsr()
    n_rows = X.shape[0]
    if n_rows < max(dense_min_docs, 1) or dense_df >= 1.0:
        return _Segment(X, T, owner)
    df = np.diff(T.indptr)
    dense = np.flatnonzero(df > dense_df * n_rows)
    if dense.size == 0:
        return _Segment(X, T, owner)
    D = np.zeros((dense.size, n_rows), dtype=np.float32)
    for i, t in enumerate(dense.tolist()):
        a, b = T.indptr[t], T.indptr[t + 1]
        D[i, T.indices[a:b]] = T.data[a:b]
    indptr, shape = T.indptr, T.shape
    buffers = [_owner(T.data), _owner(T.indices)]
    del T  # the callee takes the only references, so it can shrink the buffers in place
    T = _drop_rows(indptr, buffers, shape, dense)
    pos = np.full(T.shape[0], -1, dtype=np.int32)
    pos[dense] = np.arange(dense.size, dtype=np.int32)
    return _Segment(X, T, owner, D, pos, D.max(axis=1).astype(np.float64))


def _drop_rows(
    indptr: np.ndarray, buffers: list[np.ndarray], shape: tuple[int, int], drop: np.ndarray
) -> sp.csr_matrix:
    """Empty some rows of CSR arrays (``buffers`` = [data, indices], taken over) by moving the kept rows'
    entries down in place, then shrink the buffers: no second copy of the matrix is ever made."""
    data, indices = buffers.pop(0), buffers.pop(0)
    dtype = indptr.dtype
    indptr = indptr.astype(np.int64)
    counts = np.diff(indptr)
    counts[drop] = 0
    bounds = [-1, *drop.tolist(), shape[0]]
    write = 0
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if hi - lo <= 1:
            continue
        a, b = int(indptr[lo + 1]), int(indptr[hi])
        if a != write:
            data[write : write + b - a] = data[a:b]
            indices[write : write + b - a] = indices[a:b]
        write += b - a
    try:  # give the tail back; fails (and keeps views) if anything else still refers to the buffers
        data.resize(write, refcheck=True)
        indices.resize(write, refcheck=True)
    except ValueError:
        data, indices = data[:write], indices[:write]
    new_indptr = np.zeros(shape[0] + 1, dtype=dtype)
    np.cumsum(counts, out=new_indptr[1:])
    out = sp.csr_matrix((data, indices, new_indptr), shape=shape)
    out.has_sorted_indices = True
    return out


def _owner(arr: np.ndarray) -> np.ndarray:
    """The array owning a 1-d array's whole buffer (the array itself, or its base when it spans it all)."""
    base = arr.base
    if isinstance(base, np.ndarray) and base.ndim == 1 and base.size == arr.size and base.dtype == arr.dtype:
        return base
    return arr


class TextIndex:
    """Fitted TF-IDF index over documents with incremental upserts, removals and fast top-k queries."""

    def __init__(
        self,
        *,
        vectorizer: TextVectorizer | None = None,
        prefit: bool = False,
        aggregation: Aggregation = "document",
        presence_fields: Sequence[str] = (),
        compact_ratio: float = 0.05,
        min_delta: int = 256,
        auto_compact: bool = True,
        keep_docs: bool = True,
        max_chunk_postings: int = 4_000_000,
        dense_df: float = 0.2,
        dense_min_docs: int = 2048,
    ) -> None:
        self.vectorizer = vectorizer
        self.prefit = prefit
        self.aggregation = aggregation
        self.presence_fields = presence_fields
        self.compact_ratio = compact_ratio
        self.min_delta = min_delta
        self.auto_compact = auto_compact
        self.keep_docs = keep_docs
        self.max_chunk_postings = max_chunk_postings
        self.dense_df = dense_df
        self.dense_min_docs = dense_min_docs

    # ------------------------------------------------------------------ fitting
    def fit(self, ids: Sequence[int], docs: Iterable[Document]) -> TextIndex:
        """Fit the vectorizer (unless prefit) on the documents and index them.

        Documents may be a stream (e.g. a generator) when ``keep_docs=False`` in document aggregation, so a
        large corpus never has to be held in memory as text.
        """
        streaming = not self.keep_docs and self.aggregation == "document"
        docs = docs if streaming else list(docs)
        presence = tuple(self.presence_fields)
        if self.prefit:
            if self.vectorizer is None:
                raise ValueError("prefit=True needs a fitted vectorizer")
            self.vectorizer_ = self.vectorizer
            enc = self.vectorizer_.encode(docs, presence_fields=presence)
        else:
            self.vectorizer_ = clone(self.vectorizer) if self.vectorizer is not None else TextVectorizer()
            enc = self.vectorizer_.fit_encode(docs, presence_fields=presence)
        return self._build(ids, enc, docs if not streaming else None)

    def fit_encoded(self, ids: Sequence[int], enc: Encoded, docs: Sequence[Document]) -> TextIndex:
        """Index documents already encoded by the (fitted) vectorizer given as ``vectorizer``."""
        if self.vectorizer is None:
            raise ValueError("fit_encoded needs the fitted vectorizer as `vectorizer`")
        self.vectorizer_ = self.vectorizer
        return self._build(ids, enc, list(docs))

    def _build(self, ids: Sequence[int], enc: Encoded, docs: list[Document] | None) -> TextIndex:
        """Lay out the main segment from encoded documents."""
        if self.aggregation not in ("document", "best_part"):
            raise ValueError(f"unknown aggregation {self.aggregation!r}")
        ids_arr = np.asarray(list(ids), dtype=np.int64)
        n = ids_arr.size
        if n != enc.X.shape[0] or (docs is not None and n != len(docs)):
            raise ValueError("ids, documents and encoded rows differ in length")
        if np.unique(ids_arr).size != n:
            raise ValueError("ids must be unique")
        self.n_terms_ = self.vectorizer_.idf_.size
        self._ids_buf = ids_arr.copy()
        self._alive_buf = np.ones(n, dtype=bool)
        self._n = n
        self._slot = dict(zip(ids_arr.tolist(), range(n), strict=True))
        self._docs: dict[int, Document] = (
            dict(zip(ids_arr.tolist(), docs, strict=True)) if self.keep_docs and docs is not None else {}
        )
        if self.aggregation == "document":
            self._main = self._segment(enc.X, np.arange(n, dtype=np.int64))
        else:
            X, owner = self._parts(docs or [], np.arange(n, dtype=np.int64))
            self._main = self._segment(X, owner)
        self._pmain = _segment(enc.presence, np.arange(n, dtype=np.int64)) if enc.presence is not None else None
        self._delta_rows: list[sp.csr_matrix] = []
        self._delta_owner: list[np.ndarray] = []
        self._pdelta_rows: list[sp.csr_matrix] = []
        self._pdelta_owner: list[int] = []
        self._delta_cache: tuple[_Segment | None, _Segment | None] | None = None
        self._delta_docs = 0
        self.n_fit_ = n
        self.n_changed_ = 0
        self.upsert_tokens_ = 0
        self.upsert_oov_ = 0
        self.generation_ = 0
        return self

    def _segment(self, X: sp.csr_matrix, owner: np.ndarray) -> _Segment:
        """A main segment with this index's dense-column settings."""
        return _segment(X, owner, self.dense_df, self.dense_min_docs)

    def _parts(self, docs: Sequence[Document], slots: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
        """Encode documents part by part (best_part aggregation), scaled by field weight."""
        vec = self.vectorizer_
        weights = dict(vec.field_weights or {})
        top = max([w for w in weights.values() if w > 0], default=1.0)
        part_docs: list[dict[str, str]] = []
        owner: list[int] = []
        scale: list[float] = []
        for slot, doc in zip(slots.tolist(), docs, strict=True):
            parts = split_parts(doc) or []
            for part in parts:
                part_docs.append({part.field: part.text})
                owner.append(slot)
                scale.append(weights.get(part.field, 1.0) / top)
            if not parts:
                part_docs.append({})
                owner.append(slot)
                scale.append(1.0)
        X = vec.transform(part_docs) if part_docs else sp.csr_matrix((0, vec.idf_.size), dtype=np.float32)
        X = sp.csr_matrix(sp.diags(np.asarray(scale, dtype=np.float32)) @ X, dtype=np.float32)
        return X, np.asarray(owner, dtype=np.int64)

    # ---------------------------------------------------------------- updating
    def _check(self) -> None:
        """Raise unless fitted."""
        if not hasattr(self, "_ids_buf"):
            raise RuntimeError("TextIndex is not fitted yet")

    def __contains__(self, id: int) -> bool:
        return hasattr(self, "_slot") and id in self._slot

    def __len__(self) -> int:
        return len(self._slot) if hasattr(self, "_slot") else 0

    def slot(self, id: int) -> int:
        """The slot holding a document id (KeyError when absent)."""
        return self._slot[id]

    def upsert(self, id: int, doc: Document) -> int:
        """Add or replace one document using the fitted vocabulary and idf; returns its slot."""
        self._check()
        enc = self.vectorizer_.encode([doc], presence_fields=tuple(self.presence_fields))
        return self.upsert_encoded(id, enc, doc)

    def upsert_encoded(self, id: int, enc: Encoded, doc: Document) -> int:
        """Add or replace one document already encoded by the vectorizer; returns its slot."""
        self._check()
        old = self._slot.get(id)
        if old is not None:
            self.alive_[old] = False
        slot = self._append_slot(id)
        self._slot[id] = slot
        if self.aggregation == "document":
            rows, owner = enc.X, np.array([slot], dtype=np.int64)
        else:
            rows, owner = self._parts([doc], np.array([slot], dtype=np.int64))
        self._delta_rows.append(sp.csr_matrix(rows, dtype=np.float32))
        self._delta_owner.append(owner)
        if self._pmain is not None:
            pres = enc.presence if enc.presence is not None else sp.csr_matrix((1, self.n_terms_))
            self._pdelta_rows.append(sp.csr_matrix(pres, dtype=np.float32))
            self._pdelta_owner.append(slot)
        self._delta_cache = None
        self._delta_docs += 1
        if self.keep_docs:
            self._docs[id] = doc
        self.n_changed_ += 1
        self.upsert_tokens_ += int(enc.n_tokens.sum())
        self.upsert_oov_ += int(enc.n_oov.sum())
        if self.auto_compact and self.should_compact():
            self.compact()
        return slot

    def _append_slot(self, id: int) -> int:
        """Append one live slot for an id, growing the buffers geometrically."""
        slot = self._n
        if slot >= self._ids_buf.size:
            size = max(16, 2 * self._ids_buf.size)
            self._ids_buf = np.resize(self._ids_buf, size)
            self._alive_buf = np.resize(self._alive_buf, size)
        self._ids_buf[slot] = id
        self._alive_buf[slot] = True
        self._n += 1
        return slot

    @property
    def ids_(self) -> np.ndarray:
        """Slot -> id (tombstoned slots included)."""
        return self._ids_buf[: self._n]

    @property
    def alive_(self) -> np.ndarray:
        """Slot -> whether it holds a live document."""
        return self._alive_buf[: self._n]

    def remove(self, id: int) -> bool:
        """Drop a document at once (tombstone); returns whether it was present."""
        self._check()
        slot = self._slot.pop(id, None)
        if slot is None:
            return False
        self.alive_[slot] = False
        self._docs.pop(id, None)
        self.n_changed_ += 1
        if self.auto_compact and self.should_compact():
            self.compact()
        return True

    def should_compact(self) -> bool:
        """Whether the delta or the tombstones have grown enough to merge."""
        n_main = self._main.X.shape[0] if self.aggregation == "document" else self.n_fit_
        limit = max(self.min_delta, int(self.compact_ratio * n_main))
        dead = self.alive_.size - len(self._slot)
        return self._delta_docs > limit or dead > max(self.min_delta, self.alive_.size // 10)

    def compact(self) -> np.ndarray:
        """Merge the delta into the main segment and drop tombstones; returns the kept old slots."""
        self._check()
        kept = np.flatnonzero(self.alive_)
        new_slot = np.full(self.alive_.size, -1, dtype=np.int64)
        new_slot[kept] = np.arange(kept.size)
        X_all = sp.vstack([self._main.X, *self._delta_rows], format="csr", dtype=np.float32)
        owner_all = np.concatenate([self._main.owner, *self._delta_owner])
        rows = np.flatnonzero(self.alive_[owner_all])
        X = X_all[rows]
        owner = new_slot[owner_all[rows]]
        del X_all
        self._main = None  # free the old term-major copy before building the new one
        if self.aggregation == "document":
            # one row per slot, in slot order: rows are exactly the kept slots
            self._main = self._segment(X, np.arange(kept.size, dtype=np.int64))
        else:
            self._main = self._segment(X, owner)
        if self._pmain is not None:
            P_all = sp.vstack([self._pmain.X, *self._pdelta_rows], format="csr", dtype=np.float32)
            self._pmain = None
            self._pmain = _segment(P_all[kept], np.arange(kept.size, dtype=np.int64))
        self._ids_buf = self.ids_[kept]
        self._alive_buf = np.ones(kept.size, dtype=bool)
        self._n = kept.size
        self._slot = dict(zip(self.ids_.tolist(), range(kept.size), strict=True))
        self._delta_rows, self._delta_owner = [], []
        self._pdelta_rows, self._pdelta_owner = [], []
        self._delta_cache = None
        self._delta_docs = 0
        self.generation_ += 1
        return kept

    def refit(self) -> TextIndex:
        """Rebuild vocabulary, idf and rows from the kept documents (needs ``keep_docs``)."""
        self._check()
        if not self.keep_docs:
            raise RuntimeError("refit needs keep_docs=True (or call fit with the documents)")
        ids = sorted(self._slot, key=self._slot.__getitem__)
        docs = [self._docs[i] for i in ids]
        return self.fit(ids, docs)

    @property
    def drift_(self) -> float:
        """Share of the fitted corpus upserted or removed since the fit."""
        return self.n_changed_ / max(self.n_fit_, 1)

    @property
    def oov_rate_(self) -> float:
        """Share of upserted documents' tokens unknown to the fitted vocabulary."""
        return self.upsert_oov_ / max(self.upsert_tokens_, 1)

    def needs_refit(self, max_drift: float = 0.2, max_oov: float = 0.05) -> bool:
        """Whether enough has changed since the fit for a refit to be worth its cost."""
        return self.drift_ > max_drift or self.oov_rate_ > max_oov

    # ---------------------------------------------------------------- querying
    def _delta(self) -> tuple[_Segment | None, _Segment | None]:
        """The delta segment (rows, term-major, owners) and its presence segment, built lazily."""
        if self._delta_cache is None:
            seg = pseg = None
            if self._delta_rows:
                X = sp.vstack(self._delta_rows, format="csr", dtype=np.float32)
                seg = _segment(X, np.concatenate(self._delta_owner))
                if self._pdelta_rows:
                    P = sp.vstack(self._pdelta_rows, format="csr", dtype=np.float32)
                    pseg = _segment(P, np.asarray(self._pdelta_owner, dtype=np.int64))
            self._delta_cache = (seg, pseg)
        return self._delta_cache

    def encode_query(self, doc: Document | str) -> sp.csr_matrix:
        """The 1×V TF-IDF row of a query document (or plain text)."""
        self._check()
        if isinstance(doc, str):
            doc = {"text": doc}
        return self.vectorizer_.transform([doc])

    def search(self, q: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """All live slots with a positive score for a 1×V query row, and their scores (unordered)."""
        self._check()
        q = _as_query(q)
        slots, vals = self._search_segment(q, self._main)
        seg, _ = self._delta()
        if seg is not None:
            s2, v2 = self._search_segment(q, seg)
            slots, vals = np.concatenate([slots, s2]), np.concatenate([vals, v2])
        if self.aggregation == "best_part" and slots.size:
            slots, vals = _group_max(slots, vals)
        live = self.alive_[slots]
        if not live.all():
            slots, vals = slots[live], vals[live]
        return slots, vals

    def _search_segment(
        self, q: sp.csr_matrix, seg: _Segment, rows: np.ndarray | None = None, vals: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Touched rows of one segment mapped to slots (sparse scores may be given when already known)."""
        if rows is None or vals is None:
            rows, vals = sparse_scores(q, seg.T)
        if seg.D is not None:
            rows, vals = _add_dense(q, seg, rows, vals)
        return seg.owner[rows], vals

    def top_k(self, q: sp.csr_matrix, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Ids and scores of the k best documents for a query row (score desc, id asc).

        Exact. When the query holds very frequent terms (kept as dense columns), their total contribution
        to any document is at most ``min(||q_dense||, sum q_t * max_t)`` (rows have unit norm); if that is
        below the k-th best score from the other terms, documents only those terms touch cannot enter the
        top k, and only the few candidates near the top get the dense terms added.
        """
        self._check()
        q = _as_query(q)
        main = self._main
        if self.aggregation != "document" or main.D is None:
            slots, vals = self.search(q)
        else:
            rows, partial = sparse_scores(q, main.T)
            slots, vals = self._top_candidates(q, rows, partial, k)
        return self._finish_top(slots, vals, k)

    def _finish_top(self, slots: np.ndarray, vals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Order candidate slots (score desc, id asc) and keep k."""
        ids = self.ids_[slots]
        order = top_k_order(vals, ids, k)
        return ids[order], vals[order]

    def _top_candidates(
        self, q: sp.csr_matrix, rows: np.ndarray, partial: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of enough live slots to hold the top k, given the main segment's sparse partials."""
        main = self._main
        pos = main.dense_pos[q.indices]
        hit = pos >= 0
        if hit.any():
            live_slots = main.owner[rows]
            live_partial = partial
            if self._n - len(self._slot):  # tombstones exist
                live = self.alive_[live_slots]
                live_slots, live_partial = live_slots[live], partial[live]
            w = q.data[hit].astype(np.float64)
            p = pos[hit]
            bound = min(float(np.sqrt((w**2).sum())), float((w * main.D_max[p]).sum()))
            theta = _kth_largest(live_partial, k)
            eps = 1e-6
            if live_partial.size >= k and bound < theta - eps:
                cand = np.flatnonzero(live_partial >= np.float32(theta - bound - 2 * eps))
                slots, cand_partial = live_slots[cand], live_partial[cand]
                add = q.data[hit] @ main.D[p[:, None], slots[None, :]]
                vals = (cand_partial + add).astype(np.float32)
            else:
                slots, vals = self._search_segment(q, main, rows, partial)
        else:
            slots, vals = main.owner[rows], partial
        seg, _ = self._delta()
        if seg is not None:
            s2, v2 = self._search_segment(q, seg)
            slots, vals = np.concatenate([slots, s2]), np.concatenate([vals, v2])
        live = self.alive_[slots]
        if not live.all():
            slots, vals = slots[live], vals[live]
        return slots, vals

    def query(self, doc: Document | str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Ids and scores of the k best documents for a query document or text."""
        return self.top_k(self.encode_query(doc), k)

    def search_batch(self, Q: sp.csr_matrix, chunk_size: int = 512) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """For each query row in turn, its touched live slots and scores; chunked to bound memory."""
        self._check()
        Q = sp.csr_matrix(Q, dtype=np.float32)
        seg, _ = self._delta()
        for start, stop in self._chunks(Q, chunk_size):
            Qc = Q[start:stop]
            parts = [(Qc @ self._main.T, self._main)]
            if seg is not None:
                parts.append((Qc @ seg.T, seg))
            for i in range(stop - start):
                slots_l, vals_l = [], []
                for S, sg in parts:
                    a, b = S.indptr[i], S.indptr[i + 1]
                    rows, vals = S.indices[a:b].astype(np.int64, copy=False), S.data[a:b]
                    if sg.D is not None:
                        rows, vals = _add_dense(Qc[i], sg, rows, vals)
                    slots_l.append(sg.owner[rows])
                    vals_l.append(vals)
                slots = np.concatenate(slots_l) if len(slots_l) > 1 else slots_l[0]
                vals = np.concatenate(vals_l) if len(vals_l) > 1 else vals_l[0]
                if self.aggregation == "best_part" and slots.size:
                    slots, vals = _group_max(slots, vals)
                live = self.alive_[slots]
                if not live.all():
                    slots, vals = slots[live], vals[live]
                yield slots, vals
            del parts

    def _chunks(self, Q: sp.csr_matrix, chunk_size: int) -> Iterator[tuple[int, int]]:
        """Split query rows into chunks of at most chunk_size rows and about max_chunk_postings postings."""
        df = np.diff(self._main.T.indptr)
        cum = np.zeros(Q.nnz + 1, dtype=np.int64)
        np.cumsum(df[Q.indices], out=cum[1:])
        cost = cum[Q.indptr[1:]] - cum[Q.indptr[:-1]]
        start = 0
        n = Q.shape[0]
        while start < n:
            stop = start + 1
            total = cost[start]
            while stop < n and stop - start < chunk_size and total + cost[stop] <= self.max_chunk_postings:
                total += cost[stop]
                stop += 1
            yield start, stop
            start = stop

    def top_k_batch(self, Q: sp.csr_matrix, k: int = 10, chunk_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ids and scores for many query rows (padded with id -1 and score 0); equals :meth:`top_k`."""
        self._check()
        Q = sp.csr_matrix(Q, dtype=np.float32)
        n = Q.shape[0]
        out_ids = np.full((n, k), -1, dtype=np.int64)
        out_scores = np.zeros((n, k), dtype=np.float32)
        main = self._main
        if self.aggregation != "document" or main.D is None:
            rows_iter = enumerate(self.search_batch(Q, chunk_size))
            for i, (slots, vals) in rows_iter:
                ids, scores = self._finish_top(slots, vals, k)
                out_ids[i, : ids.size], out_scores[i, : ids.size] = ids, scores
            return out_ids, out_scores
        for start, stop in self._chunks(Q, chunk_size):
            Qc = Q[start:stop]
            S = Qc @ main.T
            for i in range(stop - start):
                a, b = S.indptr[i], S.indptr[i + 1]
                rows = S.indices[a:b].astype(np.int64, copy=False)
                slots, vals = self._top_candidates(_as_query(Qc[i]), rows, S.data[a:b], k)
                ids, scores = self._finish_top(slots, vals, k)
                out_ids[start + i, : ids.size], out_scores[start + i, : ids.size] = ids, scores
        return out_ids, out_scores

    # ------------------------------------------------------------ rows & presence
    def _span(self, slot: int) -> tuple[sp.csr_matrix, int, int] | None:
        """The segment matrix holding a slot's rows and their range in it, if any."""
        seg, _ = self._delta()
        for s in (self._main, seg):
            if s is None:
                continue
            # owners ascend within a segment (rows are laid out in slot order)
            a, b = np.searchsorted(s.owner, [slot, slot + 1])
            if b > a:
                return s.X, int(a), int(b)
        return None

    def rows(self, slot: int) -> sp.csr_matrix:
        """The stored rows of a slot (one in document aggregation, its parts in best_part)."""
        span = self._span(slot)
        if span is None:
            return sp.csr_matrix((0, self.n_terms_), dtype=np.float32)
        X, a, b = span
        return X[a:b]

    def score(self, q: sp.csr_matrix, id: int) -> float:
        """Score of one indexed document for a query row (its best part in best_part aggregation)."""
        rows = self.rows(self._slot[id])
        if rows.shape[0] == 0:
            return 0.0
        vals = (rows @ _as_query(q).T).toarray().ravel()
        return float(vals.max())

    def doc_vector(self, id: int) -> sp.csr_matrix | None:
        """The stored document row of an id (document aggregation), else None."""
        if self.aggregation != "document" or id not in self._slot:
            return None
        return self.rows(self._slot[id])

    def doc_terms(self, id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Term ids (ascending) and weights of an id's stored document row (document aggregation), else None.

        Views into the segment rather than a 1-row matrix: explanations read one per suggestion, and
        building a sparse row costs far more than using it.
        """
        if self.aggregation != "document" or id not in self._slot:
            return None
        span = self._span(self._slot[id])
        if span is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        X, a, b = span
        lo, hi = X.indptr[a], X.indptr[b]
        return X.indices[lo:hi], X.data[lo:hi]

    def presence_counts(self, term_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Live slots whose presence fields hold any of the terms, with how many of them."""
        self._check()
        if self._pmain is None or term_ids.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = sp.csr_matrix(
            (np.ones(term_ids.size, dtype=np.float32), term_ids, [0, term_ids.size]), shape=(1, self.n_terms_)
        )
        slots, vals = self._search_segment(q, self._pmain)
        _, pseg = self._delta()
        if pseg is not None:
            s2, v2 = self._search_segment(q, pseg)
            slots, vals = np.concatenate([slots, s2]), np.concatenate([vals, v2])
        live = self.alive_[slots]
        return slots[live], vals[live]

    def presence_terms(self, slot: int) -> np.ndarray:
        """Term ids present in a slot's presence fields."""
        _, pseg = self._delta()
        for s in (self._pmain, pseg):
            if s is None:
                continue
            a, b = np.searchsorted(s.owner, [slot, slot + 1])
            if b > a:
                return s.X[a].indices.copy()
        return np.zeros(0, dtype=np.int32)

    def documents(self) -> Mapping[int, Document]:
        """The kept documents by id (empty unless ``keep_docs``)."""
        return self._docs

    def ids(self) -> Iterable[int]:
        """Live ids."""
        return self._slot.keys()


def _add_dense(q: sp.csr_matrix, seg: _Segment, rows: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add the query's frequent (dense-column) terms to sparse scores; returns all touched rows."""
    pos = seg.dense_pos[q.indices]
    hit = pos >= 0
    if not hit.any():
        return rows, vals
    acc = np.zeros(seg.D.shape[1], dtype=np.float32)
    tmp = np.empty_like(acc)
    for p, w in zip(pos[hit].tolist(), q.data[hit].tolist(), strict=True):
        np.multiply(seg.D[p], np.float32(w), out=tmp)
        acc += tmp
    acc[rows] += vals
    rows = np.flatnonzero(acc)
    return rows, acc[rows]


def _kth_largest(vals: np.ndarray, k: int) -> float:
    """The k-th largest value (0 when there are fewer than k)."""
    if vals.size < k or k <= 0:
        return 0.0
    return float(np.partition(vals, vals.size - k)[vals.size - k])


def _as_query(q: sp.csr_matrix) -> sp.csr_matrix:
    """A float32 1×V CSR query with sorted indices."""
    if not sp.isspmatrix_csr(q) or q.dtype != np.float32:
        q = sp.csr_matrix(q, dtype=np.float32)
    if not q.has_sorted_indices:
        q = q.sorted_indices()
    return q


def _group_max(slots: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum value per slot."""
    order = np.lexsort((-vals, slots))
    slots, vals = slots[order], vals[order]
    first = np.ones(slots.size, dtype=bool)
    first[1:] = slots[1:] != slots[:-1]
    return slots[first], vals[first]
