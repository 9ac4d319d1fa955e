"""Compact rows and postings of a segment, and the compiled kernels that query them.

Layout. A segment's rows are CSR arrays (``indptr`` int64, ``indices`` int32, ``data`` float16 kept as their
uint16 bit patterns); its postings are the same entries term-major and, within a term, split into runs by page
of 65,536 rows (``runs`` int64: run (t, g) of term t and page g starts at ``runs[t * n_pages + g]``; ``low``
uint16, the row's number within its page, ascending within a run; ``val`` uint16 float16 bits), with each
term's largest weight (``tmax``). Six bytes an entry in the rows, four in the postings: the stored weights *are*
float16 (relative rounding at most 2**-11), both copies hold the very same values, so scores computed from
either agree bit for bit.

Why pages. A row number needs four bytes, its place in a page two; and a query read page by page adds into an
accumulator of one page (512 KiB) instead of one of every row. Measured on long demands over 100,000 profiles
(2.3 million postings a query): the full listing 2.94 -> 2.2-2.4 ms, the postings a third smaller.

Exact rescoring sums in float64 in ascending term order — the order of a brute-force ``X @ q`` — and so does the
full listing (:func:`taat`), so the pruned top-k (:func:`top_k_taat`), the listing and a brute-force sparse
product give identical numbers and identical ties.

Top-k is MaxScore term at a time (see :func:`top_k_taat`). Demands are long queries (a hundred terms and
more, most of them common), where document-at-a-time WAND and block-max variants spend more on choosing the
next document than they save; accumulating term at a time costs about a nanosecond a posting, and the pruning
stops reading the long, low-weight postings of common terms as soon as they can no longer change the top k.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

LUT = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
"""float16 bit pattern -> float32 value (256 KiB, stays in cache): the kernels read weights through it."""
LUT[np.isnan(LUT)] = 0.0

_TINY = np.float16(2.0**-24)


def to_half(data: np.ndarray) -> np.ndarray:
    """Weights as float16 bit patterns; a positive weight too small for float16 keeps the smallest one."""
    half = np.asarray(data, dtype=np.float32).astype(np.float16)
    half[(half == 0) & (np.asarray(data) > 0)] = _TINY
    return half.view(np.uint16)


@numba.njit(cache=True, nogil=True)
def _row_norms2(indptr, data, lut):  # noqa: ANN001, ANN202
    """Each row's squared norm, in float64, from its float16 weights."""
    out = np.zeros(indptr.size - 1, dtype=np.float64)
    for r in range(out.size):
        s = 0.0
        for p in range(indptr[r], indptr[r + 1]):
            v = np.float64(lut[data[p]])
            s += v * v
        out[r] = s
    return out


@dataclass(slots=True)
class Rows:
    """Rows of a segment: CSR arrays with float16 weights (as uint16 bits)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    norm2: np.ndarray
    n_terms: int

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return self.indptr.size - 1

    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return int(self.indices.size)

    def csr(self, a: int = 0, b: int | None = None) -> sp.csr_matrix:
        """Rows a..b as a float32 CSR matrix (a copy)."""
        b = self.n_rows if b is None else b
        lo, hi = int(self.indptr[a]), int(self.indptr[b])
        indptr = np.asarray(self.indptr[a : b + 1], dtype=np.int64) - lo
        data = LUT[self.data[lo:hi]]
        out = sp.csr_matrix((data, np.asarray(self.indices[lo:hi]), indptr), shape=(b - a, self.n_terms))
        out.has_sorted_indices = True
        return out

    @classmethod
    def from_csr(cls, X: sp.csr_matrix) -> Rows:
        """Compact rows of a CSR matrix (indices sorted within rows)."""
        X = sp.csr_matrix(X)
        if not X.has_sorted_indices:
            X = X.sorted_indices()
        X.eliminate_zeros()
        data = to_half(X.data)
        indptr = np.asarray(X.indptr, dtype=np.int64)
        # no float64 temporaries the size of the matrix (16 bytes an entry: 3.2 GB at a million profiles, the
        # build's peak), and the matrix's int32 indices shared rather than copied
        norm2 = _row_norms2(indptr, data, LUT)
        return cls(indptr, np.asarray(X.indices, dtype=np.int32), data, norm2, int(X.shape[1]))

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to save, by name."""
        return {"indptr": self.indptr, "indices": self.indices, "data": self.data, "norm2": self.norm2}

    @property
    def max_norm(self) -> float:
        """The largest row norm (bounds what unread terms can add to any row)."""
        return float(np.sqrt(self.norm2.max())) if self.norm2.size else 0.0


PAGE_BITS = 16
"""Rows per page of the postings, as a power of two (a row's number within its page fits in a uint16)."""


def n_pages(n_rows: int, page_bits: int = PAGE_BITS) -> int:
    """Pages that hold ``n_rows`` rows (at least one)."""
    return max(1, (n_rows + (1 << page_bits) - 1) >> page_bits)


@dataclass(slots=True)
class Postings:
    """Term-major copy of a segment's rows in runs by page (see the module's docstring), with each term's
    largest weight."""

    runs: np.ndarray
    low: np.ndarray
    val: np.ndarray
    tmax: np.ndarray
    page_bits: int = PAGE_BITS

    @property
    def n_pages(self) -> int:
        """Pages each term's postings are split into."""
        return (self.runs.size - 1) // self.tmax.size if self.tmax.size else 1

    @classmethod
    def from_rows(cls, rows: Rows, page_bits: int = PAGE_BITS) -> Postings:
        """Build postings from rows by a counting sort (no float32 transpose is ever made)."""
        if not 1 <= page_bits <= 16:
            raise ValueError("page_bits must be between 1 and 16 (a row's place in its page is a uint16)")
        n_terms = rows.n_terms
        pages = n_pages(rows.n_rows, page_bits)
        runs = np.zeros(n_terms * pages + 1, dtype=np.int64)
        np.cumsum(_run_lengths(rows.indptr, rows.indices, n_terms, pages, page_bits), out=runs[1:])
        low = np.empty(rows.nnz, dtype=np.uint16)
        val = np.empty(rows.nnz, dtype=np.uint16)
        _transpose(rows.indptr, rows.indices, rows.data, runs, low, val, pages, page_bits)
        tmax = np.zeros(n_terms, dtype=np.float32)
        _term_max(runs, val, LUT, tmax, pages)
        return cls(runs, low, val, tmax, page_bits)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to save, by name."""
        return {
            "runs": self.runs,
            "low": self.low,
            "val": self.val,
            "tmax": self.tmax,
            "page_bits": np.array([self.page_bits], dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Postings:
        """Postings over saved arrays (e.g. memory-mapped)."""
        return cls(arrays["runs"], arrays["low"], arrays["val"], arrays["tmax"], int(arrays["page_bits"][0]))

    def df(self, terms: np.ndarray | None = None) -> np.ndarray:
        """Postings per term (of the given terms, or of every term)."""
        starts = self.runs[:: self.n_pages]
        if terms is None:
            return np.diff(starts)
        terms = np.asarray(terms, dtype=np.int64)
        return starts[terms + 1] - starts[terms]


@numba.njit(cache=True, nogil=True)
def _run_lengths(indptr, indices, n_terms, pages, page_bits):  # noqa: ANN001, ANN202
    """Entries of each (term, page) run."""
    counts = np.zeros(n_terms * pages, dtype=np.int64)
    for r in range(indptr.size - 1):
        g = r >> page_bits
        for p in range(indptr[r], indptr[r + 1]):
            counts[indices[p] * pages + g] += 1
    return counts


@numba.njit(cache=True, nogil=True)
def _transpose(indptr, indices, data, runs, low, val, pages, page_bits):  # noqa: ANN001, ANN202
    """Scatter row entries into their (term, page) runs; rows are visited in order, so each run's rows ascend."""
    cur = runs[:-1].copy()
    mask = (1 << page_bits) - 1
    for r in range(indptr.size - 1):
        g = r >> page_bits
        for p in range(indptr[r], indptr[r + 1]):
            key = indices[p] * pages + g
            c = cur[key]
            low[c] = r & mask
            val[c] = data[p]
            cur[key] = c + 1


@numba.njit(cache=True, nogil=True)
def _term_max(runs, val, lut, tmax, pages):  # noqa: ANN001, ANN202
    """Each term's largest weight (a term's runs are contiguous)."""
    for t in range(tmax.size):
        best = np.float32(0.0)
        for p in range(runs[t * pages], runs[(t + 1) * pages]):
            v = lut[val[p]]
            if v > best:
                best = v
        tmax[t] = best


@numba.njit(cache=True, nogil=True, inline="always")
def _add_page(runs, low, val, lut, n_terms, pages, g, qt, qw, acc, offset):  # noqa: ANN001, ANN202
    """Add page g's postings of the query's terms into ``acc[offset + place in page]``, term by term in query order."""
    for j in range(qt.size):
        t = qt[j]
        if t < 0 or t >= n_terms:
            continue
        w = np.float64(qw[j])
        for p in range(runs[t * pages + g], runs[t * pages + g + 1]):
            acc[offset + low[p]] += w * np.float64(lut[val[p]])


@numba.njit(cache=True, nogil=True)
def taat(runs, low, val, lut, tmax, page_bits, qt, qw, n_rows, alive, use_alive):  # noqa: ANN001, ANN201
    """All rows sharing a term with the query and their scores, page by page and within a page term at a time
    (each row's terms added in query order, as a brute-force product does); alive rows only if asked."""
    acc = np.zeros(n_rows, dtype=np.float64)
    n_terms = tmax.size
    pages = (runs.size - 1) // max(n_terms, 1)
    for g in range(pages):
        _add_page(runs, low, val, lut, n_terms, pages, g, qt, qw, acc, g << page_bits)
    count = 0
    for r in range(n_rows):
        if acc[r] != 0.0 and (not use_alive or alive[r]):
            count += 1
    rows = np.empty(count, dtype=np.int64)
    out = np.empty(count, dtype=np.float64)
    i = 0
    for r in range(n_rows):
        if acc[r] != 0.0 and (not use_alive or alive[r]):
            rows[i] = r
            out[i] = acc[r]
            i += 1
    return rows, out


@numba.njit(cache=True, nogil=True)
def taat_top_k(runs, low, val, lut, tmax, page_bits, qt, qw, n_rows, alive, ids, k):  # noqa: ANN001, ANN201
    """The k best live rows of the full listing (score desc, id asc) and their scores: :func:`taat` and the
    choice of the best in one pass, a page at a time, so the accumulator is one page, not every row."""
    n_terms = tmax.size
    pages = (runs.size - 1) // max(n_terms, 1)
    size_of_page = 1 << page_bits
    acc = np.zeros(min(size_of_page, max(n_rows, 1)), dtype=np.float64)
    hs = np.empty(k, dtype=np.float64)
    hid = np.empty(k, dtype=np.int64)
    hrow = np.empty(k, dtype=np.int64)
    size = 0
    for g in range(pages):
        base = g << page_bits
        _add_page(runs, low, val, lut, n_terms, pages, g, qt, qw, acc, 0)
        for i in range(min(size_of_page, n_rows - base)):
            s = acc[i]
            if s != 0.0:
                acc[i] = 0.0
                r = base + i
                if alive[r] and (size < k or _worse(hs[0], hid[0], s, ids[r])):
                    size = _offer(hs, hid, hrow, size, k, s, ids[r], r)
    return hrow[:size].copy(), hs[:size].copy()


@numba.njit(cache=True, nogil=True, inline="always")
def _row_dot(indptr, indices, data, lut, r, qt, qw):  # noqa: ANN001, ANN202
    """Exact score of one row: float64, ascending term order (as a brute-force product)."""
    s = 0.0
    p, e = indptr[r], indptr[r + 1]
    j, m = 0, qt.size
    while p < e and j < m:
        a, b = indices[p], qt[j]
        if a == b:
            s += np.float64(qw[j]) * np.float64(lut[data[p]])
            p += 1
            j += 1
        elif a < b:
            p += 1
        else:
            j += 1
    return s


@numba.njit(cache=True, nogil=True, inline="always")
def _row_dot_dense(indptr, data, indices, lut, r, qdense):  # noqa: ANN001, ANN202
    """Exact score of one row against the query spread over a dense array (same order and sum as _row_dot)."""
    s = 0.0
    for p in range(indptr[r], indptr[r + 1]):
        s += np.float64(lut[data[p]]) * qdense[indices[p]]
    return s


@numba.njit(cache=True, nogil=True, inline="always")
def _worse(s1, id1, s2, id2):  # noqa: ANN001, ANN202
    """Whether (s1, id1) ranks after (s2, id2): score descending, then id ascending."""
    return s1 < s2 or (s1 == s2 and id1 > id2)


@numba.njit(cache=True, nogil=True)
def _sift_down(hs, hid, hrow, size, i):  # noqa: ANN001, ANN202
    """Restore the heap (worst at the root) below position i."""
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        worst = left
        right = left + 1
        if right < size and _worse(hs[right], hid[right], hs[left], hid[left]):
            worst = right
        if _worse(hs[worst], hid[worst], hs[i], hid[i]):
            hs[i], hs[worst] = hs[worst], hs[i]
            hid[i], hid[worst] = hid[worst], hid[i]
            hrow[i], hrow[worst] = hrow[worst], hrow[i]
            i = worst
        else:
            return


@numba.njit(cache=True, nogil=True, inline="always")
def _offer(hs, hid, hrow, size, k, s, did, d):  # noqa: ANN001, ANN202
    """Offer an exactly scored row to the heap of the k best; returns the heap's size."""
    if size < k:
        i = size
        hs[i], hid[i], hrow[i] = s, did, d
        size += 1
        while i > 0:
            parent = (i - 1) // 2
            if _worse(hs[i], hid[i], hs[parent], hid[parent]):
                hs[i], hs[parent] = hs[parent], hs[i]
                hid[i], hid[parent] = hid[parent], hid[i]
                hrow[i], hrow[parent] = hrow[parent], hrow[i]
                i = parent
            else:
                break
    elif _worse(hs[0], hid[0], s, did):
        hs[0], hid[0], hrow[0] = s, did, d
        _sift_down(hs, hid, hrow, size, 0)
    return size


@numba.njit(cache=True, nogil=True, inline="always")
def _may_reach(a, unread2, rest, qrest, theta, slack):  # noqa: ANN001, ANN202
    """Whether partial score a plus min(rest, sqrt(qrest * unread2)) can reach θ (no square root taken)."""
    need = theta / slack - a
    if need <= 0.0:
        return True
    return rest >= need and qrest * unread2 >= need * need


@numba.njit(cache=True, nogil=True)
def top_k_taat(  # noqa: ANN201
    runs,
    low,
    val,
    tmax,
    page_bits,
    lut,
    qt,
    qw,
    xptr,
    xind,
    xdata,
    norm2,
    max_norm,
    alive,
    ids,
    k,
    n_rows,
    qdense,  # noqa: ANN001
):
    """The k best live rows for a query (score desc, id asc), their exact scores, and how many postings were read.

    Term at a time, MaxScore-style, terms in descending order of their largest contribution. What the terms
    left can still add to a row is bounded twice: by the sum of their largest weights, and (Cauchy-Schwarz) by
    the norm of their query weights times the norm of the part of the row not yet read (``norm2`` less the
    squares read so far). A row whose partial score reaches the k-th best exact score θ is rescored exactly at
    once (raising θ). Once the terms left cannot lift an untouched row to θ, no new row can enter; touched rows
    stay candidates only while their bound reaches θ; the terms left are read only for candidates (looked up
    when they are few), or the candidates are rescored from their rows when that is cheaper.

    ``qdense`` is a zeroed float64 scratch array of one entry per term (left zeroed on return).
    """
    m = qt.size
    n_terms = tmax.size
    pages = (runs.size - 1) // max(n_terms, 1)
    mask = (1 << page_bits) - 1
    ub = np.zeros(m, dtype=np.float64)
    for j in range(m):
        t = qt[j]
        if 0 <= t < n_terms:
            ub[j] = np.float64(qw[j]) * np.float64(tmax[t])
    order = np.argsort(-ub, kind="mergesort")
    rest = np.zeros(m + 1, dtype=np.float64)  # rest[j]: sum of the largest contributions of terms order[j:]
    qrest = np.zeros(m + 1, dtype=np.float64)  # qrest[j]: squared norm of their query weights
    left = np.zeros(m + 1, dtype=np.int64)  # left[j]: their postings
    for j in range(m - 1, -1, -1):
        o = order[j]
        rest[j] = rest[j + 1] + ub[o]
        if ub[o] > 0.0:
            qrest[j] = qrest[j + 1] + np.float64(qw[o]) * np.float64(qw[o])
            left[j] = left[j + 1] + runs[(qt[o] + 1) * pages] - runs[qt[o] * pages]
        else:
            qrest[j] = qrest[j + 1]
            left[j] = left[j + 1]
    slack = 1.0 + 1e-9
    for j in range(m):
        if 0 <= qt[j] < qdense.size:
            qdense[qt[j]] = np.float64(qw[j])
    hs = np.empty(k, dtype=np.float64)
    hid = np.empty(k, dtype=np.int64)
    hrow = np.empty(k, dtype=np.int64)
    size = 0
    acc = np.zeros(n_rows, dtype=np.float64)
    seen = np.zeros(n_rows, dtype=np.float64)  # squares of the weights read so far, per row
    touched = np.empty(n_rows, dtype=np.int32)
    nt = 0
    theta = -1.0
    gate = 0.0  # a row whose partial score reaches the gate is rescored and offered at once
    read = 0
    row_cost = 2.0 * xptr[n_rows] / max(n_rows, 1)  # a rescored row costs about two postings an entry
    j = 0
    while j < m and ub[order[j]] > 0.0:
        if size == k and min(rest[j], np.sqrt(qrest[j]) * max_norm) * slack < theta:
            break
        o = order[j]
        t = qt[o]
        w = np.float64(qw[o])
        for g in range(pages):
            base = g << page_bits
            for p in range(runs[t * pages + g], runs[t * pages + g + 1]):
                d = base + low[p]
                a = acc[d]
                if a == 0.0:
                    touched[nt] = d
                    nt += 1
                v = np.float64(lut[val[p]])
                a += w * v
                seen[d] += v * v
                if a >= gate:
                    a = -np.inf  # decided: rescored exactly (or dead), never offered twice
                    if alive[d]:
                        score = _row_dot_dense(xptr, xdata, xind, lut, d, qdense)
                        size = _offer(hs, hid, hrow, size, k, score, ids[d], d)
                        if size == k:
                            theta = hs[0]
                            gate = theta / slack
                acc[d] = a
        read += runs[(t + 1) * pages] - runs[t * pages]
        j += 1
    # candidates: touched rows that the terms left can still lift to θ
    cand = np.empty(nt, dtype=np.int32)
    nc = 0
    for i in range(nt):
        d = touched[i]
        a = acc[d]
        if a > 0.0 and alive[d] and (size < k or _may_reach(a, norm2[d] - seen[d], rest[j], qrest[j], theta, slack)):
            cand[nc] = d
            nc += 1
            continue
        acc[d] = -np.inf
    since = 0
    while j < m and nc > 0 and ub[order[j]] > 0.0 and nc * row_cost >= left[j]:
        o = order[j]
        t = qt[o]
        w = np.float64(qw[o])
        a0, a1 = runs[t * pages], runs[(t + 1) * pages]
        if nc * 16 < a1 - a0:  # few candidates: look each up in its page's run
            for i in range(nc):
                d = cand[i]
                r0, r1 = runs[t * pages + (d >> page_bits)], runs[t * pages + (d >> page_bits) + 1]
                p = r0 + np.searchsorted(low[r0:r1], np.uint16(d & mask))
                if p < r1 and low[p] == d & mask:
                    v = np.float64(lut[val[p]])
                    acc[d] += w * v
                    seen[d] += v * v
            read += nc
            since += nc
        else:
            for g in range(pages):
                base = g << page_bits
                for p in range(runs[t * pages + g], runs[t * pages + g + 1]):
                    d = base + low[p]
                    if acc[d] > 0.0:
                        v = np.float64(lut[val[p]])
                        acc[d] += w * v
                        seen[d] += v * v
            read += a1 - a0
            since += a1 - a0
        j += 1
        if size == k and 2 * since >= nc:  # prune now and then: a pass costs as much as reading nc postings
            since = 0
            keep = 0
            for i in range(nc):
                d = cand[i]
                if _may_reach(acc[d], norm2[d] - seen[d], rest[j], qrest[j], theta, slack):
                    cand[keep] = d
                    keep += 1
                else:
                    acc[d] = -np.inf
            nc = keep
    for i in range(nc):  # the survivors, rescored exactly
        d = cand[i]
        if size == k and not _may_reach(acc[d], norm2[d] - seen[d], rest[j], qrest[j], theta, slack):
            continue
        size = _offer(hs, hid, hrow, size, k, _row_dot_dense(xptr, xdata, xind, lut, d, qdense), ids[d], d)
        if size == k:
            theta = hs[0]
    for j in range(m):
        if 0 <= qt[j] < qdense.size:
            qdense[qt[j]] = 0.0
    return hrow[:size].copy(), hs[:size].copy(), read
