"""Truth rules for explanations: which words may be shown as matched between two texts.

A suggestion's matched terms are chosen from the terms and weights that produced its text relevance (see
:meth:`matching.matcher.Matcher`), then kept only when they pass :func:`shown_in_both`: the word, as shown, is
at least two characters long and occurs in both normalised texts, a Latin word only as a whole word (``cm``
never matches inside ``CMP``). A demand keyword is *missing* only when it does not occur in the profile, so a
keyword is never both matched and missing.
"""

from __future__ import annotations

import re
from functools import lru_cache

from matching.text import normalise_text

MIN_CHARS = 2
"""Shortest matched term shown (single characters and letters say nothing about a topic)."""

_ALNUM = re.compile(r"[a-z0-9]")


def _is_alnum(ch: str) -> bool:
    """Whether a normalised character is a Latin letter or digit."""
    return bool(_ALNUM.fullmatch(ch))


@lru_cache(maxsize=1 << 15)
def _pattern(term: str) -> re.Pattern[str]:
    """Regex finding a normalised term, with Latin word boundaries where the term starts or ends in Latin."""
    head = r"(?<![a-z0-9])" if _is_alnum(term[0]) else ""
    tail = r"(?![a-z0-9])" if _is_alnum(term[-1]) else ""
    return re.compile(head + re.escape(term) + tail)


def occurs(term: str, text: str) -> bool:
    """Whether a term occurs in a text, both normalised (Latin only as whole words)."""
    return occurs_normalised(normalise_text(term).strip(), text)


def occurs_normalised(norm: str, text: str) -> bool:
    """:func:`occurs` for a term already normalised and stripped (explanations test each word many times)."""
    if not norm or norm not in text:
        return False
    return _pattern(norm).search(text) is not None


def showable(norm: str) -> bool:
    """Whether a normalised word is long enough to be shown as matched."""
    return len(norm) >= MIN_CHARS


def shown_in_both(word: str, own_text: str, other_text: str) -> bool:
    """Whether a word may be shown as matched: long enough and occurring in both normalised texts."""
    norm = normalise_text(word).strip()
    return showable(norm) and occurs_normalised(norm, own_text) and occurs_normalised(norm, other_text)
