"""The latent (topic) channel of text relevance: a rank-k LSA of the fitted TF-IDF rows.

Lexical cosines only see shared words and character n-grams; two abstracts of one discipline often share few of
them. A truncated SVD of the TF-IDF rows of both sides (latent semantic analysis) maps every row to ``rank``
topic coordinates; the cosine of two such vectors is high for texts of the same field even when their words
differ. The :class:`~matching.matcher.Matcher` blends it into text relevance as a second stage (see its
``latent_*`` parameters and the README, "Relevance on public data"):

* only pairs that share at least one term (lexical relevance above 0) get the latent part, so "no text relevance"
  still means no suggestion and the inverted index still decides who is listed;
* the latent cosine (negative values count as 0) is computed for the ``latent_depth`` best pairs of a query by
  lexical relevance, ``text = (1 - λ) · lexical + λ · latent``; the other listed pairs keep ``(1 - λ) · lexical``
  (their latent part counted as 0), so every re-ranked pair stays above every pair outside the re-rank;
* ``λ`` of a pair is the smaller of its two documents' weights: ``latent_weight`` for mostly-Chinese rows,
  ``latent_weight_latin`` for mostly-Latin ones (on the English set the latent channel measured worse, so it is
  0 by default), hence the same whichever side asks.

The SVD is fitted once per (re)fit, on at most ``sample`` rows (seeded), over terms found in at least two of them;
a new or changed record is projected with the fitted basis. Pure NumPy/SciPy/scikit-learn, nothing downloaded.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD


class LatentModel:
    """A rank-k LSA basis over the columns of fitted TF-IDF rows, and the projection of rows onto it."""

    def __init__(self, rank: int = 50, *, sample: int = 20000, seed: int = 0) -> None:
        self.rank = rank
        self.sample = sample
        self.seed = seed

    def fit(self, X: sp.csr_matrix) -> LatentModel | None:
        """Learn the basis from (a seeded sample of) the rows; None when the rows are too few for the rank."""
        X = sp.csr_matrix(X)
        n = X.shape[0]
        if self.sample and n > self.sample:
            rows = np.sort(np.random.default_rng(self.seed).choice(n, self.sample, replace=False))
            X = X[rows]
        df = np.bincount(X.indices, minlength=X.shape[1])
        cols = np.flatnonzero(df >= 2)
        rank = min(self.rank, X.shape[0] - 1, cols.size - 1)
        if rank < 1:
            return None
        svd = TruncatedSVD(rank, algorithm="randomized", n_iter=5, random_state=self.seed)
        svd.fit(X[:, cols])
        self.n_terms_ = X.shape[1]
        self.term_row_ = np.full(X.shape[1], -1, dtype=np.int64)
        self.term_row_[cols] = np.arange(cols.size)
        self.basis_ = np.ascontiguousarray(svd.components_.T, dtype=np.float32)  # kept terms × rank
        self.rank_ = rank
        return self

    def transform(self, X: sp.csr_matrix) -> np.ndarray:
        """Unit-length latent vectors of rows (float32, all zero for a row without any basis term)."""
        X = sp.csr_matrix(X)
        row = self.term_row_[X.indices]
        keep = row >= 0
        owner = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(owner[keep], minlength=X.shape[0]))])
        R = sp.csr_matrix(
            (X.data[keep].astype(np.float32), row[keep], indptr), shape=(X.shape[0], self.basis_.shape[0])
        )
        Z = np.asarray(R @ self.basis_, dtype=np.float32)
        norms = np.linalg.norm(Z, axis=1)
        Z /= np.where(norms > 0, norms, 1.0)[:, None]
        return Z


class LatentTable:
    """Latent vectors and latent weights of one index's slots (kept aligned with its slots by the matcher)."""

    def __init__(self, rank: int) -> None:
        self.rank = rank
        self._z = np.zeros((0, rank), dtype=np.float32)
        self._w = np.zeros(0, dtype=np.float32)
        self.n = 0

    def ensure(self, n: int) -> None:
        """Make room for n slots (new slots have no latent vector and weight 0)."""
        if n <= self.n:
            return
        if n > self._w.size:
            size = max(n, 2 * self._w.size, 16)
            z = np.zeros((size, self.rank), dtype=np.float32)
            z[: self._w.size] = self._z
            w = np.zeros(size, dtype=np.float32)
            w[: self._w.size] = self._w
            self._z, self._w = z, w
        self.n = n

    def set(self, slot: int, z: np.ndarray, weight: float) -> None:
        """Write one slot."""
        self.ensure(slot + 1)
        self._z[slot] = z
        self._w[slot] = weight

    def set_many(self, Z: np.ndarray, weights: np.ndarray) -> None:
        """Write slots 0..n-1 at once (after a fit)."""
        self.ensure(Z.shape[0])
        self._z[: Z.shape[0]] = Z
        self._w[: Z.shape[0]] = weights

    def take(self, kept: np.ndarray) -> None:
        """Keep only some slots, renumbered in order (after an index compaction)."""
        self._z = self._z[kept]
        self._w = self._w[kept]
        self.n = kept.size

    @property
    def z(self) -> np.ndarray:
        """Slot -> latent vector."""
        return self._z[: self.n]

    @property
    def weight(self) -> np.ndarray:
        """Slot -> latent weight of its document."""
        return self._w[: self.n]


def blend(
    text: np.ndarray, weight: np.ndarray, slots: np.ndarray, z: np.ndarray, zq: np.ndarray, depth: int
) -> np.ndarray:
    """Text relevance with the latent part: ``(1 - λ) · text + λ · max(0, z[slot] · zq)`` for the ``depth`` pairs
    of highest lexical relevance, ``(1 - λ) · text`` for the others (``weight`` is each pair's λ)."""
    out = (1.0 - weight) * text
    if text.size == 0 or not weight.any():
        return out
    cand = np.arange(text.size) if text.size <= depth else np.argpartition(-text, depth - 1)[:depth]
    sims = z[slots[cand]].astype(np.float64) @ zq.astype(np.float64)
    out[cand] += weight[cand] * np.maximum(sims, 0.0)
    return out
