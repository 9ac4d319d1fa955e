"""Constraints and soft factors: each hard rule excludes with its reason; factors and score stay in [0, 1]."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.matcher import Matcher
from matching.records import DemandProfile, ExpertProfile
from matching.regions import resolve_region, same_place
from matching.scoring import (
    COMPONENTS,
    DemandTable,
    ExpertTable,
    RegionCodes,
    ScoreWeights,
    industry_values,
    score_pairs,
)
from tests.matching.test_text_samples import sample_demands, sample_experts

COAL = sample_experts()[0]
DEMAND = sample_demands()[0]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher().fit(sample_experts(), sample_demands())


def _pair(matcher: Matcher, expert: ExpertProfile, demand: DemandProfile = DEMAND):
    return matcher.score_pair(demand, expert)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"active": False}, "inactive"),
        ({"load": 2, "capacity": 2}, "no_capacity"),
        ({"conflicts": frozenset({100})}, "conflict_of_interest"),
        ({"travels": False, "region": "沈阳市"}, "on_site_no_travel"),
        ({"engaged": frozenset({DEMAND.id}), "load": 1}, "already_engaged"),
    ],
)
def test_each_hard_rule_excludes_with_its_reason(matcher: Matcher, change: dict, code: str) -> None:
    s = _pair(matcher, dataclasses.replace(COAL, **change))
    assert s.excluded
    assert [r.code for r in s.exclusions] == [code]
    assert all(r.en and r.zh for r in s.exclusions)


def test_an_engagement_on_another_demand_excludes_nothing(matcher: Matcher) -> None:
    assert not _pair(matcher, dataclasses.replace(COAL, engaged=frozenset({DEMAND.id + 1000}), load=1)).excluded


def test_an_indexed_engagement_excludes_the_pair_both_ways_and_from_the_assignment() -> None:
    experts, demands = sample_experts(), sample_demands()
    m = Matcher().fit(experts, demands)
    top = m.suggest_experts(DEMAND.id, limit=1)[0][0]
    engaged = dataclasses.replace(m.experts_[top.expert_id], engaged=frozenset({DEMAND.id}), load=1, capacity=3)
    m.upsert_expert(engaged)
    eligible, _ = m.suggest_experts(DEMAND.id, limit=100)
    assert engaged.id not in {x.expert_id for x in eligible}
    listed, _ = m.suggest_experts(DEMAND.id, limit=100, include_excluded=True)
    mine = next(x for x in listed if x.expert_id == engaged.id)
    assert [r.code for r in mine.exclusions] == ["already_engaged"]
    assert DEMAND.id not in {x.demand_id for x in m.suggest_demands(engaged.id, limit=100)[0]}
    pairs = m.candidate_pairs(k_per_demand=50, k_per_expert=50)
    demand_ids, expert_ids = pairs.demand_ids[pairs.demand_idx].tolist(), pairs.expert_ids[pairs.expert_idx].tolist()
    chosen = set(zip(demand_ids, expert_ids, strict=True))
    assert (DEMAND.id, engaged.id) not in chosen
    # Once the engagement ends, the pair is eligible again.
    m.upsert_expert(dataclasses.replace(engaged, engaged=frozenset(), load=0))
    assert engaged.id in {x.expert_id for x in m.suggest_experts(DEMAND.id, limit=100)[0]}


def test_origin_not_accepted_excludes(matcher: Matcher) -> None:
    demand = dataclasses.replace(DEMAND, accepted_origins=frozenset({"in_province"}))
    s = _pair(matcher, dataclasses.replace(COAL, origin="foreign"), demand)
    assert [r.code for r in s.exclusions] == ["origin_not_accepted"]
    assert "in-province" in s.exclusions[0].en and "省内" in s.exclusions[0].zh


def test_empty_accepted_origins_accepts_anyone(matcher: Matcher) -> None:
    assert not _pair(matcher, dataclasses.replace(COAL, origin="foreign")).excluded


def test_non_travelling_specialist_in_the_same_city_is_fine(matcher: Matcher) -> None:
    assert not _pair(matcher, dataclasses.replace(COAL, travels=False, region="Dalian")).excluded


def test_on_site_rule_does_not_apply_to_remote_demands(matcher: Matcher) -> None:
    demand = dataclasses.replace(DEMAND, on_site=False)
    assert not _pair(matcher, dataclasses.replace(COAL, travels=False, region="沈阳"), demand).excluded


def test_several_rules_give_several_reasons(matcher: Matcher) -> None:
    s = _pair(matcher, dataclasses.replace(COAL, active=False, load=5, capacity=2))
    assert [r.code for r in s.exclusions] == ["inactive", "no_capacity"]


def test_soft_factors_and_reasons_for_a_good_match(matcher: Matcher) -> None:
    s = _pair(matcher, COAL)
    assert not s.excluded
    assert set(s.components) == set(COMPONENTS)
    assert s.components["proximity"] == 1.0
    assert s.components["origin"] == 1.0
    assert s.components["capacity"] == 1.0
    assert s.components["industry"] == 1.0
    assert s.components["rating"] == pytest.approx((4.5 - 1) / 4, abs=1e-4)
    codes = [r.code for r in s.reasons]
    assert codes == ["text_relevance", "industry_match", "same_city", "in_province", "spare_capacity", "past_ratings"]
    same_city = s.reasons[2]
    assert same_city.en == "Based in the same city (Dalian)"
    assert same_city.zh == "与企业同城（大连）"


@pytest.mark.parametrize(
    ("change", "component", "value"),
    [
        ({"region": "沈阳"}, "proximity", 0.5),
        ({"region": "北京"}, "proximity", 0.0),
        ({"origin": "out_of_province"}, "origin", 0.5),
        ({"origin": "foreign"}, "origin", 0.5),
        ({"load": 1, "capacity": 4}, "capacity", 0.75),
        ({"mean_rating": None}, "rating", 0.5),
        ({"mean_rating": 1.0}, "rating", 0.0),
        ({"mean_rating": 5.0}, "rating", 1.0),
    ],
)
def test_soft_factor_values(matcher: Matcher, change: dict, component: str, value: float) -> None:
    assert _pair(matcher, dataclasses.replace(COAL, **change)).components[component] == pytest.approx(value)


def test_industry_gets_partial_credit_by_token_overlap(matcher: Matcher) -> None:
    partial = _pair(matcher, sample_experts()[3])  # 煤矿安全: shares 煤矿 with 煤矿智能化
    assert 0 < partial.components["industry"] < 1
    assert partial.reasons[1].code == "industry_partial"
    none = _pair(matcher, sample_experts()[6])  # petrochemicals
    assert none.components["industry"] == 0.0
    assert industry_values(np.array([0.0]), 0)[0] == 0.5


def test_regions_resolve_cities_counties_and_provinces() -> None:
    assert resolve_region("大连市甘井子区").city_en == "Dalian"
    assert resolve_region("瓦房店").city_en == "Dalian" and resolve_region("Wafangdian").city_en == "Dalian"
    assert resolve_region("Shenyang, Liaoning").city_zh == "沈阳"
    assert resolve_region("辽宁省").province == "liaoning" and resolve_region("辽宁省").city is None
    assert resolve_region("北京市朝阳区").city_en == "Beijing"
    assert resolve_region("朝阳市").province == "liaoning" and resolve_region("朝阳").city_en == "Chaoyang"
    assert resolve_region("哈尔滨").province == "heilongjiang"
    assert same_place(resolve_region("大连"), resolve_region("Dalian"))
    assert same_place(resolve_region("Harbin"), resolve_region("哈尔滨市"))
    assert same_place(resolve_region("某地"), resolve_region("某地"))
    assert not same_place(resolve_region(""), resolve_region(""))


def test_regions_know_every_province_s_counties_not_only_liaoning_s() -> None:
    # Hebei, Shanxi and Heilongjiang run the same kind of programme: their counties resolve as Liaoning's do.
    assert resolve_region("河北省正定县").city_zh == "石家庄"
    assert resolve_region("山西省平遥县").city_zh == "晋中"
    assert resolve_region("黑龙江省五常市").city_zh == "哈尔滨"
    assert resolve_region("深圳市南山区").province == "guangdong"
    assert resolve_region("长春市朝阳区").city_zh == "长春"  # the province or city named decides the district
    # A district name three cities share, in two provinces, names no city; one shared within a province names it.
    assert resolve_region("铁西区").city is None and resolve_region("沈阳市铁西区").city_zh == "沈阳"
    # 吉林 alone is the province, the city is 吉林市; an ambiguous English name takes its conventional reading.
    assert resolve_region("吉林").city is None and resolve_region("吉林市").city_zh == "吉林"
    assert resolve_region("Suzhou").city_zh == "苏州" and resolve_region("宿州").province == "anhui"
    assert resolve_region("金普新区").city_zh == "大连"  # a development zone, not an administrative unit
    assert not resolve_region("Munich, Germany").known


def test_score_weights_are_normalised_and_checked() -> None:
    w = ScoreWeights(text=3, industry=0, proximity=0, origin=0, capacity=0, rating=1).normalised()
    assert w.sum() == pytest.approx(1.0) and w[0] == pytest.approx(0.75)
    with pytest.raises(ValueError):
        ScoreWeights(text=-1).normalised()
    with pytest.raises(ValueError, match="more than half"):
        ScoreWeights(text=2, industry=0, proximity=0, origin=0, capacity=0, rating=2).normalised()
    with pytest.raises(ValueError):
        ScoreWeights(text=float("nan")).normalised()


_PLACES = st.sampled_from(["大连", "沈阳", "北京", "", "Munich"])
_ORIGIN = st.sampled_from(["in_province", "out_of_province", "foreign"])


@settings(max_examples=200, deadline=None)
@given(
    places=st.tuples(_PLACES, _PLACES),
    origins=st.tuples(_ORIGIN, _ORIGIN),
    loads=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    ratings=st.tuples(st.one_of(st.none(), st.floats(1, 5)), st.one_of(st.none(), st.floats(1, 5))),
    industry=st.tuples(st.floats(0, 1), st.floats(0, 1)),
    t1=st.floats(0.001, 0.5),
    ratio=st.floats(2, 50),
    soft_weights=st.tuples(*[st.floats(0, 5)] * 5),
    text_share=st.floats(0.501, 0.99),
)
def test_soft_factors_never_lift_a_pair_over_one_with_twice_its_text_relevance(
    places: tuple[str, str],
    origins: tuple[str, str],
    loads: tuple[int, int],
    ratings: tuple[float | None, float | None],
    industry: tuple[float, float],
    t1: float,
    ratio: float,
    soft_weights: tuple[float, ...],
    text_share: float,
) -> None:
    """Topic fit first: whatever the places, origins, loads and ratings, text relevance twice as high wins."""
    soft = sum(soft_weights)
    text_w = text_share / (1 - text_share) * soft if soft > 0 else 1.0
    w = ScoreWeights(text_w, *soft_weights).normalised()
    regions = RegionCodes()
    experts, demands = ExpertTable(), DemandTable()
    for slot in (0, 1):
        p = dataclasses.replace(
            COAL, region=places[slot], origin=origins[slot], load=loads[slot], capacity=5, mean_rating=ratings[slot]
        )
        experts.set(slot, p, regions)
    demands.set(0, DEMAND, regions, 3)
    text = np.array([t1, min(t1 * ratio, 1.0)])
    slots = np.array([0, 1])
    pairs = score_pairs(demands, 0, experts, slots, text, np.array(industry), np.zeros(2, bool), w)
    assert pairs.score[1] >= pairs.score[0]
    if text[1] >= 2 * text[0] and pairs.score[0] >= 1e-3:
        assert pairs.score[1] > pairs.score[0]


@settings(max_examples=60, deadline=None)
@given(
    load=st.integers(0, 12),
    capacity=st.integers(1, 10),
    rating=st.one_of(st.none(), st.floats(1, 5)),
    origin=st.sampled_from(["in_province", "out_of_province", "foreign"]),
    region=st.sampled_from(["大连", "沈阳", "北京", "", "Munich"]),
    text=st.floats(0, 1),
    industry=st.floats(0, 1),
    weights=st.tuples(st.floats(5.1, 10), *[st.floats(0.01, 1)] * 5),
)
def test_factors_and_score_stay_in_unit_interval(
    load: int,
    capacity: int,
    rating: float | None,
    origin: str,
    region: str,
    text: float,
    industry: float,
    weights: tuple[float, ...],
) -> None:
    regions = RegionCodes()
    experts, demands = ExpertTable(), DemandTable()
    experts.set(
        0,
        dataclasses.replace(COAL, load=load, capacity=capacity, mean_rating=rating, origin=origin, region=region),
        regions,
    )
    demands.set(0, DEMAND, regions, 3)
    w = ScoreWeights(*weights).normalised()
    one = np.array([0])
    pairs = score_pairs(demands, 0, experts, one, np.array([text]), np.array([industry]), one.astype(bool), w)
    assert ((pairs.components >= 0) & (pairs.components <= 1)).all()
    assert 0 <= pairs.score[0] <= 1
    assert bool(pairs.excluded[0] & 2) == (load >= capacity)


def _reference_score_pairs(demands, d_slots, experts, e_slots, text, industry, conflict, weights, engaged=False):  # type: ignore[no-untyped-def]
    """The rules of the module docstring written out column by column in NumPy (the compiled pass's reference)."""
    e = {k: v[e_slots] for k, v in experts.cols.items()}
    d = {k: v[d_slots] for k, v in demands.cols.items()}
    n = text.size
    same_city = (e["city"] == d["city"]) & (d["city"] >= 0)
    same_prov = (e["province"] == d["province"]) & (d["province"] >= 0)
    proximity = np.where(same_city, 1.0, np.where(same_prov, 0.5, 0.0))
    origin = np.array([1.0, 0.5, 0.5])[e["origin"].astype(np.int64)]
    capacity = np.clip(1.0 - e["load"] / np.maximum(e["capacity"], 1).astype(np.float64), 0.0, 1.0)
    rating = np.where(np.isnan(e["rating"]), 0.5, np.clip((e["rating"] - 1.0) / 4.0, 0.0, 1.0))
    comps = np.empty((len(COMPONENTS), n), dtype=np.float64)
    for i, values in enumerate((text, industry, proximity, origin, capacity, rating, e["grade"])):
        comps[i] = np.broadcast_to(values, (n,))
    np.clip(comps, 0.0, 1.0, out=comps)
    score = np.round(comps[0] * (weights[0] + weights[1:] @ comps[1:]), 4)
    bits = np.zeros(n, dtype=np.int64)
    bits |= np.where(e["active"], 0, 1)
    bits |= np.where(e["load"] >= e["capacity"], 2, 0)
    bits |= np.where(conflict, 4, 0)
    bits |= np.where(engaged, 32, 0)
    accepted = d["accepted"].astype(np.int64)
    origin_ok = (accepted == 0) | ((accepted >> e["origin"].astype(np.int64)) & 1).astype(bool)
    bits |= np.where(origin_ok, 0, 8)
    known = (e["city"] >= 0) & (d["city"] >= 0)
    bits |= np.where(d["on_site"] & ~e["travels"] & known & ~same_city, 16, 0)
    return np.broadcast_to(score, (n,)), comps, bits


@pytest.mark.parametrize("seed", range(4))
def test_compiled_pair_scores_equal_the_column_by_column_reference(seed: int) -> None:
    """Every score, component and exclusion bit of many varied pairs, both ways round (one demand against many
    specialists, one specialist against many demands), equals the NumPy reference to the last bit."""
    rng = np.random.default_rng(seed)
    places = ["大连", "沈阳", "鞍山", "北京", "", "Munich", "辽宁", "河北"]
    origins = ["in_province", "out_of_province", "foreign"]
    regions = RegionCodes()
    experts, demands = ExpertTable(), DemandTable()
    n_experts, n_demands = 400, 60
    for slot in range(n_experts):
        capacity = int(rng.integers(1, 5))
        p = dataclasses.replace(
            COAL,
            id=slot + 1,
            region=str(rng.choice(places)),
            origin=str(rng.choice(origins)),
            load=int(rng.integers(0, 6)),
            capacity=capacity,
            mean_rating=None if rng.random() < 0.3 else float(rng.uniform(1, 5)),
            active=bool(rng.random() < 0.9),
            travels=bool(rng.random() < 0.6),
            last_grade=[None, "excellent", "good", "pass", "fail"][int(rng.integers(0, 5))],
        )
        experts.set(slot, p, regions)
    for slot in range(n_demands):
        d = dataclasses.replace(
            DEMAND,
            id=slot + 1,
            region=str(rng.choice(places)),
            on_site=bool(rng.random() < 0.5),
            accepted_origins=frozenset(rng.choice(origins, size=int(rng.integers(0, 3)), replace=False).tolist()),
        )
        demands.set(slot, d, regions, int(rng.integers(0, 4)))
    w = ScoreWeights(*rng.uniform([6, 0, 0, 0, 0, 0, 0], [10, 1, 1, 1, 1, 1, 1])).normalised()
    checked = 0
    for d_slot in range(n_demands):
        slots = rng.permutation(n_experts)[: int(rng.integers(1, n_experts))]
        m = slots.size
        args = (rng.random(m), rng.random(m), rng.random(m) < 0.1, w, rng.random(m) < 0.05)
        for got, want in (
            (
                score_pairs(demands, d_slot, experts, slots, *args),
                _reference_score_pairs(demands, d_slot, experts, slots, *args),
            ),
            (
                score_pairs(demands, slots % n_demands, experts, d_slot, *args),
                _reference_score_pairs(demands, slots % n_demands, experts, d_slot, *args),
            ),
        ):
            assert np.array_equal(got.score, want[0])
            assert np.array_equal(got.components, want[1])
            assert np.array_equal(got.excluded, want[2])
            checked += m
    assert checked > 10_000
