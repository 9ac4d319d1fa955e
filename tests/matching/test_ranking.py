"""Matcher: suggestions both ways, pagination, ties, updates, batch and candidate pairs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import CandidatePairs, Matcher, Suggestion
from matching.records import DemandProfile, ExpertProfile
from tests.matching.test_text_samples import sample_demands, sample_experts


@pytest.fixture
def matcher() -> Matcher:
    return Matcher().fit(sample_experts(), sample_demands())


def _full(m: Matcher, demand: int, include_excluded: bool = False) -> list[Suggestion]:
    items, total = m.suggest_experts(demand, limit=1000, include_excluded=include_excluded)
    assert total == len(items)
    return items


def test_suggestions_rank_the_topical_specialist_first_with_explanations(matcher: Matcher) -> None:
    items, total = matcher.suggest_experts(10, limit=3)
    top = items[0]
    assert top.expert_id == 1 and top.demand_id == 10
    assert total >= 1
    assert 0 < top.score <= 1
    assert "井下通信" in top.matched_terms or "5G" in top.matched_terms
    assert top.missing_keywords == ["UWB定位"]
    assert top.evidence is not None and top.evidence.field in {"bio", "fields", "keywords", "achievements"}
    assert "5G" in top.evidence.text or "通信" in top.evidence.text
    assert all(r.en and r.zh and r.code for r in top.reasons)


def test_suggestions_serialise_to_json(matcher: Matcher) -> None:
    items, _ = matcher.suggest_experts(10, include_excluded=True)
    data = json.loads(json.dumps([i.to_dict() for i in items], ensure_ascii=False))
    assert {"demand_id", "expert_id", "score", "components", "matched_terms", "missing_keywords"} <= set(data[0])
    assert all(len(str(v).split(".")[-1]) <= 4 for v in data[0]["components"].values())


def test_english_and_mixed_demands_work(matcher: Matcher) -> None:
    ids = [s.expert_id for s in matcher.suggest_experts(11, include_excluded=True)[0]]
    assert set(ids[:2]) == {2, 3}
    assert matcher.suggest_experts(12)[0][0].expert_id == 6
    assert matcher.suggest_experts(13)[0][0].expert_id == 5


def test_pairs_without_text_relevance_are_never_suggested(matcher: Matcher) -> None:
    for d in (10, 11, 12, 13):
        for s in _full(matcher, d, include_excluded=True):
            assert s.components["text"] > 0
    ids = {s.expert_id for s in _full(matcher, 10, include_excluded=True)}
    assert 6 not in ids  # battery management, in English: no word in common
    assert matcher.score_pair(10, 6).components["text"] == 0


def test_ordering_is_score_desc_then_id(matcher: Matcher) -> None:
    for d in (10, 11, 12, 13):
        items = _full(matcher, d)
        keys = [(-s.score, s.expert_id) for s in items]
        assert keys == sorted(keys)


def test_pagination_is_consistent(matcher: Matcher) -> None:
    full = _full(matcher, 11, include_excluded=True)
    pages = []
    for offset in range(0, len(full) + 2, 2):
        items, total = matcher.suggest_experts(11, limit=2, offset=offset, include_excluded=True)
        assert total == len(full)
        pages.extend(items)
    assert [s.expert_id for s in pages] == [s.expert_id for s in full]
    assert matcher.suggest_experts(11, limit=0)[0] == []


def test_excluded_pairs_come_last_and_only_on_request(matcher: Matcher) -> None:
    demand = dataclasses.replace(sample_demands()[1], accepted_origins=frozenset({"in_province"}))
    matcher.upsert_demand(demand)
    eligible, total = matcher.suggest_experts(11, limit=100)
    assert all(not s.excluded for s in eligible)
    both, total_all = matcher.suggest_experts(11, limit=100, include_excluded=True)
    assert total_all > total
    flags = [s.excluded for s in both]
    assert flags == sorted(flags)
    assert {r.code for s in both if s.excluded for r in s.exclusions} == {"origin_not_accepted"}


def test_ties_are_broken_by_id() -> None:
    twin = dict(fields=("煤矿安全",), bio="煤矿安全监测", region="沈阳")
    experts = [ExpertProfile(id=i, **twin) for i in (30, 10, 20)]  # type: ignore[arg-type]
    demand = DemandProfile(id=1, enterprise_id=1, title="煤矿安全监测", region="沈阳")
    m = Matcher().fit(experts, [demand])
    items, _ = m.suggest_experts(1)
    assert [s.expert_id for s in items] == [10, 20, 30]
    assert len({s.score for s in items}) == 1


def test_suggest_demands_mirrors_suggest_experts(matcher: Matcher) -> None:
    items, total = matcher.suggest_demands(1, limit=5)
    assert items[0].demand_id == 10 and total >= 1
    forward = {s.expert_id: s.score for s in _full(matcher, 10)}
    assert items[0].score == forward[1]
    assert items[0].evidence is not None  # evidence is always a piece of the specialist's profile


def test_score_pair_matches_the_suggestion(matcher: Matcher) -> None:
    top = matcher.suggest_experts(10)[0][0]
    assert matcher.score_pair(10, top.expert_id) == top


def test_a_page_is_explained_as_each_of_its_pairs_alone(matcher: Matcher) -> None:
    # a page's explanations are computed together; a pair scored on its own must get the same ones
    for d in (10, 11, 12, 13):
        for s in _full(matcher, d, include_excluded=True):
            assert matcher.score_pair(d, s.expert_id) == s


def test_explanations_do_not_depend_on_what_is_cached(matcher: Matcher) -> None:
    uncached = Matcher(explain_cache=0).fit(sample_experts(), sample_demands())
    for d in (10, 11, 12, 13):
        assert uncached.suggest_experts(d, include_excluded=True) == matcher.suggest_experts(d, include_excluded=True)
    for e in range(1, 9):
        assert uncached.suggest_demands(e, include_excluded=True) == matcher.suggest_demands(e, include_excluded=True)


def test_attribute_only_upsert_is_cheap_and_visible(matcher: Matcher) -> None:
    before = matcher.suggest_experts(10)[0][0]
    index = matcher.expert_index_
    slot, changed = index.slot(1), index.n_changed_
    matcher.upsert_expert(dataclasses.replace(sample_experts()[0], load=1))
    assert index.slot(1) == slot and index.n_changed_ == changed
    after = matcher.suggest_experts(10)[0][0]
    assert after.components["capacity"] == 0.5 and after.score < before.score
    matcher.upsert_expert(dataclasses.replace(sample_experts()[0], load=2))
    excluded = [s for s in _full(matcher, 10, include_excluded=True) if s.expert_id == 1][0]
    assert [r.code for r in excluded.exclusions] == ["no_capacity"]


def test_new_specialist_shows_in_the_next_request_without_refit(matcher: Matcher) -> None:
    vocab = matcher.vectorizer_
    new = ExpertProfile(id=99, region="大连", fields=("煤矿智能化", "5G通信"), keywords=("井下通信", "UWB定位"),
                        bio="煤矿井下5G通信网络覆盖与UWB定位")  # fmt: skip
    matcher.upsert_expert(new)
    assert matcher.vectorizer_ is vocab
    ids = [s.expert_id for s in matcher.suggest_experts(10, limit=3)[0]]
    assert ids[0] == 99
    refit = Matcher().fit([*sample_experts(), new], sample_demands())
    assert [s.expert_id for s in refit.suggest_experts(10, limit=3)[0]] == ids


def test_text_change_and_removal_show_at_once(matcher: Matcher) -> None:
    petro = dict(fields=("石油化工",), keywords=(), bio="催化加氢", achievements="")
    matcher.upsert_expert(dataclasses.replace(sample_experts()[0], **petro))  # type: ignore[arg-type]
    assert matcher.suggest_experts(10)[0][0].expert_id != 1
    assert matcher.remove_expert(5)
    assert 5 not in [s.expert_id for s in _full(matcher, 13, include_excluded=True)]
    assert not matcher.remove_expert(5)
    matcher.upsert_demand(dataclasses.replace(sample_demands()[3], title="催化加氢工艺", description="精馏塔节能"))
    assert matcher.suggest_experts(13)[0][0].expert_id == 7
    assert matcher.remove_demand(13)
    assert 13 not in [s.demand_id for s in matcher.suggest_demands(7, limit=100)[0]]


def test_a_demand_not_yet_indexed_can_be_ranked(matcher: Matcher) -> None:
    draft = DemandProfile(id=500, enterprise_id=9, title="干细胞制备 GMP 车间", region="沈阳")
    assert matcher.suggest_experts(draft)[0][0].expert_id == 8


def test_many_upserts_trigger_compaction_and_tables_stay_aligned() -> None:
    m = Matcher(analyzer="char2").fit(sample_experts(), sample_demands())
    for i in range(300):
        m.upsert_expert(ExpertProfile(id=1000 + i, region="北京", fields=("石油化工",), bio=f"催化剂 第{i}号", load=0))
    assert m.expert_index_.generation_ >= 1
    items = _full(m, 10)
    coal = [s for s in items if s.expert_id == 1][0]
    assert coal.components["proximity"] == 1.0 and coal.components["rating"] == pytest.approx(0.875)
    far = m.score_pair(10, 1000)
    assert far.components["proximity"] == 0.0


def test_candidate_pairs_hold_each_demands_and_each_experts_top_k(matcher: Matcher) -> None:
    cp = matcher.candidate_pairs(k_per_demand=2, k_per_expert=1)
    assert isinstance(cp, CandidatePairs)
    d_idx, e_idx, score = cp
    pairs = {(int(cp.demand_ids[d]), int(cp.expert_ids[e])): s for d, e, s in zip(d_idx, e_idx, score, strict=True)}
    by_expert: dict[int, list[tuple[float, int]]] = {}
    for d in cp.demand_ids.tolist():
        items = _full(matcher, d)
        for s in items[:2]:
            assert pairs[(d, s.expert_id)] == s.score
        for s in items:
            by_expert.setdefault(s.expert_id, []).append((-s.score, d))
    for e, lst in by_expert.items():
        best = min(lst)
        assert (best[1], e) in pairs
    assert len(pairs) == len(cp)
    assert cp.demand_open.tolist() == [1, 1, 1, 1]
    assert (cp.expert_free >= 0).all()


def test_candidate_pairs_never_hold_excluded_pairs(matcher: Matcher) -> None:
    matcher.upsert_expert(dataclasses.replace(sample_experts()[0], active=False))
    cp = matcher.candidate_pairs([10, 11], k_per_demand=5, k_per_expert=5)
    assert 1 not in cp.expert_ids[cp.expert_idx].tolist()
    assert cp.demand_ids.tolist() == [10, 11]


WORDS = ["煤矿", "井下", "通信", "机器人", "手术", "芯片", "电池", "robot", "battery", "催化"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    experts=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5), min_size=1, max_size=10),
    demands=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=4), min_size=1, max_size=5),
    loads=st.lists(st.integers(0, 2), min_size=10, max_size=10),
    chunk=st.integers(1, 3),
)
def test_batch_equals_single_queries(
    experts: list[list[str]], demands: list[list[str]], loads: list[int], chunk: int
) -> None:
    es = [ExpertProfile(id=i + 1, bio=" ".join(w), load=loads[i], capacity=2) for i, w in enumerate(experts)]
    ds = [DemandProfile(id=i + 1, enterprise_id=1, title=" ".join(w)) for i, w in enumerate(demands)]
    m = Matcher(analyzer="words").fit(es, ds)
    batch = m.suggest_experts_batch([d.id for d in ds], k=3, chunk_size=chunk)
    for d, items in zip(ds, batch, strict=True):
        assert items == m.suggest_experts(d.id, limit=3)[0]


def test_unfitted_matcher_says_so() -> None:
    with pytest.raises(RuntimeError):
        Matcher().suggest_experts(1)


def test_candidate_pairs_scores_are_sorted_per_demand(matcher: Matcher) -> None:
    cp = matcher.candidate_pairs(k_per_demand=10, k_per_expert=2)
    for d in range(cp.demand_ids.size):
        s = cp.score[cp.demand_idx == d]
        assert np.all(np.diff(s) <= 0)


@pytest.mark.parametrize("side", ["both", "experts only", "demands only"])
def test_warm_up_answers_the_same_pages_afterwards_on_any_fitted_corpus(side: str) -> None:
    experts = [] if side == "demands only" else sample_experts()
    demands = [] if side == "experts only" else sample_demands()
    cold, warmed = Matcher().fit(experts, demands), Matcher().fit(experts, demands)
    assert warmed.warm_up() is warmed
    for demand in demands:
        assert warmed.suggest_experts(demand.id, limit=5) == cold.suggest_experts(demand.id, limit=5)
    for expert in experts:
        assert warmed.suggest_demands(expert.id, limit=5) == cold.suggest_demands(expert.id, limit=5)
