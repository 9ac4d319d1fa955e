"""Evaluation: metrics against hand computations, dataset loading, and the command line on a small file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from matching.evaluate import (
    VARIANTS,
    Dataset,
    dcg_at_k,
    load_dataset,
    main,
    matcher_scorer,
    ndcg_at_k,
    pairwise_loss,
    precision_at_k,
    rank_metrics,
    reciprocal_rank,
)
from matching.matcher import Matcher
from matching.records import DemandProfile, ExpertProfile


def test_precision_at_k_counts_relevant_among_the_first_k() -> None:
    assert precision_at_k([3, 0, 2, 1, 0], 3) == pytest.approx(2 / 3)
    assert precision_at_k([3, 1], 5) == pytest.approx(1 / 2)  # fewer judged than k: divide by what there is
    assert precision_at_k([1, 1], 2, relevant=1) == 1.0
    assert precision_at_k([], 5) == 0.0


def test_ndcg_of_a_known_ranking() -> None:
    grades = [2, 3, 0, 1]
    dcg = 3 / math.log2(2) + 7 / math.log2(3) + 0 + 1 / math.log2(5)
    ideal = 7 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4) + 0
    assert dcg_at_k(grades, 4) == pytest.approx(dcg)
    assert ndcg_at_k(grades, 4) == pytest.approx(dcg / ideal)
    assert ndcg_at_k([3, 2, 1, 0], 4) == pytest.approx(1.0)
    assert ndcg_at_k([0, 0], 2) == 0.0
    # cut-off: only the first two count, against the ideal first two
    assert ndcg_at_k(grades, 2) == pytest.approx((3 + 7 / math.log2(3)) / (7 + 3 / math.log2(3)))


def test_reciprocal_rank_of_the_first_relevant() -> None:
    assert reciprocal_rank([0, 1, 2, 3]) == pytest.approx(1 / 3)
    assert reciprocal_rank([0, 1]) == 0.0
    assert reciprocal_rank([3]) == 1.0


def test_pairwise_loss_weights_by_grade_difference_and_halves_ties() -> None:
    # grades 3, 1, 0 with scores ordering 1 above 3: pairs (3,1) wrong w=2, (3,0) right w=3, (1,0) right w=1
    assert pairwise_loss([0.5, 0.9, 0.1], [3, 1, 0]) == pytest.approx(2 / 6)
    assert pairwise_loss([0.5, 0.5], [2, 0]) == pytest.approx(0.5)
    assert pairwise_loss([0.9, 0.1], [3, 0]) == 0.0
    assert pairwise_loss([0.9, 0.1], [2, 2]) is None


def test_rank_metrics_over_a_tiny_dataset() -> None:
    experts = [ExpertProfile(id=i) for i in (1, 2, 3)]
    demands = [DemandProfile(id=i, enterprise_id=1, title="t") for i in (10, 11)]
    judgements = [(10, 1, 3), (10, 2, 0), (10, 3, 2), (11, 1, 0), (11, 2, 2)]
    scores = {(10, 1): 0.2, (10, 2): 0.9, (10, 3): 0.5, (11, 1): 0.1, (11, 2): 0.7}

    def score(d: int, es: list[int]) -> np.ndarray:
        return np.array([scores[(d, e)] for e in es])

    m = rank_metrics(Dataset(experts, demands, judgements), score, k=2)
    # demand 10 ranks 2 (0), 3 (2), 1 (3); demand 11 ranks 2 (2), 1 (0)
    assert m["P@2"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert m["MRR"] == pytest.approx((1 / 2 + 1) / 2)
    ndcg10 = (3 / math.log2(3)) / (7 + 3 / math.log2(3))
    assert m["nDCG@2"] == pytest.approx((ndcg10 + 1.0) / 2)
    # expert 1: demands 10 (3, 0.2) and 11 (0, 0.1): right; expert 2: 10 (0, 0.9) vs 11 (2, 0.7): wrong
    assert m["pairwise_loss"] == pytest.approx(0.5)


def _dataset_file(tmp_path: Path) -> Path:
    experts = [
        {"external_id": "E1", "name": "甲", "region": "大连", "origin": "省内", "fields": "煤矿智能化、5G通信",
         "keywords": ["井下通信"], "bio": "煤矿井下5G通信网络研究。"},
        {"external_id": "E2", "name": "乙", "region": "沈阳", "origin": "in_province", "fields": ["手术机器人"],
         "keywords": ["力反馈"], "bio": "微创手术机器人。"},
        {"external_id": "E3", "name": "丙", "region": "Harbin", "origin": "foreign", "fields": ["robotics"],
         "keywords": ["surgical robots"], "bio": "Surgical robots with haptic feedback.", "conflicts": ["ENT-2"]},
    ]  # fmt: skip
    demands = [
        {"external_id": "D1", "enterprise": "ENT-1", "title": "井下5G通信", "description": "煤矿井下通信网络覆盖",
         "keywords": "5G，井下通信", "industry": "煤矿智能化"},
        {"external_id": "D2", "enterprise": "ENT-2", "title": "手术机器人力反馈",
         "description": "surgical robot haptic feedback", "industry": "医疗器械", "on_site": "true"},
    ]  # fmt: skip
    judgements = [
        {"demand": "D1", "expert": "E1", "grade": 3},
        {"demand": "D1", "expert": "E2", "grade": 0},
        {"demand": "D2", "expert": "E2", "grade": 3},
        {"demand": "D2", "expert": "E3", "grade": 2},
        {"demand": "D2", "expert": "E1", "grade": 0},
    ]
    enterprises = [{"external_id": "ENT-1", "region": "大连"}, {"external_id": "ENT-2", "region": "沈阳"}]
    path = tmp_path / "judgements.json"
    data = {"experts": experts, "demands": demands, "judgements": judgements, "enterprises": enterprises}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_load_dataset_reads_spec_records(tmp_path: Path) -> None:
    ds = load_dataset(_dataset_file(tmp_path))
    e1, _, e3 = ds.experts
    assert e1.fields == ("煤矿智能化", "5G通信") and e1.origin == "in_province"
    assert e3.origin == "foreign"
    d1, d2 = ds.demands
    assert d1.keywords == ("5G", "井下通信") and d1.region == "大连"
    assert d2.on_site and d2.enterprise_id in e3.conflicts
    assert (1, 1, 3) in ds.judgements


def test_unknown_ids_in_judgements_are_refused() -> None:
    with pytest.raises(ValueError):
        load_dataset({"experts": [], "demands": [], "judgements": [{"demand": "x", "expert": "y", "grade": 1}]})


def test_command_line_prints_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(_dataset_file(tmp_path)), "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert "nDCG@2" in out and "pairwise_loss" in out and out.splitlines()[1].startswith("blend")
    assert main([str(_dataset_file(tmp_path)), "--json", "--text-only"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["blend"]["MRR"] == pytest.approx(1.0)


def test_all_variants_print_one_row_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(_dataset_file(tmp_path)), "--all-variants"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + len(VARIANTS)
    assert {line.split()[0] for line in lines[1:]} == set(VARIANTS)


def test_ignoring_rules_keeps_an_excluded_pairs_score_in_the_ranking(tmp_path: Path) -> None:
    ds = load_dataset(_dataset_file(tmp_path))
    matcher = Matcher().fit(ds.experts, ds.demands)
    d2, e3 = ds.demands[1].id, ds.experts[2].id  # E3 declares a conflict with D2's enterprise
    strict = matcher_scorer(matcher)(d2, [e3])
    lenient = matcher_scorer(matcher, ignore_rules=True)(d2, [e3])
    assert strict[0] == -1.0 and 0 < lenient[0] <= 1
