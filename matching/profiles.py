"""Specialists' explanation data: each profile's parts (field items and sentences) as term rows, and its
normalised text.

A matcher keeps what it works out on demand as :class:`Profile` objects in a small cache. What it prepares in
advance for many specialists (a supervisor, before forking its workers) it packs into a :class:`ProfileStore`: a
dozen flat arrays. Reading a profile from those writes to none of their pages, where reading Python objects writes
their reference counts, so forked workers keep sharing them instead of each copying what it explains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from matching.text import Part

_DIGEST = 16
"""Bytes of a profile's text digest: a packed profile serves a record only when the digests of their texts agree."""


@dataclass(frozen=True, slots=True)
class Profile:
    """A specialist's explanation data: their parts as flat CSR entries and their normalised text."""

    key: tuple | None  # the text fields it was computed from (None when read from a store without them)
    parts: Sequence[Part]
    part_len: np.ndarray  # entries per part
    part_terms: np.ndarray
    part_weights: np.ndarray
    text: str


def text_digest(key: tuple) -> bytes:
    """A digest of a record's text fields (``repr`` is unambiguous, lone surrogates included)."""
    return hashlib.blake2b(repr(key).encode("utf-8"), digest_size=_DIGEST).digest()


def _encode(text: str) -> bytes:
    """UTF-8 bytes of any str (a lone surrogate kept as its code unit)."""
    return text.encode("utf-8", "surrogatepass")


def _decode(raw: np.ndarray) -> str:
    """The str a slice of packed UTF-8 bytes holds."""
    return raw.tobytes().decode("utf-8", "surrogatepass")


def _ptr(sizes: Sequence[int] | np.ndarray) -> np.ndarray:
    """Offsets (with the end) of consecutive runs of the given sizes."""
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


class PackedParts(Sequence[Part]):
    """The parts of one packed profile, decoded when read."""

    __slots__ = ("_store", "_first", "_n")

    def __init__(self, store: ProfileStore, first: int, n: int) -> None:
        self._store, self._first, self._n = store, first, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> Part:  # type: ignore[override]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        return self._store.part(self._first + i % self._n)


class ProfileStore:
    """Explanation data of many specialists in flat arrays, rows in any order; the newest row of an id serves it."""

    def __init__(
        self,
        ids: np.ndarray,
        digests: np.ndarray,
        part_ptr: np.ndarray,
        entry_ptr: np.ndarray,
        terms: np.ndarray,
        weights: np.ndarray,
        fields: tuple[str, ...],
        part_field: np.ndarray,
        part_index: np.ndarray,
        part_text_ptr: np.ndarray,
        part_text: np.ndarray,
        text_ptr: np.ndarray,
        text: np.ndarray,
    ) -> None:
        self.ids, self.digests = ids, digests  # per row: specialist id, (16,) uint8 text digest
        self.part_ptr, self.entry_ptr = part_ptr, entry_ptr  # row r's parts, part p's entries
        self.terms, self.weights = terms, weights  # the parts' term rows, part after part
        self.fields, self.part_field, self.part_index = fields, part_field, part_index
        self.part_text_ptr, self.part_text = part_text_ptr, part_text  # parts' texts, UTF-8
        self.text_ptr, self.text = text_ptr, text  # rows' normalised texts, UTF-8
        self.part_len = np.diff(entry_ptr).astype(np.int32)  # entries per part
        # the newest row of each id serves it (older rows are superseded): ids in ascending order with their rows
        order = np.argsort(ids, kind="stable")
        newest = np.ones(ids.size, dtype=bool)
        newest[:-1] = ids[order[:-1]] != ids[order[1:]]
        self._ids, self._rows = ids[order[newest]], order[newest]
        self.alive = np.zeros(ids.size, dtype=bool)
        self.alive[self._rows] = True

    @classmethod
    def empty(cls) -> ProfileStore:
        """A store holding no profile."""
        return cls.pack([])

    @classmethod
    def pack(cls, items: Sequence[tuple[int, Profile]]) -> ProfileStore:
        """Pack (specialist id, profile) pairs."""
        parts = [part for _, p in items for part in p.parts]
        fields = tuple(sorted({part.field for part in parts}))
        code = {f: i for i, f in enumerate(fields)}
        part_texts = [_encode(part.text) for part in parts]
        texts = [_encode(p.text) for _, p in items]
        return cls(
            ids=np.array([i for i, _ in items], dtype=np.int64),
            digests=np.frombuffer(b"".join(text_digest(p.key) for _, p in items), dtype=np.uint8).reshape(-1, _DIGEST),
            part_ptr=_ptr([len(p.parts) for _, p in items]),
            entry_ptr=_ptr(np.concatenate([p.part_len for _, p in items]) if items else []),
            terms=np.concatenate([p.part_terms for _, p in items]) if items else np.zeros(0, dtype=np.int32),
            weights=np.concatenate([p.part_weights for _, p in items]) if items else np.zeros(0, dtype=np.float32),
            fields=fields,
            part_field=np.array([code[part.field] for part in parts], dtype=np.int16),
            part_index=np.array([part.index for part in parts], dtype=np.int32),
            part_text_ptr=_ptr([len(t) for t in part_texts]),
            part_text=np.frombuffer(b"".join(part_texts), dtype=np.uint8),
            text_ptr=_ptr([len(t) for t in texts]),
            text=np.frombuffer(b"".join(texts), dtype=np.uint8),
        )

    @classmethod
    def concat(cls, stores: Sequence[ProfileStore]) -> ProfileStore:
        """The rows of several stores in one, forgotten and superseded rows left out: a later store's row of an id
        wins."""
        stores = [s.keep(s.alive) for s in stores]
        fields = tuple(sorted({f for s in stores for f in s.fields}))

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(s, name) for s in stores])

        def chained(name: str) -> np.ndarray:
            """Offsets of concatenated runs."""
            ptrs = [getattr(s, name) for s in stores]
            bases = np.cumsum([0] + [p[-1] for p in ptrs[:-1]])
            return np.concatenate([[0]] + [p[1:] + b for p, b in zip(ptrs, bases, strict=True)]).astype(np.int64)

        both = cls(
            ids=joined("ids"),
            digests=np.concatenate([s.digests for s in stores]).reshape(-1, _DIGEST),
            part_ptr=chained("part_ptr"),
            entry_ptr=chained("entry_ptr"),
            terms=joined("terms"),
            weights=joined("weights"),
            fields=fields,
            part_field=np.concatenate(
                [np.array([fields.index(f) for f in s.fields], dtype=np.int16)[s.part_field] for s in stores]
            ).astype(np.int16),
            part_index=joined("part_index"),
            part_text_ptr=chained("part_text_ptr"),
            part_text=joined("part_text"),
            text_ptr=chained("text_ptr"),
            text=joined("text"),
        )
        return both.keep(both.alive)

    def keep(self, rows: np.ndarray) -> ProfileStore:
        """A store of the rows where ``rows`` (a boolean mask) is true."""
        if rows.all():
            return self
        kept = np.flatnonzero(rows)
        parts = _ranges(self.part_ptr, kept)
        return ProfileStore(
            ids=self.ids[kept],
            digests=self.digests[kept],
            part_ptr=_ptr(np.diff(self.part_ptr)[kept]),
            entry_ptr=_ptr(np.diff(self.entry_ptr)[parts]),
            terms=self.terms[_ranges(self.entry_ptr, parts)],
            weights=self.weights[_ranges(self.entry_ptr, parts)],
            fields=self.fields,
            part_field=self.part_field[parts],
            part_index=self.part_index[parts],
            part_text_ptr=_ptr(np.diff(self.part_text_ptr)[parts]),
            part_text=self.part_text[_ranges(self.part_text_ptr, parts)],
            text_ptr=_ptr(np.diff(self.text_ptr)[kept]),
            text=self.text[_ranges(self.text_ptr, kept)],
        )

    def __len__(self) -> int:
        return int(self.alive.sum())

    def _row(self, expert_id: int) -> int | None:
        """The newest row of a specialist, if it is alive."""
        pos = self._ids.searchsorted(expert_id).item()
        if pos == self._ids.size or self._ids[pos] != expert_id:
            return None
        row = self._rows[pos].item()
        return row if self.alive[row] else None

    def __contains__(self, expert_id: object) -> bool:
        return isinstance(expert_id, int) and self._row(expert_id) is not None

    def get(self, expert_id: int, key: tuple | None) -> Profile | None:
        """The packed profile of a specialist whose text fields are ``key`` (None: the text packed, whatever it
        was); None if none is packed for that text."""
        row = self._row(expert_id)
        if row is None or (key is not None and bytes(self.digests[row]) != text_digest(key)):
            return None
        return self._profile(row, key)

    def _profile(self, row: int, key: tuple | None) -> Profile:
        """Row ``row`` as a profile (arrays are views of the store's)."""
        p0, p1 = self.part_ptr[row : row + 2].tolist()
        e0, e1 = self.entry_ptr[p0].item(), self.entry_ptr[p1].item()
        t0, t1 = self.text_ptr[row : row + 2].tolist()
        return Profile(
            key=key,
            parts=PackedParts(self, p0, p1 - p0),
            part_len=self.part_len[p0:p1],
            part_terms=self.terms[e0:e1],
            part_weights=self.weights[e0:e1],
            text=_decode(self.text[t0:t1]),
        )

    def part(self, p: int) -> Part:
        """Part ``p`` of the store, decoded."""
        text = _decode(self.part_text[self.part_text_ptr[p] : self.part_text_ptr[p + 1]])
        return Part(self.fields[self.part_field[p]], int(self.part_index[p]), text)

    def forget(self, expert_id: int) -> None:
        """Stop serving a specialist's packed profile (their text changed, or they left)."""
        row = self._row(expert_id)
        if row is not None:
            self.alive[row] = False

    def __iter__(self) -> Iterator[int]:
        """Ids of the specialists served."""
        return (int(i) for i in self.ids[self.alive])

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays."""
        return sum(a.nbytes for a in vars(self).values() if isinstance(a, np.ndarray))


def _ranges(ptr: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Positions of runs ``runs`` of ``ptr`` (run r spans ``ptr[r]:ptr[r + 1]``), run after run."""
    starts, lengths = ptr[runs], ptr[runs + 1] - ptr[runs]
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - _ptr(lengths)[:-1], lengths)
    return offsets + np.arange(int(lengths.sum()), dtype=np.int64)
