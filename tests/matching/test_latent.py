"""The latent (LSA) channel of text relevance: what users rely on when it is on.

A pair scores the same whichever side asks and through ``score_pair``; only pairs sharing a term are listed (the
same lists and totals as without the channel); the re-rank of the ``latent_depth`` best pairs keeps every
re-ranked pair at or above the others, which keep ``(1 - λ)`` times their lexical relevance; Latin-script pairs
are untouched by default; upserts and compaction keep it all true.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from matching.matcher import Matcher

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from text_corpus import Generator  # noqa: E402

SMALL = {"latent_rank": 8, "latent_min_docs": 20}


@pytest.fixture(scope="module")
def corpus() -> tuple[list, list]:
    gen = Generator(seed=11)
    experts = list(gen.experts(120))
    demands = list(Generator(seed=12).demands(40))
    return experts, demands


def _listing(m: Matcher, demand_id: int) -> dict[int, float]:
    items, total = m.suggest_experts(demand_id, limit=10**6, include_excluded=True, explain=False)
    assert total == len(items)
    return {s.expert_id: s.components["text"] for s in items}


def test_latent_channel_is_fitted_and_changes_text(corpus: tuple[list, list]) -> None:
    experts, demands = corpus
    on = Matcher(**SMALL).fit(experts, demands)
    off = Matcher(latent_rank=0).fit(experts, demands)
    assert on.latent_ is not None and off.latent_ is None
    changed = 0
    for d in demands[:10]:
        a, b = _listing(on, d.id), _listing(off, d.id)
        assert a.keys() == b.keys()  # the same pairs are listed: those sharing a term
        changed += sum(a[e] != b[e] for e in a)
    assert changed > 0


def test_too_few_documents_leave_the_channel_off(corpus: tuple[list, list]) -> None:
    experts, demands = corpus
    m = Matcher(latent_rank=8).fit(experts[:30], demands[:10])  # 40 documents < latent_min_docs (500)
    assert m.latent_ is None


def test_same_score_whichever_side_asks(corpus: tuple[list, list]) -> None:
    experts, demands = corpus
    m = Matcher(**SMALL).fit(experts, demands)
    by_demand = {d.id: _listing(m, d.id) for d in demands}
    for p in experts[:40]:
        items, _ = m.suggest_demands(p.id, limit=10**6, include_excluded=True, explain=False)
        for s in items:
            assert by_demand[s.demand_id][p.id] == s.components["text"]
    for d in demands[:10]:
        for e, text in list(by_demand[d.id].items())[:15]:
            assert m.score_pair(d.id, e, explain=False).components["text"] == text


def test_no_shared_term_no_relevance(corpus: tuple[list, list]) -> None:
    experts, demands = corpus
    m = Matcher(**SMALL).fit(experts, demands)
    for d in demands[:10]:
        listed = _listing(m, d.id)
        for p in experts:
            if p.id not in listed:
                assert m.score_pair(d.id, p.id, explain=False).components["text"] == 0


def test_rerank_depth_keeps_reranked_pairs_on_top() -> None:
    experts = list(Generator(seed=15, english_share=0.0).experts(120))
    demands = list(Generator(seed=16, english_share=0.0).demands(40))
    depth, lam = 5, 0.3
    m = Matcher(**SMALL, latent_depth=depth, latent_weight=lam).fit(experts, demands)
    off = Matcher(latent_rank=0).fit(experts, demands)
    checked = 0
    for d in demands:
        lexical = _listing(off, d.id)
        text = _listing(m, d.id)
        if len(lexical) <= depth:
            continue
        order = sorted(lexical, key=lambda e: (-lexical[e], e))
        if lexical[order[depth - 1]] == lexical[order[depth]]:
            continue  # a tie at the cut: either may be re-ranked
        top, rest = order[:depth], order[depth:]
        for e in rest:
            assert text[e] == pytest.approx((1 - lam) * lexical[e], abs=1e-4)
        assert min(text[e] for e in top) >= max(text[e] for e in rest)
        for e in top:
            assert text[e] >= (1 - lam) * lexical[e] - 1e-4
        checked += 1
    assert checked >= 5


def test_latin_pairs_are_lexical_by_default() -> None:
    gen = Generator(seed=13, english_share=1.0)
    experts, demands = list(gen.experts(60)), list(Generator(seed=14, english_share=1.0).demands(20))
    on = Matcher(**SMALL).fit(experts, demands)
    off = Matcher(latent_rank=0).fit(experts, demands)
    assert on.latent_ is not None
    for d in demands:
        assert _listing(on, d.id) == _listing(off, d.id)


def test_upserts_and_compaction_keep_scores_consistent(corpus: tuple[list, list]) -> None:
    experts, demands = corpus
    m = Matcher(**SMALL).fit(experts, demands)
    gen = Generator(seed=21)
    fresh = list(gen.experts(300))
    # replace the text of many profiles and add new ones: more than the index's delta holds, so it compacts
    for i, p in enumerate(experts[:60]):
        m.upsert_expert(replace(fresh[i], id=p.id))
    for j, p in enumerate(fresh[60:]):
        m.upsert_expert(replace(p, id=10_000 + j))
    for p in experts[60:70]:
        m.remove_expert(p.id)
    assert m.expert_index_.generation_ > 0  # compacted at least once
    assert m._expert_latent.n == m.expert_index_.ids_.size
    for d in demands[:8]:
        listed = _listing(m, d.id)
        assert not {p.id for p in experts[60:70]} & listed.keys()
        for e, text in list(listed.items())[:12]:
            assert m.score_pair(d.id, e, explain=False).components["text"] == text
    for e in [experts[0].id, 10_000]:
        items, _ = m.suggest_demands(e, limit=10**6, include_excluded=True, explain=False)
        for s in items[:10]:
            assert _listing(m, s.demand_id)[e] == s.components["text"]


def test_text_relevance_stays_in_unit_interval(corpus: tuple[list, list]) -> None:
    experts, demands = corpus
    m = Matcher(**SMALL).fit(experts, demands)
    values = np.array([t for d in demands for t in _listing(m, d.id).values()])
    assert (values > 0).all() and (values <= 1).all()


def test_explanations_stay_true_with_the_channel_on(corpus: tuple[list, list]) -> None:
    from matching.explain import shown_in_both
    from matching.matcher import _query_text

    experts, demands = corpus
    m = Matcher(**SMALL).fit(experts, demands)
    seen = 0
    for d in demands[:10]:
        items, _ = m.suggest_experts(d.id, limit=10)
        for s in items:
            p = m.experts_[s.expert_id]
            assert s.components["text"] > 0
            for term in s.matched_terms:
                assert len(term) >= 2 and shown_in_both(term, _query_text(d), _query_text(p))
                seen += 1
            assert not set(s.matched_terms) & set(s.missing_keywords)
    assert seen > 0
