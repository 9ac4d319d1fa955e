"""Public evaluation sets: loading, metrics against hand computations, and the command on a tiny set."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from matching.benchmark import Benchmark, load_benchmark, metrics
from matching.evaluate import main as evaluate_main

EVAL = Path(__file__).resolve().parents[2] / "fixtures" / "eval"


def _tiny(tmp_path: Path) -> Path:
    data = {
        "grading": "label",
        "experts": [
            {
                "external_id": "e1",
                "keywords": ["煤矿", "瓦斯"],
                "achievements": [{"title": "瓦斯抽采", "abstract": "煤矿瓦斯抽采参数优化。"}],
                "label": "mining",
                "group": "eng",
            },
            {
                "external_id": "e2",
                "keywords": ["抛光"],
                "achievements": ["化学机械抛光划痕缺陷。"],
                "label": "semi",
                "group": "eng",
            },
            {
                "external_id": "e3",
                "keywords": ["高血压"],
                "achievements": "抗高血压药物应用分析。",
                "label": "pharma",
                "group": "med",
            },
        ],
        "demands": [
            {
                "external_id": "d1",
                "title": "瓦斯抽采优化",
                "description": "煤矿瓦斯抽采",
                "label": "mining",
                "group": "eng",
                "split": "test",
            },
            {
                "external_id": "d2",
                "title": "抛光划痕",
                "description": "晶圆抛光划痕",
                "label": "semi",
                "group": "eng",
                "split": "tune",
            },
        ],
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_label_metrics_match_a_hand_computation(tmp_path: Path) -> None:
    b = load_benchmark(_tiny(tmp_path))
    # d1 (mining/eng): e1 grade 2, e2 grade 1 (same group), e3 grade 0
    S = np.array([[0.1, 0.5, 0.0], [0.0, 0.9, 0.0]])
    m = metrics(b, S, "test", k=10)
    dcg = (2**1 - 1) / math.log2(2) + (2**2 - 1) / math.log2(3)
    ideal = (2**2 - 1) / math.log2(2) + (2**1 - 1) / math.log2(3)
    assert m["nDCG@10"] == pytest.approx(dcg / ideal)
    assert m["MRR"] == pytest.approx(0.5)
    assert m["queries"] == 1


def test_achievement_items_become_paragraphs_of_the_profile(tmp_path: Path) -> None:
    b = load_benchmark(_tiny(tmp_path))
    assert b.experts[0].achievements == "瓦斯抽采\n煤矿瓦斯抽采参数优化。"
    assert b.experts[1].achievements == "化学机械抛光划痕缺陷。"


def test_judgement_metric_is_the_pairwise_ordering_loss() -> None:
    b = Benchmark(
        "x", "judgements", [], [], [], [], [], [], [], [(0, 0, 5.0, "test"), (1, 0, 1.0, "test"), (2, 0, 3.0, "tune")]
    )
    right = np.array([[0.9], [0.1], [0.0]])
    wrong = np.array([[0.1], [0.9], [0.0]])
    assert metrics(b, right, "test")["pairwise_loss"] == 0.0
    assert metrics(b, wrong, "test")["pairwise_loss"] == 1.0


def test_the_committed_sets_are_real_sized_and_split() -> None:
    csl = load_benchmark(EVAL / "csl.json")
    assert len(csl.experts) >= 200 and len(csl.demands) >= 400
    assert {"tune", "test"} == set(csl.demand_split)
    assert len(set(csl.expert_label)) >= 40
    gold = load_benchmark(EVAL / "gold.json")
    assert len(gold.experts) >= 50 and len(gold.judgements) >= 400
    tune = {e for _, e, _, sp in gold.judgements if sp == "tune"}
    test = {e for _, e, _, sp in gold.judgements if sp == "test"}
    assert tune and test and not tune & test


def test_evaluate_prints_the_default_beside_the_baselines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate_main([str(_tiny(tmp_path)), "--split", "all"]) == 0
    out = capsys.readouterr().out
    for name in ("default", "baseline: char 1-2 tfidf", "baseline: word tfidf", "baseline: bm25"):
        assert name in out
    assert "nDCG@10" in out


def test_paired_margin_says_which_system_is_better_and_how_surely() -> None:
    from matching.benchmark import paired_margin

    ours, theirs = np.array([0.6, 0.7, 0.8, 0.9]), np.array([0.5, 0.6, 0.7, 0.8])
    m = paired_margin(ours, theirs)
    assert m["margin"] == pytest.approx(0.1)
    assert m["ci95_low"] == pytest.approx(0.1) and m["ci95_high"] == pytest.approx(0.1)
    assert m["p_not_better"] == 0.0
    # a loss: lower is better, so the same arrays make ours worse
    worse = paired_margin(ours, theirs, lower_is_better=True)
    assert worse["margin"] == pytest.approx(-0.1) and worse["p_not_better"] == 1.0
    # mixed differences: the interval straddles 0
    noisy = paired_margin(np.array([0.9, 0.1, 0.8, 0.2]), np.array([0.1, 0.9, 0.2, 0.8]))
    assert noisy["ci95_low"] < 0 < noisy["ci95_high"]


def test_evaluate_prints_the_margin_over_each_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate_main([str(_tiny(tmp_path)), "--split", "all"]) == 0
    out = capsys.readouterr().out
    for name in ("char 1-2 tfidf", "word tfidf", "bm25"):
        assert f"default vs {name}: better by" in out
    assert "95 % paired bootstrap" in out
