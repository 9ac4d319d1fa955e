"""TextIndex: relevance in Chinese/English/mixed text, incremental updates, ties, batch queries, aggregation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.index import TextIndex, top_k_order
from matching.text import TextVectorizer

PROFILES = {
    1: {"fields": ["煤矿智能化"], "bio": "煤矿井下5G通信网络与智能综采工作面研究"},
    2: {"fields": ["手术机器人"], "bio": "微创手术机器人与力反馈控制研究"},
    3: {"fields": ["robotics"], "bio": "Surgical robots with haptic force feedback"},
    4: {"fields": ["集成电路"], "bio": "CMOS模拟集成电路与电源管理芯片设计"},
    5: {"fields": ["石油化工"], "bio": "催化加氢工艺与精馏塔节能优化"},
    6: {"fields": ["energy"], "bio": "Battery management systems for electric vehicles"},
}


def _index(mode: str = "blend", **kw: object) -> TextIndex:
    ids = sorted(PROFILES)
    return TextIndex(vectorizer=TextVectorizer(analyzer=mode), **kw).fit(ids, [PROFILES[i] for i in ids])


@pytest.mark.parametrize("mode", ["words", "char2", "blend"])
def test_chinese_demand_finds_the_chinese_profile_on_the_same_topic(mode: str) -> None:
    ids, scores = _index(mode).query({"title": "井下5G通信覆盖", "description": "煤矿井下通信网络建设"}, k=3)
    assert ids[0] == 1
    assert scores[0] > 0 and (scores.size == 1 or scores[0] > scores[1])


def test_english_demand_finds_the_english_profile() -> None:
    ids, _ = _index().query("battery management for electric vehicles", k=2)
    assert ids[0] == 6


def test_mixed_demand_finds_both_languages_on_the_topic() -> None:
    ids, _ = _index().query("surgical robot 手术机器人 force feedback", k=3)
    assert set(ids[:2].tolist()) == {2, 3}


def test_unrelated_profiles_are_not_returned() -> None:
    ids, scores = _index().query("煤矿井下通信", k=10)
    assert 6 not in ids.tolist()
    assert (scores > 0).all()


def test_upsert_shows_at_once_without_refit() -> None:
    index = _index()
    vocab_before = dict(index.vectorizer_.vocabulary_)
    index.upsert(7, {"fields": ["煤矿智能化"], "bio": "煤矿井下5G通信网络与智能综采工作面"})
    ids, _ = index.query("煤矿井下5G通信网络", k=3)
    assert 7 in ids.tolist()
    assert index.vectorizer_.vocabulary_ == vocab_before


def test_upsert_ranks_like_a_refit_for_in_vocabulary_text() -> None:
    index = _index()
    new = {"fields": ["手术机器人"], "bio": "手术机器人力反馈控制"}
    index.upsert(7, new)
    query = "手术机器人力反馈"
    refit = _index()
    refit_ids = sorted(PROFILES) + [7]
    refit.fit(refit_ids, [PROFILES.get(i, new) for i in refit_ids])
    assert index.query(query, k=4)[0].tolist() == refit.query(query, k=4)[0].tolist()


def test_upsert_replaces_an_existing_document() -> None:
    index = _index()
    index.upsert(1, {"bio": "Battery management"})
    ids, _ = index.query("煤矿井下通信", k=5)
    assert 1 not in ids.tolist()
    assert 1 in index.query("battery management", k=5)[0].tolist()
    assert len(index) == len(PROFILES)


def test_remove_drops_a_document_at_once() -> None:
    index = _index()
    assert index.remove(2)
    ids, _ = index.query("手术机器人", k=5)
    assert 2 not in ids.tolist()
    assert not index.remove(2)
    assert 2 not in index


def test_ties_are_broken_by_id() -> None:
    same = {"bio": "煤矿安全监测"}
    index = TextIndex(vectorizer=TextVectorizer()).fit([9, 3, 5], [same, same, same])
    ids, scores = index.query("煤矿安全", k=3)
    assert ids.tolist() == [3, 5, 9]
    assert scores[0] == scores[1] == scores[2]


def test_top_k_order_breaks_ties_by_id_and_keeps_k() -> None:
    scores = np.array([0.5, 0.9, 0.5, 0.9, 0.1])
    ids = np.array([7, 4, 2, 3, 1])
    assert ids[top_k_order(scores, ids, 3)].tolist() == [3, 4, 2]


def test_compaction_keeps_results_and_drops_tombstones() -> None:
    index = _index(min_delta=2, compact_ratio=0.0)
    for i in range(10, 16):
        index.upsert(i, {"bio": f"煤矿安全监测 第{i}号"})
    index.remove(3)
    assert index.generation_ >= 1
    fresh = TextIndex(vectorizer=index.vectorizer_, prefit=True)
    live = sorted(index.ids())
    docs = {**PROFILES, **{i: {"bio": f"煤矿安全监测 第{i}号"} for i in range(10, 16)}}
    fresh.fit(live, [docs[i] for i in live])
    q = index.encode_query("煤矿安全监测")
    a_ids, a_scores = index.top_k(q, 10)
    b_ids, b_scores = fresh.top_k(q, 10)
    assert a_ids.tolist() == b_ids.tolist()
    assert np.allclose(a_scores, b_scores, atol=1e-6)


def test_best_part_scores_the_best_sentence() -> None:
    docs = [{"bio": "煤矿井下通信网络。手术机器人。石油化工。集成电路。"}, {"bio": "煤矿井下通信网络与手术机器人"}]
    index = TextIndex(vectorizer=TextVectorizer(analyzer="words"), aggregation="best_part").fit([1, 2], docs)
    ids, scores = index.query("煤矿井下通信网络", k=2)
    assert ids[0] == 1
    assert scores[0] == pytest.approx(1.0, abs=1e-5)


def test_drift_and_oov_are_tracked() -> None:
    index = _index()
    assert not index.needs_refit()
    index.upsert(20, {"bio": "石墨烯 量子点 钙钛矿 新词汇"})
    assert index.drift_ == pytest.approx(1 / len(PROFILES))
    assert index.oov_rate_ > 0.5
    assert index.needs_refit()
    index.refit()
    assert index.drift_ == 0
    assert all(t in index.vectorizer_.vocabulary_ for t in index.vectorizer_.tokens("石墨烯 钙钛矿"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(
        st.lists(st.sampled_from(["煤矿", "通信", "机器人", "芯片", "电池", "robot", "battery", "5G"]), max_size=6),
        min_size=1,
        max_size=12,
    ),
    queries=st.lists(
        st.lists(st.sampled_from(["煤矿", "通信", "机器人", "芯片", "robot", "电池"]), min_size=1, max_size=4),
        min_size=1,
        max_size=6,
    ),
    chunk=st.integers(1, 4),
)
def test_batch_top_k_equals_single_queries(docs: list[list[str]], queries: list[list[str]], chunk: int) -> None:
    index = TextIndex(vectorizer=TextVectorizer(analyzer="words"), min_delta=1).fit(
        list(range(len(docs))), [{"bio": " ".join(d)} for d in docs]
    )
    index.upsert(100, {"bio": "煤矿 通信"})
    Q = sp.vstack([index.encode_query(" ".join(q)) for q in queries], format="csr")
    ids, scores = index.top_k_batch(Q, k=3, chunk_size=chunk)
    for i in range(Q.shape[0]):
        s_ids, s_scores = index.top_k(Q[i], 3)
        assert ids[i, : s_ids.size].tolist() == s_ids.tolist()
        assert np.array_equal(scores[i, : s_ids.size], s_scores)
        assert (ids[i, s_ids.size :] == -1).all()
