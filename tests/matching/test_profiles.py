"""Packed explanation data: every profile read back from the flat arrays is the profile that was packed, a record
whose text differs is never served the packed one, and forgetting, re-packing and joining keep the newest."""

from __future__ import annotations

import gc
from dataclasses import replace

import numpy as np
import pytest

from matching import Matcher
from matching.matcher import EXPERT_TEXT_FIELDS, _text_key
from matching.profiles import Profile, ProfileStore
from matching.records import ExpertProfile
from tests.matching.test_explanations import demo


def _objects_held(root: object) -> int:
    """Python objects reachable from ``root`` (NumPy arrays count as one each, with their bases)."""
    seen, todo = {id(root)}, [root]
    while todo:
        for ref in gc.get_referents(todo.pop()):
            if id(ref) not in seen and not isinstance(ref, type):
                seen.add(id(ref))
                todo.append(ref)
    return len(seen)


def _same(a: Profile, b: Profile) -> None:
    assert a.key == b.key and a.text == b.text
    assert list(a.parts) == list(b.parts) and len(a.parts) == len(b.parts)
    for name in ("part_len", "part_terms", "part_weights"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype.kind == y.dtype.kind and np.array_equal(x, y), name


@pytest.fixture(scope="module")
def fitted() -> tuple[Matcher, list[ExpertProfile]]:
    experts, demands, _ = demo()
    odd = replace(experts[0], bio="表情😀与孤立代理\ud800结尾。Second sentence here.", keywords=("\ud83d", "无损检测"))
    experts = [odd, *experts[1:]]
    return Matcher().fit(experts, demands), experts


def test_every_packed_profile_reads_back_as_computed(fitted: tuple[Matcher, list[ExpertProfile]]) -> None:
    matcher, experts = fitted
    computed = matcher._new_profiles(experts)
    store = ProfileStore.pack([(e.id, p) for e, p in zip(experts, computed, strict=True)])
    assert len(store) == len(experts) and set(store) == {e.id for e in experts}
    for expert, profile in zip(experts, computed, strict=True):
        packed = store.get(expert.id, _text_key(expert, EXPERT_TEXT_FIELDS))
        assert packed is not None
        _same(packed, profile)
        assert packed.parts[-1] == profile.parts[-1] if profile.parts else len(packed.parts) == 0
    with pytest.raises(IndexError):
        store.get(experts[0].id, computed[0].key).parts[len(computed[0].parts)]  # type: ignore[union-attr]


def test_a_record_whose_text_differs_is_not_served_the_packed_profile(
    fitted: tuple[Matcher, list[ExpertProfile]],
) -> None:
    matcher, experts = fitted
    expert = experts[1]
    store = ProfileStore.pack([(expert.id, matcher._new_profiles([expert])[0])])
    for changed in (
        replace(expert, bio=expert.bio + "。"),
        replace(expert, keywords=(*expert.keywords, "新词")),
        replace(expert, title=expert.title + " "),
    ):
        assert store.get(expert.id, _text_key(changed, EXPERT_TEXT_FIELDS)) is None
    assert store.get(expert.id + 10_000, _text_key(expert, EXPERT_TEXT_FIELDS)) is None
    store.forget(expert.id)
    assert store.get(expert.id, _text_key(expert, EXPERT_TEXT_FIELDS)) is None and len(store) == 0


def test_joined_stores_serve_the_newest_row_and_drop_forgotten_ones(
    fitted: tuple[Matcher, list[ExpertProfile]],
) -> None:
    matcher, experts = fitted
    a, b, c = experts[1], experts[2], experts[3]
    edited = replace(b, bio="材料腐蚀与防护。焊接接头寿命评估。")
    first = ProfileStore.pack([(e.id, p) for e, p in zip((a, b, c), matcher._new_profiles([a, b, c]), strict=True)])
    first.forget(c.id)
    second = ProfileStore.pack([(edited.id, matcher._new_profiles([edited])[0])])
    joined = ProfileStore.concat([first, second, ProfileStore.empty()])
    assert sorted(joined) == sorted([a.id, b.id]) and joined.ids.size == 2  # c and the older b left out
    _same(joined.get(a.id, _text_key(a, EXPERT_TEXT_FIELDS)), matcher._new_profiles([a])[0])  # type: ignore[arg-type]
    _same(joined.get(b.id, _text_key(edited, EXPERT_TEXT_FIELDS)), matcher._new_profiles([edited])[0])  # type: ignore[arg-type]
    assert joined.get(b.id, _text_key(b, EXPERT_TEXT_FIELDS)) is None  # the older row of b is not served
    assert joined.get(c.id, _text_key(c, EXPERT_TEXT_FIELDS)) is None


@pytest.mark.parametrize("offset", [0, 10**12, -(10**6)])
def test_ids_far_apart_or_negative_are_found_as_well(fitted: tuple[Matcher, list[ExpertProfile]], offset: int) -> None:
    matcher, experts = fitted
    chosen = experts[1:6]
    computed = matcher._new_profiles(chosen)
    ids = [e.id * 7919 + offset for e in chosen]
    store = ProfileStore.pack(list(zip(ids, computed, strict=True))[::-1])
    for i, expert, profile in zip(ids, chosen, computed, strict=True):
        _same(store.get(i, _text_key(expert, EXPERT_TEXT_FIELDS)), profile)  # type: ignore[arg-type]
        assert i + 1 not in store and i - 1 not in store
    assert sorted(store) == sorted(ids)


def test_prepared_matcher_reads_explanations_from_flat_arrays_and_follows_edits_and_removals() -> None:
    experts, demands, _ = demo()
    matcher = Matcher().fit(experts, demands)
    assert matcher.prepare_explanations() == len(experts)
    # a few arrays, not objects per profile: reading a profile then writes no reference count a worker would copy
    assert _objects_held(matcher._packed) < 40 < len(experts)
    demand = demands[0]
    top = matcher.suggest_experts(demand.id, limit=5)[0]
    assert top and not matcher._profiles  # every explanation came from the packed data, nothing cached besides
    edited = replace(matcher.experts_[top[0].expert_id], bio="全新的简介，只谈区块链。")
    matcher.upsert_expert(edited)
    assert edited.id not in matcher._packed
    matcher.suggest_demands(edited.id, limit=3)
    matcher.suggest_experts(demand.id, limit=5)
    assert set(matcher._profiles) <= {edited.id}
    matcher.remove_expert(top[1].expert_id)
    assert top[1].expert_id not in matcher._packed
    assert matcher.prepare_explanations() == 1 and edited.id in matcher._packed and not matcher._profiles
