"""Relevance on public evaluation sets, the default pipeline beside plain baselines in the same run.

Usage::

    python -m matching.benchmark fixtures/eval/csl.json fixtures/eval/gold.json [--split test] [--variants]

(also ``expertmatch evaluate FILE ...``). A set is the JSON written by ``fixtures/eval/build.py``:
records with the SPEC's field names, and either ``"grading": "label"`` (every record has a ``label`` and a
``group``; a demand's grade for a profile is 2 for the same label, 1 for the same group only, else 0, and each
demand is ranked against every profile) or ``"grading": "judgements"`` (graded pairs, e.g. self-reported
expertise 1-5). Records and judgements carry a ``split`` (``tune`` or ``test``); defaults were chosen on
``tune`` and are reported on ``test``.

Metrics: label sets — nDCG@10 (gain ``2**grade - 1``) over the whole ranking of profiles, MRR of the first
same-label profile, P@10 of same-label profiles; judgement sets — the pairwise ordering loss of Stelmakh et al.
(for each profile, pairs of its judged demands with different grades ordered wrongly, weighted by the grade
difference, ties half; averaged over profiles; lower is better).

Systems: ``default`` (a :class:`~matching.matcher.Matcher` with library defaults, ranked by text relevance —
lexical cosine blended with the latent channel of :mod:`matching.latent`: the sets have no places, loads or
ratings), its representation variants, and three baselines over the
concatenated texts of each side — scikit-learn ``TfidfVectorizer(analyzer="char", ngram_range=(1, 2),
sublinear_tf=True)``, ``TfidfVectorizer(stop_words="english", sublinear_tf=True)`` on jieba-segmented text,
and BM25 (``bm25s``, k1 1.5, b 0.75) on the same word tokens.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matching.evaluate import demand_from_record, expert_from_record, pairwise_loss
from matching.matcher import Matcher
from matching.records import DemandProfile, ExpertProfile


@dataclass(frozen=True, slots=True)
class Benchmark:
    """A public evaluation set: records, their labels or graded pairs, and the tune/test split."""

    name: str
    grading: str
    experts: list[ExpertProfile]
    demands: list[DemandProfile]
    expert_label: list[str]
    expert_group: list[str]
    demand_label: list[str]
    demand_group: list[str]
    demand_split: list[str]
    judgements: list[tuple[int, int, float, str]]  # demand index, expert index, grade, split


def load_benchmark(path: str | Path) -> Benchmark:
    """Read a set written by fixtures/eval/build.py."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    ent = iter(range(1, 10**9))
    experts = [expert_from_record(r, i + 1, lambda _: next(ent)) for i, r in enumerate(data["experts"])]
    demands = [demand_from_record(r, i + 1, lambda _: next(ent), {}) for i, r in enumerate(data["demands"])]
    e_pos = {str(r["external_id"]): i for i, r in enumerate(data["experts"])}
    d_pos = {str(r["external_id"]): i for i, r in enumerate(data["demands"])}
    e_split = [str(r.get("split", "test")) for r in data["experts"]]
    judgements = [
        (d_pos[str(j["demand"])], e_pos[str(j["expert"])], float(j["grade"]), e_split[e_pos[str(j["expert"])]])
        for j in data.get("judgements", [])
    ]
    return Benchmark(
        name=Path(path).stem,
        grading=str(data.get("grading", "judgements")),
        experts=experts,
        demands=demands,
        expert_label=[str(r.get("label", "")) for r in data["experts"]],
        expert_group=[str(r.get("group", "")) for r in data["experts"]],
        demand_label=[str(r.get("label", "")) for r in data["demands"]],
        demand_group=[str(r.get("group", "")) for r in data["demands"]],
        demand_split=[str(r.get("split", "test")) for r in data["demands"]],
        judgements=judgements,
    )


def expert_text(p: ExpertProfile) -> str:
    """All text of a profile, for the baselines."""
    return "\n".join([*p.fields, *p.keywords, p.title, p.bio, p.achievements])


def demand_text(d: DemandProfile) -> str:
    """All text of a demand, for the baselines."""
    return "\n".join([d.title, *d.keywords, d.industry, d.description])


# ------------------------------------------------------------------------ systems
Scorer = Callable[[Benchmark], np.ndarray]
"""A system: the (demands × profiles) relevance matrix of a set."""


def matcher_scores(params: Mapping | None = None) -> Scorer:
    """The matcher's text relevance for every pair (0 where it finds nothing in common)."""

    def run(b: Benchmark) -> np.ndarray:
        m = Matcher(**dict(params or {})).fit(b.experts, b.demands)
        col = {p.id: j for j, p in enumerate(b.experts)}
        S = np.zeros((len(b.demands), len(b.experts)))
        for i, d in enumerate(b.demands):
            items, _ = m.suggest_experts(d.id, limit=len(b.experts), include_excluded=True, explain=False)
            for s in items:
                S[i, col[s.expert_id]] = s.components["text"]
        return S

    return run


def _segmented(texts: Sequence[str]) -> list[str]:
    """Texts with Chinese runs cut into jieba words (separated by spaces); Latin text is left as is."""
    import jieba

    return [" ".join(jieba.cut(t)) for t in texts]


def tfidf_scores(kind: str) -> Scorer:
    """Cosine of plain scikit-learn TF-IDF vectors fitted on both sides: ``char12`` or ``word``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    def run(b: Benchmark) -> np.ndarray:
        e = [expert_text(p) for p in b.experts]
        d = [demand_text(x) for x in b.demands]
        if kind == "char12":
            vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
        else:
            vec = TfidfVectorizer(stop_words="english", sublinear_tf=True)
            e, d = _segmented(e), _segmented(d)
        X = vec.fit_transform(e + d)
        return (X[len(e) :] @ X[: len(e)].T).toarray()

    return run


def bm25_scores(b: Benchmark) -> np.ndarray:
    """BM25 (bm25s, k1 1.5, b 0.75) of each demand against the profiles, on jieba/English word tokens."""
    import bm25s
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    analyse = TfidfVectorizer(stop_words="english").build_analyzer()
    e = [
        [t for t in analyse(x) if t not in ENGLISH_STOP_WORDS] for x in _segmented([expert_text(p) for p in b.experts])
    ]
    d = [analyse(x) for x in _segmented([demand_text(x) for x in b.demands])]
    vocab: dict[str, int] = {}
    for doc in e:
        for t in doc:
            vocab.setdefault(t, len(vocab))
    retriever = bm25s.BM25(k1=1.5, b=0.75)
    retriever.index(bm25s.tokenization.Tokenized(ids=[[vocab[t] for t in doc] for doc in e], vocab=vocab))
    S = np.zeros((len(d), len(e)))
    for i, q in enumerate(d):
        ids = [vocab[t] for t in q if t in vocab]
        if ids:
            S[i] = retriever.get_scores(ids)
    return S


BASELINES: dict[str, Scorer] = {
    "baseline: char 1-2 tfidf": tfidf_scores("char12"),
    "baseline: word tfidf": tfidf_scores("word"),
    "baseline: bm25": bm25_scores,
}


# ------------------------------------------------------------------------ metrics
def _dcg(gains: np.ndarray, k: int) -> float:
    """DCG of the first k gains."""
    g = gains[:k]
    return float(((2.0**g - 1.0) / np.log2(np.arange(2, g.size + 2))).sum())


def metrics(b: Benchmark, S: np.ndarray, split: str | None = "test", k: int = 10) -> dict[str, float]:
    """Metrics of a relevance matrix on one split (None: all)."""
    return _metrics(b, S, split, k)[0]


def _metrics(b: Benchmark, S: np.ndarray, split: str | None, k: int) -> tuple[dict[str, float], np.ndarray]:
    """Metrics and the headline metric per query (nDCG@k per demand, or the loss per profile), in a query order
    that depends on the set and split only, so two systems' arrays pair up."""
    if b.grading == "label":
        el, eg = np.array(b.expert_label), np.array(b.expert_group)
        ndcg, rr, prec = [], [], []
        for i in range(len(b.demands)):
            if split and b.demand_split[i] != split:
                continue
            grade = np.where(el == b.demand_label[i], 2.0, np.where(eg == b.demand_group[i], 1.0, 0.0))
            order = np.lexsort((np.arange(el.size), -S[i]))
            ranked = grade[order]
            ideal = _dcg(np.sort(grade)[::-1], k)
            if ideal > 0:
                ndcg.append(_dcg(ranked, k) / ideal)
            hits = np.flatnonzero(ranked == 2.0)
            if hits.size:
                rr.append(1.0 / (hits[0] + 1))
                prec.append(float((ranked[:k] == 2.0).mean()))
        summary = {
            f"nDCG@{k}": float(np.mean(ndcg)),
            "MRR": float(np.mean(rr)),
            f"P@{k}": float(np.mean(prec)),
            "queries": float(len(ndcg)),
        }
        return summary, np.asarray(ndcg)
    by_expert: dict[int, list[tuple[float, float]]] = {}
    for d, e, g, sp in b.judgements:
        if split and sp != split:
            continue
        by_expert.setdefault(e, []).append((float(S[d, e]), g))
    losses = [
        loss
        for pairs in by_expert.values()
        if (loss := pairwise_loss([s for s, _ in pairs], [g for _, g in pairs])) is not None  # type: ignore[list-item]
    ]
    n = sum(len(v) for v in by_expert.values())
    summary = {"pairwise_loss": float(np.mean(losses)), "queries": float(len(losses)), "pairs": float(n)}
    return summary, np.asarray(losses)


def paired_margin(ours: np.ndarray, theirs: np.ndarray, lower_is_better: bool = False, *, resamples: int = 10000,
                  seed: int = 0) -> dict[str, float]:  # fmt: skip
    """How much better ``ours`` is than ``theirs`` (positive: better), the mean of per-query differences, with a
    95 % paired bootstrap interval (queries resampled with replacement, seeded) and the share of resamples in
    which ours is not better. An interval above 0 means the margin is not noise of the query sample."""
    diff = (theirs - ours) if lower_is_better else (ours - theirs)
    idx = np.random.default_rng(seed).integers(0, diff.size, size=(resamples, diff.size))
    means = diff[idx].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"margin": float(diff.mean()), "ci95_low": float(lo), "ci95_high": float(hi),
            "p_not_better": float((means <= 0).mean())}  # fmt: skip


def run(
    paths: Sequence[str | Path], split: str | None = "test", variants: Mapping[str, Mapping] | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """Metrics of the default pipeline, its variants and the baselines on each set."""
    return run_with_margins(paths, split, variants)[0]


def run_with_margins(
    paths: Sequence[str | Path], split: str | None = "test", variants: Mapping[str, Mapping] | None = None
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, dict[str, dict[str, float]]]]:
    """Metrics of every system on each set, and the default's paired margin over each baseline."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    margins: dict[str, dict[str, dict[str, float]]] = {}
    for path in paths:
        b = load_benchmark(path)
        systems: dict[str, Scorer] = {"default": matcher_scores()}
        for name, params in (variants or {}).items():
            systems[f"variant: {name}"] = matcher_scores(params)
        systems |= BASELINES
        if importlib.util.find_spec("bm25s") is None:
            print("bm25s is not installed (pip install -e '.[bench]'): the BM25 baseline is left out", file=sys.stderr)
            systems.pop("baseline: bm25")
        per_query: dict[str, np.ndarray] = {}
        out[b.name] = {}
        for name, fn in systems.items():
            out[b.name][name], per_query[name] = _metrics(b, fn(b), split, 10)
        margins[b.name] = {
            name: paired_margin(per_query["default"], per_query[name], lower_is_better=b.grading != "label")
            for name in systems
            if name.startswith("baseline:")
        }
    return out, margins


def format_results(
    results: Mapping[str, Mapping[str, Mapping[str, float]]],
    margins: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None,
) -> str:
    """One table per set (and the default's margins over the baselines, when given)."""
    lines: list[str] = []
    for set_name, rows in results.items():
        cols = [c for c in next(iter(rows.values())) if c not in ("queries", "pairs")]
        width = max(len(n) for n in rows)
        first = next(iter(rows.values()))
        size = f"{int(first['queries'])} queries" + (f", {int(first['pairs'])} pairs" if "pairs" in first else "")
        lines.append(f"{set_name} ({size})")
        lines.append(f"  {'system':<{width}}  " + "  ".join(f"{c:>13}" for c in cols))
        for name, m in rows.items():
            lines.append(f"  {name:<{width}}  " + "  ".join(f"{m[c]:>13.4f}" for c in cols))
        for name, mg in ((margins or {}).get(set_name) or {}).items():
            lines.append(
                f"  default vs {name.removeprefix('baseline: ')}: better by {mg['margin']:+.4f} {cols[0]} "
                f"(95 % paired bootstrap {mg['ci95_low']:+.4f} .. {mg['ci95_high']:+.4f}, "
                f"not better in {mg['p_not_better']:.1%} of resamples)"
            )
        lines.append("")
    return "\n".join(lines)


_DOUBLED = (
    {"fields": 2.0, "keywords": 2.0, "title": 0.5, "bio": 1.0, "achievements": 1.0},
    {"title": 2.0, "keywords": 2.0, "industry": 1.0, "description": 1.0},
)
VARIANTS: dict[str, dict] = {
    "lexical only (latent channel off)": {"latent_rank": 0},
    "latent weight 0.2": {"latent_weight": 0.2},
    "latent rank 100": {"latent_rank": 100},
    "latent channel on English too (0.3)": {"latent_weight_latin": 0.3},
    "latent + char unigrams": {"char_unigrams": True},
    "previous default": {
        "char_weight": 0.5,
        "char_unigrams": False,
        "stem": True,
        "sublinear_tf": True,
        "expert_field_weights": _DOUBLED[0],
        "demand_field_weights": _DOUBLED[1],
    },
    "char unigrams (df <= 20 %)": {"char_unigrams": True},
    "per-field saturation": {"sublinear_tf": True},
    "keywords and titles x2": {"expert_field_weights": _DOUBLED[0], "demand_field_weights": _DOUBLED[1]},
    "English stemming": {"stem": True},
    "keep boilerplate": {"keep_boilerplate": True},
    "all char unigrams": {"char_unigrams": True, "unigram_max_df": 1.0},
    "char_weight 0.5": {"char_weight": 0.5},
    "bilingual concepts": {"bilingual": True},
    "bilingual, concept weight 0.2": {"bilingual": True, "cross_weight": 0.2, "cross_weight_latin": 0.2},
}
"""Representation variants measured beside the default (see the README for their figures)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m matching.benchmark", description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", help="evaluation sets (fixtures/eval/*.json)")
    ap.add_argument("--split", default="test", choices=["tune", "test", "all"], help="split to report (test)")
    ap.add_argument("--variants", action="store_true", help="also measure the representation variants")
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = ap.parse_args(argv)
    split = None if args.split == "all" else args.split
    results, margins = run_with_margins(args.sets, split, VARIANTS if args.variants else None)
    if args.json:
        print(json.dumps(results | {"margins over the baselines": margins}, indent=2))
    else:
        print(format_results(results, margins))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _has_chinese(text: str) -> bool:
    """Whether a text contains Chinese characters."""
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def cross_language_hits(path: str | Path, params: Mapping | None = None, k: int = 3) -> dict[str, float]:
    """Share of demands whose best-judged specialist in the other language ranks in the top k among the
    profiles in that language (labelled set: ``fixtures/labelled/judgements.json``), by text relevance."""
    from matching.evaluate import load_dataset

    data = load_dataset(path)
    m = Matcher(**dict(params or {})).fit(data.experts, data.demands)
    # the language of the free text (an English demand may still name a Chinese industry)
    zh_expert = {p.id: _has_chinese(p.bio + p.achievements) for p in data.experts}
    zh_demand = {d.id: _has_chinese(d.title + d.description) for d in data.demands}
    best: dict[int, tuple[int, int]] = {}
    for d, e, g in data.judgements:
        if g >= 2 and zh_demand[d] != zh_expert[e] and (d not in best or g > best[d][1]):
            best[d] = (e, g)
    hits = {True: [], False: []}
    for d, (e, _) in sorted(best.items()):
        pool = [p.id for p in data.experts if zh_expert[p.id] != zh_demand[d]]
        items, _ = m.suggest_experts(d, limit=len(data.experts), include_excluded=True, explain=False)
        text = {s.expert_id: s.components["text"] for s in items}
        ranked = sorted(pool, key=lambda x: (-text.get(x, 0.0), x))
        hits[zh_demand[d]].append(ranked.index(e) < k and text.get(e, 0.0) > 0)
    both = hits[True] + hits[False]
    return {
        f"hit@{k}": float(np.mean(both)) if both else 0.0,
        "zh->en": float(np.mean(hits[True])) if hits[True] else 0.0,
        "en->zh": float(np.mean(hits[False])) if hits[False] else 0.0,
        "demands": float(len(both)),
    }
