"""The compiled segmenter cuts Chinese runs exactly as jieba does (exact mode, no HMM) with the same dictionary."""

from __future__ import annotations

import json
import logging
import math
import re
from itertools import islice
from pathlib import Path

import jieba
import numpy as np
import pytest

from matching.segmenter import DictionaryTrie
from matching.text import DOMAIN_WORDS, _dictionary, cut_runs, segment

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# jieba's own Chinese class: runs outside it are cut by other rules, so they are no reference
JIEBA_HAN = re.compile("[\u4e00-\u9fd5]+")


@pytest.fixture(scope="module")
def reference() -> jieba.Tokenizer:
    """A jieba tokenizer with the dictionary the analyzer uses (jieba's plus the programme terms)."""
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    for word in DOMAIN_WORDS:
        tok.add_word(word, freq=max(tok.suggest_freq(word), 1000))
    return tok


def _strings(node: object) -> list[str]:
    """Every string in a JSON document."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


@pytest.fixture(scope="module")
def runs() -> list[str]:
    """Distinct Chinese runs of the demo fixtures and both evaluation sets (texts nobody on the team wrote)."""
    texts: list[str] = []
    for path in sorted((FIXTURES / "demo").glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        texts += [s for line in lines if line for s in _strings(json.loads(line))]
    for path in (FIXTURES / "eval" / "csl.json", FIXTURES / "eval" / "gold.json"):
        texts += _strings(json.loads(path.read_text(encoding="utf-8")))
    found = sorted({run for text in texts for run in JIEBA_HAN.findall(text)})
    assert len(found) > 5000
    return found


def test_segment_cuts_every_fixture_run_as_jieba_does(reference: jieba.Tokenizer, runs: list[str]) -> None:
    differ = [run for run in runs if segment(run) != list(reference.cut(run, HMM=False))]
    assert differ == []


def test_sub_words_of_long_words_are_jiebas_cut_for_search(reference: jieba.Tokenizer, runs: list[str]) -> None:
    words, counts, inner, inner_counts = _dictionary().cut_for_search(runs)
    assert len(counts) == len(runs) and len(inner_counts) == len(words)
    next_words, next_inner, word_counts = iter(words), iter(inner), iter(inner_counts)
    differ = []
    for run, n in zip(runs, counts, strict=True):
        ours = []
        for word in islice(next_words, n):
            ours += [*islice(next_inner, next(word_counts)), word]
        if ours != list(reference.cut_for_search(run, HMM=False)):
            differ.append(run)
    assert differ == []


def test_cut_runs_cuts_many_runs_in_one_call_as_one_by_one(runs: list[str]) -> None:
    batch = [*runs[:3000], "", "的", "㐀㐁", "量子计算芯片研发中心"]
    words, counts = cut_runs(batch)
    assert sum(counts) == len(words) and len(counts) == len(batch)
    regrouped, k = [], 0
    for n in counts:
        regrouped.append(words[k : k + n])
        k += n
    assert regrouped == [segment(run) for run in batch]
    assert cut_runs([]) == ([], [])
    assert segment("") == []


def test_a_trie_prefers_the_most_probable_route_and_the_longer_word_on_a_tie() -> None:
    logp = {"甲": math.log(0.5), "甲乙": math.log(0.25), "乙": math.log(0.5), "乙丙": None, "乙丙丁": math.log(0.1)}
    logp |= {"丙": None, "丙丁": math.log(0.1)}
    trie = DictionaryTrie.from_logp(logp, unknown=math.log(0.01))
    # 甲乙 (0.25) ties with 甲 + 乙 (0.5 * 0.5): the longer word wins, as in jieba
    assert trie.segment_runs(["甲乙"]) == [["甲乙"]]
    # 乙丙 and 丙 are only prefixes: never words of their own
    assert trie.segment_runs(["乙丙", "乙丙丁", "丙"]) == [["乙", "丙"], ["乙丙丁"], ["丙"]]
    assert np.isnan(trie.logp).sum() == 2
    assert [trie.is_word(w) for w in ("甲乙", "乙丙", "乙丙丁", "丙", "")] == [True, False, True, False, False]
    # 2-grams of a three-character word, 3-grams too only beyond three
    assert trie.cut_for_search(["乙丙丁", "甲乙"]) == (["乙丙丁", "甲乙"], [1, 1], ["丙丁"], [1, 0])


def test_a_dictionary_missing_a_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        DictionaryTrie.from_logp({"甲乙丙": -1.0, "甲": -1.0}, unknown=-5.0)
