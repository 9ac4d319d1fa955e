"""Explanations are true by construction: matched terms occur in both texts, missing keywords do not occur in
the profile and are never matched, reasons name only what the profile contains, evidence quotes it verbatim;
and topic fit comes first. Checked over the whole demo repository (both sides) and over random profiles."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import Matcher, Suggestion
from matching.evaluate import demand_from_record, expert_from_record
from matching.records import DemandProfile, ExpertProfile
from matching.text import normalise_text

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo"
_LATIN = re.compile(r"[a-z0-9]")


def _records(name: str) -> list[dict]:
    return [json.loads(line) for line in (DEMO / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@cache
def demo() -> tuple[list[ExpertProfile], list[DemandProfile], dict[str, str]]:
    """The demo repository as matcher records (with the enterprises' regions)."""
    regions = {e["external_id"]: e.get("region", "") for e in _records("enterprises.jsonl")}
    ents: dict[str, int] = {}

    def ent(ref: object) -> int:
        return ents.setdefault(str(ref), len(ents) + 1)

    experts = [
        expert_from_record(r, i, ent)
        for i, r in enumerate(_records("experts_a.jsonl") + _records("experts_b.jsonl"), start=1)
    ]
    demands = [demand_from_record(r, i, ent, regions) for i, r in enumerate(_records("demands.jsonl"), start=1)]
    return experts, demands, regions


@cache
def demo_matcher() -> Matcher:
    experts, demands, _ = demo()
    return Matcher().fit(experts, demands)


def expert_text(p: ExpertProfile) -> str:
    return normalise_text("\n".join([*p.fields, *p.keywords, p.title, p.bio, p.achievements]))


def demand_text(d: DemandProfile) -> str:
    return normalise_text("\n".join([d.title, *d.keywords, d.industry, d.description]))


def occurs_as_word(term: str, text: str) -> bool:
    """A normalised term occurs in a normalised text; a Latin term not inside a longer Latin word."""
    for m in re.finditer(re.escape(term), text):
        before = text[m.start() - 1] if m.start() else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if _LATIN.fullmatch(term[0]) and before and _LATIN.fullmatch(before):
            continue
        if _LATIN.fullmatch(term[-1]) and after and _LATIN.fullmatch(after):
            continue
        return True
    return False


def assert_true_explanation(s: Suggestion, expert: ExpertProfile, demand: DemandProfile) -> None:
    """Every claim of one suggestion holds against the two records."""
    e_text, d_text = expert_text(expert), demand_text(demand)
    for term in s.matched_terms:
        norm = normalise_text(term).strip()
        assert len(norm) >= 2, term
        assert occurs_as_word(norm, e_text), (term, "not in profile")
        assert occurs_as_word(norm, d_text), (term, "not in demand")
    assert not set(s.matched_terms) & set(s.missing_keywords)
    for kw in s.missing_keywords:
        assert kw in demand.keywords
        assert not occurs_as_word(normalise_text(kw).strip(), e_text), (kw, "is in the profile")
    text_reason = next((r for r in s.reasons if r.code == "text_relevance"), None)
    if text_reason is not None and "：" in text_reason.zh:
        named = text_reason.zh.split("：", 1)[1].split("、")
        assert named == s.matched_terms[: len(named)]
    if s.evidence is not None:
        value = getattr(expert, s.evidence.field)
        if isinstance(value, str):
            assert s.evidence.text in value
        else:
            assert s.evidence.text in value


def test_every_demo_suggestion_for_a_demand_explains_itself_truthfully() -> None:
    experts, demands, _ = demo()
    m = demo_matcher()
    by_id = {p.id: p for p in experts}
    checked = 0
    for d in demands:
        items, _ = m.suggest_experts(d.id, limit=10, include_excluded=True)
        for s in items:
            assert_true_explanation(s, by_id[s.expert_id], d)
            checked += 1
    assert checked >= 1000


def test_every_demo_suggestion_for_a_specialist_explains_itself_truthfully() -> None:
    experts, demands, _ = demo()
    m = demo_matcher()
    by_id = {d.id: d for d in demands}
    checked = 0
    for p in experts:
        items, _ = m.suggest_demands(p.id, limit=10, include_excluded=True)
        for s in items:
            assert_true_explanation(s, p, by_id[s.demand_id])
            checked += 1
    assert checked >= 1000


def test_topic_fit_comes_first_in_every_demo_list() -> None:
    """No suggestion below the first has text relevance at least twice the first's (and at least 0.2)."""
    experts, demands, _ = demo()
    m = demo_matcher()
    for d in demands:
        items, _ = m.suggest_experts(d.id, limit=10, explain=False)
        if items:
            first = items[0].components["text"]
            assert not [s for s in items[1:] if s.components["text"] >= max(2 * first, 0.2)], d.id
    for p in experts:
        items, _ = m.suggest_demands(p.id, limit=10, explain=False)
        if items:
            first = items[0].components["text"]
            assert not [s for s in items[1:] if s.components["text"] >= max(2 * first, 0.2)], p.id


def test_in_province_first_breaks_ties_between_equal_fits() -> None:
    profile = dict(
        fields=("化学机械抛光",), keywords=("CMP", "抛光垫修整"), bio="长期从事铜互连化学机械抛光划痕缺陷研究。"
    )
    local = ExpertProfile(id=1, origin="in_province", region="大连", **profile)
    foreign = ExpertProfile(id=2, origin="foreign", region="Munich", **profile)
    demand = DemandProfile(id=1, enterprise_id=1, title="铜CMP划痕缺陷", keywords=("CMP",), region="大连")
    m = Matcher().fit([foreign, local], [demand])
    items, _ = m.suggest_experts(1)
    assert [s.expert_id for s in items] == [1, 2]
    assert items[0].components["text"] == items[1].components["text"]


_WORDS = [
    "煤矿",
    "瓦斯",
    "抽采",
    "5G",
    "通信",
    "CMP",
    "抛光",
    "cm",
    "槽",
    "顺",
    "端",
    "率",
    "后",
    "化学机械抛光",
    "智能",
    "矿山",
    "LSTM",
    "lst",
    "传感器",
    "视频回传",
    "井下无线通信",
    "polishing",
    "pad",
    "slurry",
    "copper",
]
_TEXT = st.lists(st.sampled_from(_WORDS), min_size=0, max_size=8).map(
    lambda ws: "".join(w + ("，" if w.isascii() else "") for w in ws)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    experts=st.lists(
        st.tuples(
            st.lists(st.sampled_from(_WORDS), max_size=3), st.lists(st.sampled_from(_WORDS), max_size=4), _TEXT, _TEXT
        ),
        min_size=1,
        max_size=6,
    ),
    demands=st.lists(st.tuples(_TEXT, st.lists(st.sampled_from(_WORDS), max_size=4), _TEXT), min_size=1, max_size=4),
)
def test_random_profiles_explain_themselves_truthfully_both_ways(
    experts: list[tuple[list[str], list[str], str, str]], demands: list[tuple[str, list[str], str]]
) -> None:
    es = [
        ExpertProfile(id=i, fields=tuple(f), keywords=tuple(k), bio=b, achievements=a)
        for i, (f, k, b, a) in enumerate(experts, start=1)
    ]
    ds = [
        DemandProfile(id=i, enterprise_id=i, title=t, keywords=tuple(k), description=x)
        for i, (t, k, x) in enumerate(demands, start=1)
    ]
    m = Matcher().fit(es, ds)
    e_by, d_by = {p.id: p for p in es}, {d.id: d for d in ds}
    for d in ds:
        for s in m.suggest_experts(d.id, limit=10, include_excluded=True)[0]:
            assert_true_explanation(s, e_by[s.expert_id], d)
    for p in es:
        for s in m.suggest_demands(p.id, limit=10, include_excluded=True)[0]:
            assert_true_explanation(s, p, d_by[s.demand_id])


@pytest.mark.parametrize(
    "term,text,expected", [("cm", "cmp polishing", False), ("cmp", "copper cmp.", True), ("5g", "5g专网", True)]
)
def test_latin_terms_match_whole_words_only(term: str, text: str, expected: bool) -> None:
    from matching.explain import occurs

    assert occurs(term, text) is expected


def test_an_edited_record_is_explained_by_its_new_text_and_a_repeated_page_is_the_same() -> None:
    """Asking before an edit changes nothing after it: a matcher that answered the old texts gives, once the same
    edits are applied, exactly the pages of an identical matcher that never answered them."""
    from dataclasses import replace

    experts, demands, _ = demo()
    asked, fresh = Matcher().fit(experts, demands), Matcher().fit(experts, demands)

    def page(m: Matcher, side: str, id: int) -> list[tuple[int, list[str], list[str]]]:
        items = m.suggest_experts(id, limit=10)[0] if side == "demand" else m.suggest_demands(id, limit=10)[0]
        return [(s.demand_id if side == "expert" else s.expert_id, s.matched_terms, s.missing_keywords) for s in items]

    demand = demands[0]
    expert = next(p for p in experts if asked.suggest_demands(p.id, limit=5)[0])
    before = page(asked, "demand", demand.id)
    assert before == page(asked, "demand", demand.id)
    page(asked, "expert", expert.id)
    # The demand now asks, in other words, for another industry's work; the specialist takes another's profile.
    other = next(d for d in demands[1:] if d.industry != demand.industry)
    donor = next(p for p in experts if p.fields and p.fields != expert.fields)
    edited = replace(demand, title=other.title, description=other.description, keywords=other.keywords)
    changed = replace(expert, fields=donor.fields, keywords=donor.keywords, bio=donor.bio, title=donor.title)
    for m in (asked, fresh):
        m.upsert_demand(edited)
        m.upsert_expert(changed)
    after = page(asked, "demand", demand.id)
    assert after == page(fresh, "demand", demand.id)
    assert after != before and any(terms for _, terms, _ in after)
    assert page(asked, "expert", expert.id) == page(fresh, "expert", expert.id)
    by_id = {p.id: p for p in experts} | {changed.id: changed}
    by_demand = {d.id: d for d in demands} | {edited.id: edited}
    for s in asked.suggest_experts(demand.id, limit=10)[0]:
        assert_true_explanation(s, by_id[s.expert_id], edited)
    for s in asked.suggest_demands(expert.id, limit=10)[0]:
        assert_true_explanation(s, changed, by_demand[s.demand_id])


def test_explanation_data_prepared_in_advance_gives_the_same_pages_and_follows_edits() -> None:
    """A supervisor prepares every specialist's explanation data before forking its workers: the pages are
    exactly those of a matcher that worked each profile out on first use, the cache bound holds, and an edit made
    after the preparation is explained by the new text."""
    from dataclasses import replace

    experts, demands, _ = demo()
    prepared, lazy = Matcher().fit(experts, demands), Matcher().fit(experts, demands)
    prepared.vectorizer_.chunk_size = 100  # so that the demo's parts are tokenised on two processes
    assert prepared.prepare_explanations(n_jobs=2, chunk=max(1, len(experts) // 3)) == len(experts)
    assert set(prepared._packed) == {p.id for p in experts} and not prepared._profiles
    assert prepared.prepare_explanations() == 0  # nothing left to do

    def pages(m: Matcher) -> list:
        return [m.suggest_experts(d.id, limit=10, include_excluded=True)[0] for d in demands]

    assert pages(prepared) == pages(lazy)
    expert = prepared.suggest_experts(demands[0].id, limit=1)[0][0].expert_id
    donor = next(p for p in experts if p.bio and p.id != expert)
    edited = replace(next(p for p in experts if p.id == expert), bio=donor.bio, keywords=donor.keywords)
    for m in (prepared, lazy):
        m.upsert_expert(edited)
    assert pages(prepared) == pages(lazy)
    bounded = Matcher(explain_cache=5).fit(experts, demands)
    assert bounded.prepare_explanations() == 5 and len(bounded._packed) == 5
