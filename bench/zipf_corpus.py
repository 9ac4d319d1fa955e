"""Seeded generator of profiles and demands over a large Zipfian vocabulary (the realistic case for retrieval).

``text_corpus`` draws from a few thousand domain terms, so every demand shares some term with ~99 % of the
profiles: a worst case for pruning. Real repositories have a vocabulary of hundreds of thousands of words whose
frequencies follow Zipf's law, and topics whose words are rare overall. Here a word is a made-up Chinese
compound (two to four characters from the common CJK block, so the analyzer segments it and cuts 2-grams like
real text); a record draws two thirds of its words from the global Zipf law (s = 1.05) and one third from one or
two of 2,000 topics (each a Zipf law over its own 400 words), in clauses of three to six words. Records carry
the same fields as ``text_corpus`` (ids from 1), about 300 characters each. Deterministic for a seed; streams.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np

from matching.records import DemandProfile, ExpertProfile

_CJK_FIRST, _CJK_COUNT = 0x4E00, 6000


class ZipfGenerator:
    """Seeded stream of profiles and demands over a Zipfian vocabulary of ``vocabulary`` words."""

    def __init__(self, seed: int = 0, vocabulary: int = 300_000, topics: int = 2000, topic_words: int = 400):
        rng = np.random.default_rng(seed)
        self.seed = seed
        chars = [chr(_CJK_FIRST + i) for i in range(_CJK_COUNT)]
        lengths = rng.choice([2, 3, 4], size=vocabulary, p=[0.6, 0.3, 0.1])
        picks = rng.integers(0, _CJK_COUNT, size=(vocabulary, 4))
        self.words = ["".join(chars[c] for c in row[:n]) for row, n in zip(picks, lengths, strict=True)]
        ranks = np.arange(1, vocabulary + 1, dtype=np.float64)
        p = ranks**-1.05
        self._cum = np.cumsum(p / p.sum())
        self._topic_words = rng.integers(0, vocabulary, size=(topics, topic_words))
        tp = np.arange(1, topic_words + 1, dtype=np.float64) ** -1.0
        self._topic_cum = np.cumsum(tp / tp.sum())
        self.topics = topics

    def _text(self, rnd: random.Random, topics: list[int], n_words: int) -> str:
        """Clauses of words: two thirds from the global law, one third from the record's topics."""
        out: list[str] = []
        clause: list[str] = []
        for _ in range(n_words):
            if rnd.random() < 2 / 3:
                w = int(np.searchsorted(self._cum, rnd.random()))
            else:
                t = topics[rnd.randrange(len(topics))]
                w = int(self._topic_words[t, int(np.searchsorted(self._topic_cum, rnd.random()))])
            clause.append(self.words[min(w, len(self.words) - 1)])
            if len(clause) >= rnd.randint(3, 6):
                out.append("".join(clause))
                clause = []
        if clause:
            out.append("".join(clause))
        return "，".join(out) + "。"

    def _topics(self, rnd: random.Random) -> list[int]:
        return [rnd.randrange(self.topics) for _ in range(rnd.choice([1, 1, 2]))]

    def expert(self, i: int) -> ExpertProfile:
        """The i-th specialist profile (deterministic)."""
        rnd = random.Random(self.seed * 1_000_003 + i * 2 + 1)
        topics = self._topics(rnd)
        return ExpertProfile(
            id=i + 1,
            name=f"专家{i + 1}",
            fields=(self._text(rnd, topics, 2).rstrip("。"),),
            keywords=tuple(self._text(rnd, topics, 1).rstrip("。") for _ in range(3)),
            bio=self._text(rnd, topics, 70),
            achievements=self._text(rnd, topics, 25),
        )

    def demand(self, i: int) -> DemandProfile:
        """The i-th demand (deterministic)."""
        rnd = random.Random(self.seed * 1_000_003 + i * 2 + 2_000_000_000)
        topics = self._topics(rnd)
        return DemandProfile(
            id=i + 1,
            enterprise_id=1 + i // 3,
            title=self._text(rnd, topics, 4).rstrip("。"),
            description=self._text(rnd, topics, 80),
            keywords=tuple(self._text(rnd, topics, 1).rstrip("。") for _ in range(3)),
        )

    def experts(self, n: int, start: int = 0) -> Iterator[ExpertProfile]:
        """Stream n profiles."""
        for i in range(start, start + n):
            yield self.expert(i)

    def demands(self, n: int, start: int = 0) -> Iterator[DemandProfile]:
        """Stream n demands."""
        for i in range(start, start + n):
            yield self.demand(i)
