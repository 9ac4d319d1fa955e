"""A fitted TF-IDF index over documents with incremental updates and fast top-k cosine queries.

Layout (:mod:`matching.retrieval`). A segment holds its rows (CSR, float16 weights) and the same entries
term-major (postings) with each term's largest weight. :meth:`TextIndex.top_k` is exact MaxScore term at a
time: it stops reading the postings of low-weight terms once they can no longer lift an unseen document into
the top k, then reads the rest only for the remaining candidates, and rescores the survivors exactly from their
rows; :meth:`TextIndex.search` (every touched document) accumulates term at a time. Scores are
float64 sums in ascending term order on every path, so both equal a brute-force sparse product over the stored
weights, ties included. The stored weights are the vectorizer's rounded to float16 (relative error at most
2**-11): six bytes an entry each way instead of eight, and both copies hold the same values.

The main segment can be saved once (:meth:`TextIndex.save`) and opened read-only, memory-mapped, by every
worker process of a host (:meth:`TextIndex.open`): its arrays are then shared pages of the page cache, not
copies; upserts and removals stay per process, in the delta and the tombstones.

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

import json
import os
import pickle
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from matching.retrieval.postings import LUT, PAGE_BITS, Postings, Rows, taat, taat_top_k, top_k_taat
from matching.text import Document, Encoded, TextVectorizer, split_parts

Aggregation = Literal["document", "best_part"]


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
    """Rows and their postings (see :mod:`matching.retrieval.postings`), with each row's slot."""

    rows: Rows
    post: Postings
    owner: np.ndarray
    max_norm: float = 0.0

    def __post_init__(self) -> None:
        self.max_norm = self.rows.max_norm

    @property
    def X(self) -> sp.csr_matrix:
        """All rows as a float32 CSR matrix (a copy)."""
        return self.rows.csr()

    def search(self, q: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Rows sharing a term with a 1×V query and their exact float64 scores."""
        if q.nnz == 0 or self.rows.n_rows == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        p = self.post
        return taat(
            p.runs, p.low, p.val, LUT, p.tmax, p.page_bits, q.indices, q.data, self.rows.n_rows, _NO_ALIVE, False
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the segment by a file name."""
        out = {f"rows.{k}": v for k, v in self.rows.arrays().items()}
        out |= {f"post.{k}": v for k, v in self.post.arrays().items()}
        out["owner"] = self.owner
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n_terms: int) -> _Segment:
        """A segment over saved arrays (e.g. memory-mapped)."""
        rows = Rows(*(arrays[f"rows.{k}"] for k in ("indptr", "indices", "data", "norm2")), n_terms)
        post = Postings.from_arrays({k[5:]: v for k, v in arrays.items() if k.startswith("post.")})
        return cls(rows, post, arrays["owner"])


_NO_ALIVE = np.zeros(0, dtype=bool)


def _segment(X: sp.csr_matrix, owner: np.ndarray, page_bits: int = PAGE_BITS) -> _Segment:
    """Build a segment: compact rows, then postings by a counting sort."""
    rows = Rows.from_csr(X)
    return _Segment(rows, Postings.from_rows(rows, page_bits), np.asarray(owner, dtype=np.int64))


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
        n_threads: int = 2,
        full_listing_volume: float = 8.0,
        page_bits: int = PAGE_BITS,
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
        self.n_threads = n_threads
        self.full_listing_volume = full_listing_volume
        self.page_bits = page_bits

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

    def fit_encoded(self, ids: Sequence[int], enc: Encoded, docs: Sequence[Document] | None = None) -> TextIndex:
        """Index documents already encoded by the (fitted) vectorizer given as ``vectorizer`` (the documents are
        needed in ``"best_part"`` aggregation and to keep them)."""
        if self.vectorizer is None:
            raise ValueError("fit_encoded needs the fitted vectorizer as `vectorizer`")
        if docs is None and self.aggregation == "best_part":
            raise ValueError("best_part aggregation needs the documents")
        self.vectorizer_ = self.vectorizer
        return self._build(ids, enc, list(docs) if docs is not None else None)

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
        self._pmain = (
            _segment(enc.presence, np.arange(n, dtype=np.int64), self.page_bits) if enc.presence is not None else None
        )
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
        """A main segment."""
        return _segment(X, owner, self.page_bits)

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
        n_main = self._main.rows.n_rows if self.aggregation == "document" else self.n_fit_
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
            self._pmain = _segment(P_all[kept], np.arange(kept.size, dtype=np.int64), self.page_bits)
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

    # ------------------------------------------------------------- sharing
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the main segment (compacting first) and what a reader needs into a new directory ``path``.

        Written beside the target and renamed into place, so a reader never sees half a snapshot. Kept
        documents are not saved (open a saved index with ``keep_docs=False`` semantics).
        """
        self._check()
        if self._delta_docs or self._n != len(self._slot):
            self.compact()
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        arrays = {f"main.{k}": v for k, v in self._main.arrays().items()}
        if self._pmain is not None:
            arrays |= {f"presence.{k}": v for k, v in self._pmain.arrays().items()}
        arrays["ids"] = self.ids_
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
        meta = {
            "format": 2,
            "aggregation": self.aggregation,
            "presence_fields": list(self.presence_fields),
            "n_terms": int(self.n_terms_),
            "n_fit": int(self.n_fit_),
            "presence": self._pmain is not None,
            "generation": int(self.generation_),
        }
        (tmp / "meta.json").write_text(json.dumps(meta))
        with open(tmp / "vectorizer.pkl", "wb") as fh:
            pickle.dump(self.vectorizer_, fh, protocol=pickle.HIGHEST_PROTOCOL)
        if target.exists():
            old = target.with_name(f".{target.name}.{os.getpid()}.old")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
        return target

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, mmap: bool = True, **params: object) -> TextIndex:
        """Open a saved index; with ``mmap`` its arrays are read-only views of the files, shared by every
        process of the host that opens them (the page cache holds one copy). Writes go to a private delta."""
        src = Path(path)
        meta = json.loads((src / "meta.json").read_text())
        if meta.get("format") != 2:
            raise ValueError(f"unknown index format in {src} (saved by another version: build and save it again)")
        with open(src / "vectorizer.pkl", "rb") as fh:
            vectorizer = pickle.load(fh)  # noqa: S301 - written by save() on this host
        mode = "r" if mmap else None

        def load(name: str) -> np.ndarray:
            return np.load(src / f"{name}.npy", mmap_mode=mode, allow_pickle=False)

        def segment(prefix: str) -> _Segment:
            names = [f.name[len(prefix) + 1 : -4] for f in src.glob(f"{prefix}.*.npy")]
            return _Segment.from_arrays({n: load(f"{prefix}.{n}") for n in names}, int(meta["n_terms"]))

        index = cls(
            vectorizer=vectorizer,
            prefit=True,
            aggregation=meta["aggregation"],
            presence_fields=tuple(meta["presence_fields"]),
            keep_docs=False,
            **params,  # type: ignore[arg-type]
        )
        index.vectorizer_ = vectorizer
        ids = np.array(load("ids"), dtype=np.int64)
        index.n_terms_ = int(meta["n_terms"])
        index._ids_buf = ids
        index._alive_buf = np.ones(ids.size, dtype=bool)
        index._n = int(ids.size)
        index._slot = dict(zip(ids.tolist(), range(ids.size), strict=True))
        index._docs = {}
        index._main = segment("main")
        index._pmain = segment("presence") if meta["presence"] else None
        index._delta_rows, index._delta_owner = [], []
        index._pdelta_rows, index._pdelta_owner = [], []
        index._delta_cache = None
        index._delta_docs = 0
        index.n_fit_ = int(meta["n_fit"])
        index.n_changed_ = 0
        index.upsert_tokens_ = 0
        index.upsert_oov_ = 0
        index.generation_ = int(meta["generation"])
        return index

    # ---------------------------------------------------------------- querying
    def _delta(self) -> tuple[_Segment | None, _Segment | None]:
        """The delta segment (rows, term-major, owners) and its presence segment, built lazily."""
        if self._delta_cache is None:
            seg = pseg = None
            if self._delta_rows:
                X = sp.vstack(self._delta_rows, format="csr", dtype=np.float32)
                seg = _segment(X, np.concatenate(self._delta_owner), self.page_bits)
                if self._pdelta_rows:
                    P = sp.vstack(self._pdelta_rows, format="csr", dtype=np.float32)
                    pseg = _segment(P, np.asarray(self._pdelta_owner, dtype=np.int64), self.page_bits)
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
        slots, vals = self._search64(_as_query(q))
        return slots, vals.astype(np.float32)

    def _search64(self, q: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """Live slots touched by a query and their exact float64 scores."""
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

    @staticmethod
    def _search_segment(q: sp.csr_matrix, seg: _Segment) -> tuple[np.ndarray, np.ndarray]:
        """Touched rows of one segment mapped to slots, with float64 scores."""
        rows, vals = seg.search(q)
        return seg.owner[rows], vals

    def top_k(self, q: sp.csr_matrix, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Ids and scores of the k best documents for a query row (score desc, id asc).

        Exact: pruned MaxScore over the main segment's postings (see :mod:`matching.retrieval.postings`), or
        the full listing when the query's postings outnumber the documents `full_listing_volume` times; every
        delta document scored, ties broken by id; the same result as ranking :meth:`search` either way.
        """
        self._check()
        q = _as_query(q)
        if self.aggregation != "document":
            slots, vals = self._search64(q)
            return self._finish_top(slots, vals, k)
        return self._finish_top(*self._top_candidates(q, k), k)

    def _full_listing_pays(self, q: sp.csr_matrix) -> bool:
        """Whether the query's terms have so many postings per document that scoring them all beats pruning
        (`full_listing_volume`; measured on long demands: as fast at 100,000 profiles, twice as fast at 1,000,000)."""
        main = self._main
        volume = int(main.post.df(q.indices).sum()) if q.nnz else 0
        return volume >= self.full_listing_volume * max(1, main.rows.n_rows)

    def _finish_top(self, slots: np.ndarray, vals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Order candidate slots (score desc, id asc) and keep k; scores as float32."""
        ids = self.ids_[slots]
        order = top_k_order(vals, ids, k)
        return ids[order], vals[order].astype(np.float32)

    def _top_candidates(self, q: sp.csr_matrix, k: int, full: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The main segment's k best live slots (pruned walk, or the full listing when ``full`` or when it pays)
        and every live delta slot, with exact scores."""
        main = self._main
        if k <= 0 or q.nnz == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        r, p = main.rows, main.post
        # document aggregation: main row r is slot r
        if full is None:
            full = self._full_listing_pays(q)
        if full:
            slots, vals = taat_top_k(
                p.runs, p.low, p.val, LUT, p.tmax, p.page_bits, q.indices, q.data, r.n_rows, self.alive_, self.ids_, k
            )
        else:
            slots, vals, _ = top_k_taat(
                p.runs, p.low, p.val, p.tmax, p.page_bits, LUT, q.indices, q.data, r.indptr, r.indices, r.data, r.norm2,
                main.max_norm, self.alive_, self.ids_, k, r.n_rows, self._qdense(),
            )  # fmt: skip
        seg, _ = self._delta()
        if seg is not None:
            s2, v2 = self._search_segment(q, seg)
            live = self.alive_[s2]
            slots, vals = np.concatenate([slots, s2[live]]), np.concatenate([vals, v2[live]])
        return slots, vals

    def _qdense(self) -> np.ndarray:
        """This thread's zeroed scratch array of one float64 per term (the kernels leave it zeroed)."""
        local = self.__dict__.get("_local")
        if local is None:
            local = self.__dict__.setdefault("_local", threading.local())
        buf = getattr(local, "qdense", None)
        if buf is None or buf.size != self.n_terms_:
            buf = local.qdense = np.zeros(self.n_terms_, dtype=np.float64)
        return buf

    def warm_up(self) -> None:
        """Run both top-k kernels (pruned walk and full listing) once on a one-term query, so that neither is
        compiled on first use."""
        if not len(self) or not self.n_terms_:
            return
        one_term = _as_query(sp.csr_matrix(([1.0], ([0], [0])), shape=(1, self.n_terms_), dtype=np.float32))
        self.top_k(one_term, k=1)
        if self.aggregation == "document":  # the two kernels serve this aggregation only
            for full in (False, True):
                self._top_candidates(one_term, 1, full)

    def query(self, doc: Document | str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Ids and scores of the k best documents for a query document or text."""
        return self.top_k(self.encode_query(doc), k)

    def search_batch(self, Q: sp.csr_matrix, chunk_size: int = 512) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """For each query row in turn, its touched live slots and scores (``chunk_size`` is kept for callers)."""
        self._check()
        Q = _as_queries(Q)
        for i in range(Q.shape[0]):
            yield self.search(_row(Q, i))

    def top_k_batch(self, Q: sp.csr_matrix, k: int = 10, chunk_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ids and scores for many query rows (padded with id -1 and score 0); equals :meth:`top_k`.

        The compiled kernels release the GIL, so queries run on ``n_threads`` threads (``chunk_size`` is
        kept for callers).
        """
        self._check()
        Q = _as_queries(Q)
        n = Q.shape[0]
        out_ids = np.full((n, max(k, 0)), -1, dtype=np.int64)
        out_scores = np.zeros((n, max(k, 0)), dtype=np.float32)
        self._delta()  # build the lazy delta once, before threads share it

        def run(lo: int, hi: int) -> None:
            for i in range(lo, hi):
                ids, scores = self.top_k(_row(Q, i), k)
                out_ids[i, : ids.size], out_scores[i, : ids.size] = ids, scores

        threads = max(1, min(self.n_threads, n // 64))
        if threads == 1:
            run(0, n)
        else:
            bounds = np.linspace(0, n, threads + 1).astype(int)
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(run, bounds[:-1], bounds[1:]))
        return out_ids, out_scores

    # ------------------------------------------------------------ rows & presence
    def _span(self, slot: int, presence: bool = False) -> tuple[Rows, int, int] | None:
        """The rows holding a slot (text or presence) and their range in them, if any."""
        seg, pseg = self._delta()
        for s in (self._pmain, pseg) if presence else (self._main, seg):
            if s is None:
                continue
            # owners ascend within a segment (rows are laid out in slot order)
            a, b = np.searchsorted(s.owner, [slot, slot + 1])
            if b > a:
                return s.rows, int(a), int(b)
        return None

    def rows(self, slot: int) -> sp.csr_matrix:
        """The stored rows of a slot (one in document aggregation, its parts in best_part), float32."""
        span = self._span(slot)
        if span is None:
            return sp.csr_matrix((0, self.n_terms_), dtype=np.float32)
        rows, a, b = span
        return rows.csr(a, b)

    def score(self, q: sp.csr_matrix, id: int) -> float:
        """Score of one indexed document for a query row (its best part in best_part aggregation)."""
        rows = self.rows(self._slot[id])
        if rows.shape[0] == 0:
            return 0.0
        vals = (rows.astype(np.float64) @ _as_query(q).astype(np.float64).T).toarray().ravel()
        return float(np.float32(vals.max()))

    def doc_vector(self, id: int) -> sp.csr_matrix | None:
        """The stored document row of an id (document aggregation), else None."""
        if self.aggregation != "document" or id not in self._slot:
            return None
        return self.rows(self._slot[id])

    def doc_terms(self, id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Term ids (ascending) and float32 weights of an id's stored row (document aggregation), else None.

        Arrays rather than a 1-row matrix: explanations read one per suggestion, and building a sparse row
        costs far more than using it.
        """
        if self.aggregation != "document" or id not in self._slot:
            return None
        span = self._span(self._slot[id])
        if span is None:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        rows, a, b = span
        lo, hi = rows.indptr[a], rows.indptr[b]
        return rows.indices[lo:hi], LUT[rows.data[lo:hi]]

    def presence_counts(self, term_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Live slots whose presence fields hold any of the terms, with how many of them."""
        self._check()
        if self._pmain is None or term_ids.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = _as_query(
            sp.csr_matrix(
                (np.ones(term_ids.size, dtype=np.float32), term_ids, [0, term_ids.size]), shape=(1, self.n_terms_)
            )
        )
        slots, vals = self._search_segment(q, self._pmain)
        _, pseg = self._delta()
        if pseg is not None:
            s2, v2 = self._search_segment(q, pseg)
            slots, vals = np.concatenate([slots, s2]), np.concatenate([vals, v2])
        live = self.alive_[slots]
        return slots[live], vals[live].astype(np.float32)

    def presence_terms(self, slot: int) -> np.ndarray:
        """Term ids present in a slot's presence fields."""
        span = self._span(slot, presence=True)
        if span is None:
            return np.zeros(0, dtype=np.int32)
        rows, a, _ = span
        return np.array(rows.indices[rows.indptr[a] : rows.indptr[a + 1]])

    def documents(self) -> Mapping[int, Document]:
        """The kept documents by id (empty unless ``keep_docs``)."""
        return self._docs

    def ids(self) -> Iterable[int]:
        """Live ids."""
        return self._slot.keys()


def _as_query(q: sp.csr_matrix) -> sp.csr_matrix:
    """A float32 1×V CSR query with sorted indices."""
    if not sp.isspmatrix_csr(q) or q.dtype != np.float32:
        q = sp.csr_matrix(q, dtype=np.float32)
    if not q.has_sorted_indices:
        q = q.sorted_indices()
    return q


def _as_queries(Q: sp.csr_matrix) -> sp.csr_matrix:
    """Float32 CSR query rows with sorted indices."""
    Q = sp.csr_matrix(Q, dtype=np.float32)
    if not Q.has_sorted_indices:
        Q = Q.sorted_indices()
    return Q


def _row(Q: sp.csr_matrix, i: int) -> sp.csr_matrix:
    """Row i of a CSR matrix as a 1×V CSR view (no copy of its entries)."""
    a, b = Q.indptr[i], Q.indptr[i + 1]
    out = sp.csr_matrix((Q.data[a:b], Q.indices[a:b], np.array([0, b - a])), shape=(1, Q.shape[1]), copy=False)
    out.has_sorted_indices = True
    return out


def _group_max(slots: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum value per slot."""
    order = np.lexsort((-vals, slots))
    slots, vals = slots[order], vals[order]
    first = np.ones(slots.size, dtype=bool)
    first[1:] = slots[1:] != slots[:-1]
    return slots[first], vals[first]
