"""Offline evaluation of the matcher on graded judgements.

Usage::

    python -m matching.evaluate DATA.json [--k 5] [--variant blend] [--all-variants] [--text-only]

``DATA.json`` holds ``{"experts": [...], "demands": [...], "judgements": [{"demand": id, "expert": id,
"grade": 0..3}]}`` (optionally ``"enterprises": [...]`` too). Records use the SPEC's field names; ids in the
judgements are the records' ``external_id`` strings. Enterprises are referred to by ``enterprise_id``,
``enterprise`` or ``enterprise_external_id`` (any string or number); ``conflicts`` lists such references.

Each demand's *judged* specialists are ranked by the matcher (suggested pairs by score, then those it would
not suggest — excluded or without text relevance — ordered by id) and scored with:

* precision@k — share of relevant (grade >= ``--relevant``, default 2) among the first ``min(k, judged)``;
* nDCG@k — gain ``2**grade - 1``, discount ``log2(rank + 1)``, normalised by the ideal order of the judged;
* MRR — reciprocal rank of the first relevant specialist;
* pairwise ordering loss — for each specialist, over pairs of their judged demands with different grades, the
  share ordered wrongly by score, weighted by the grade difference, ties counting half; averaged over
  specialists (lower is better).

Precision and MRR average over demands with at least one relevant judgement, nDCG over demands with at least
one positive grade. ``--text-only`` ranks by text relevance alone (no constraints or soft factors), which
isolates the text representation. ``--all-variants`` prints one row per representation variant.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matching.matcher import Matcher
from matching.records import DemandProfile, ExpertProfile

ScoreFn = Callable[[int, Sequence[int]], np.ndarray]
"""Scores of some specialists for a demand; negative means "not suggested"."""

_SPLIT = re.compile(r"[、，,；;\n]+")
_ORIGINS = {"省内": "in_province", "省外": "out_of_province", "境外": "foreign"}
_INSTITUTIONS = {
    "高校": "university",
    "科研院所": "research_institute",
    "服务机构": "service_agency",
    "企业": "enterprise",
}

FLAT_EXPERT = {"fields": 1.0, "keywords": 1.0, "title": 1.0, "bio": 1.0, "achievements": 1.0}
FLAT_DEMAND = {"title": 1.0, "keywords": 1.0, "industry": 1.0, "description": 1.0}


def _variants() -> dict[str, dict]:
    """Representation variants: analyzer × field weights × aggregation."""
    out: dict[str, dict] = {}
    for analyzer in ("blend", "words", "char2"):
        for flat in (False, True):
            for agg in ("document", "best_part"):
                name = analyzer + ("-flat" if flat else "") + ("-best_part" if agg == "best_part" else "")
                params: dict = {"analyzer": analyzer, "aggregation": agg}
                if flat:
                    params |= {"expert_field_weights": FLAT_EXPERT, "demand_field_weights": FLAT_DEMAND}
                out[name] = params
    return out


VARIANTS = _variants()


@dataclass(frozen=True, slots=True)
class Dataset:
    """Records and graded judgements, with the records' integer ids."""

    experts: list[ExpertProfile]
    demands: list[DemandProfile]
    judgements: list[tuple[int, int, int]]


def _list(value: object) -> tuple[str, ...]:
    """A list field from a JSON array or a delimited string."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in _SPLIT.split(value) if v.strip())
    return tuple(str(v).strip() for v in value if str(v).strip())  # type: ignore[union-attr]


def _bool(value: object, default: bool) -> bool:
    """A boolean from JSON (accepts common strings)."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "是")
    return bool(value)


def _achievements(value: object) -> str:
    """Achievements as text: a string as is, a list of items (strings or {title, abstract, year}) one per paragraph."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    items = []
    for item in value:  # type: ignore[union-attr]
        if isinstance(item, Mapping):
            head = " ".join(str(item[k]) for k in ("title", "year") if item.get(k))
            items.append("\n".join(t for t in (head, str(item.get("abstract") or "")) if t))
        elif item:
            items.append(str(item))
    return "\n\n".join(items)


class _Interner:
    """Stable integer ids for string references (enterprises)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, ref: object) -> int:
        return self.ids.setdefault(str(ref), len(self.ids) + 1)


def expert_from_record(rec: Mapping, id: int, enterprises: Callable[[object], int]) -> ExpertProfile:
    """An ExpertProfile from a SPEC-shaped specialist record."""
    origin = str(rec.get("origin") or "in_province")
    itype = str(rec.get("institution_type") or "other")
    rating = rec.get("mean_rating")
    return ExpertProfile(
        id=id,
        name=str(rec.get("name") or ""),
        title=str(rec.get("title") or ""),
        institution=str(rec.get("institution") or ""),
        institution_type=_INSTITUTIONS.get(itype, itype),  # type: ignore[arg-type]
        origin=_ORIGINS.get(origin, origin),  # type: ignore[arg-type]
        region=str(rec.get("region") or ""),
        fields=_list(rec.get("fields")),
        keywords=_list(rec.get("keywords")),
        bio=str(rec.get("bio") or ""),
        achievements=_achievements(rec.get("achievements")),
        capacity=int(rec.get("capacity") or 2),
        load=int(rec.get("load") or 0),
        travels=_bool(rec.get("travels"), True),
        active=_bool(rec.get("active"), True),
        conflicts=frozenset(enterprises(c) for c in rec.get("conflicts") or ()),
        mean_rating=None if rating is None else float(rating),
    )


def demand_from_record(
    rec: Mapping, id: int, enterprises: Callable[[object], int], regions: Mapping[str, str]
) -> DemandProfile:
    """A DemandProfile from a SPEC-shaped demand record."""
    ent_ref = rec.get("enterprise_id", rec.get("enterprise", rec.get("enterprise_external_id", f"demand:{id}")))
    origins = frozenset(_ORIGINS.get(o, o) for o in _list(rec.get("accepted_origins")))
    return DemandProfile(
        id=id,
        enterprise_id=enterprises(ent_ref),
        title=str(rec.get("title") or ""),
        description=str(rec.get("description") or ""),
        keywords=_list(rec.get("keywords")),
        industry=str(rec.get("industry") or ""),
        region=str(rec.get("region") or regions.get(str(ent_ref), "")),
        on_site=_bool(rec.get("on_site"), False),
        headcount=int(rec.get("headcount") or 1),
        filled=int(rec.get("filled") or 0),
        accepted_origins=origins,
    )


def load_dataset(data: Mapping | str | Path) -> Dataset:
    """Read experts, demands and judgements (a parsed mapping or a JSON file path)."""
    if not isinstance(data, Mapping):
        data = json.loads(Path(data).read_text(encoding="utf-8"))
    enterprises = _Interner()
    regions: dict[str, str] = {}
    for ent in data.get("enterprises", []):
        for key in ("external_id", "id", "credit_code", "name"):
            if ent.get(key) is not None and ent.get("region"):
                regions[str(ent[key])] = str(ent["region"])
    expert_ids: dict[str, int] = {}
    experts = []
    for i, rec in enumerate(data.get("experts", []), start=1):
        expert_ids[str(rec.get("external_id", rec.get("id", i)))] = i
        experts.append(expert_from_record(rec, i, enterprises))
    demand_ids: dict[str, int] = {}
    demands = []
    for i, rec in enumerate(data.get("demands", []), start=1):
        demand_ids[str(rec.get("external_id", rec.get("id", i)))] = i
        demands.append(demand_from_record(rec, i, enterprises, regions))
    judgements = []
    for j in data.get("judgements", []):
        d, e = demand_ids.get(str(j["demand"])), expert_ids.get(str(j["expert"]))
        if d is None or e is None:
            raise ValueError(f"judgement refers to an unknown record: {j}")
        judgements.append((d, e, int(j["grade"])))
    return Dataset(experts, demands, judgements)


# ---------------------------------------------------------------------------- metrics
def precision_at_k(grades: Sequence[int], k: int, relevant: int = 2) -> float:
    """Share of relevant items among the first min(k, n) of a ranking."""
    n = min(k, len(grades))
    if n == 0:
        return 0.0
    return sum(1 for g in grades[:n] if g >= relevant) / n


def dcg_at_k(grades: Sequence[int], k: int) -> float:
    """Discounted cumulative gain with gain 2**g - 1 and discount log2(rank + 1)."""
    return sum((2.0**g - 1.0) / math.log2(i + 2) for i, g in enumerate(grades[:k]))


def ndcg_at_k(grades: Sequence[int], k: int) -> float:
    """DCG of a ranking over the DCG of its ideal order (0 when nothing is relevant)."""
    ideal = dcg_at_k(sorted(grades, reverse=True), k)
    return dcg_at_k(grades, k) / ideal if ideal > 0 else 0.0


def reciprocal_rank(grades: Sequence[int], relevant: int = 2) -> float:
    """1 / rank of the first relevant item (0 when none)."""
    for i, g in enumerate(grades):
        if g >= relevant:
            return 1.0 / (i + 1)
    return 0.0


def pairwise_loss(scores: Sequence[float], grades: Sequence[int]) -> float | None:
    """Grade-difference-weighted share of differently graded pairs ordered wrongly (ties half); None if none."""
    wrong = total = 0.0
    for i in range(len(grades)):
        for j in range(i + 1, len(grades)):
            if grades[i] == grades[j]:
                continue
            w = abs(grades[i] - grades[j])
            hi, lo = (i, j) if grades[i] > grades[j] else (j, i)
            total += w
            if scores[hi] < scores[lo]:
                wrong += w
            elif scores[hi] == scores[lo]:
                wrong += 0.5 * w
    return wrong / total if total else None


def rank_metrics(dataset: Dataset, score: ScoreFn, k: int = 5, relevant: int = 2) -> dict[str, float]:
    """Precision@k, nDCG@k, MRR and pairwise loss of a scorer over a dataset's judgements."""
    by_demand: dict[int, list[tuple[int, int]]] = {}
    for d, e, g in dataset.judgements:
        by_demand.setdefault(d, []).append((e, g))
    pair_score: dict[tuple[int, int], float] = {}
    prec, ndcg, rr = [], [], []
    for d in sorted(by_demand):
        items = sorted(by_demand[d])
        experts = [e for e, _ in items]
        scores = np.asarray(score(d, experts), dtype=np.float64)
        order = sorted(range(len(items)), key=lambda i: (-scores[i], experts[i]))
        grades = [items[i][1] for i in order]
        for (e, _), s in zip(items, scores, strict=True):
            pair_score[(d, e)] = float(s)
        if any(g >= relevant for g in grades):
            prec.append(precision_at_k(grades, k, relevant))
            rr.append(reciprocal_rank(grades, relevant))
        if any(g > 0 for g in grades):
            ndcg.append(ndcg_at_k(grades, k))
    by_expert: dict[int, list[tuple[float, int]]] = {}
    for d, e, g in dataset.judgements:
        by_expert.setdefault(e, []).append((pair_score[(d, e)], g))
    losses = [
        loss
        for pairs in by_expert.values()
        if (loss := pairwise_loss([s for s, _ in pairs], [g for _, g in pairs])) is not None
    ]
    return {
        f"P@{k}": float(np.mean(prec)) if prec else 0.0,
        f"nDCG@{k}": float(np.mean(ndcg)) if ndcg else 0.0,
        "MRR": float(np.mean(rr)) if rr else 0.0,
        "pairwise_loss": float(np.mean(losses)) if losses else 0.0,
        "demands": float(len(by_demand)),
    }


def matcher_scorer(matcher: Matcher, text_only: bool = False, ignore_rules: bool = False) -> ScoreFn:
    """Score function of a fitted matcher: the pair's score when suggested, else -1 (text only: cosine; ignoring
    rules: excluded pairs keep their score, to tell the soft factors' effect from the hard rules')."""

    def score(demand_id: int, expert_ids: Sequence[int]) -> np.ndarray:
        items, _ = matcher.suggest_experts(demand_id, limit=10**9, include_excluded=True, explain=False)
        by_id = {s.expert_id: s for s in items}
        out = np.full(len(expert_ids), 0.0 if text_only else -1.0)
        for i, e in enumerate(expert_ids):
            s = by_id.get(e)
            if s is not None:
                if text_only:
                    out[i] = s.components["text"]
                else:
                    out[i] = -1.0 if s.excluded and not ignore_rules else s.score
        return out

    return score


def evaluate(
    dataset: Dataset,
    params: Mapping | None = None,
    k: int = 5,
    text_only: bool = False,
    relevant: int = 2,
    ignore_rules: bool = False,
) -> dict[str, float]:
    """Fit a matcher with some parameters on the dataset's records and score its rankings."""
    matcher = Matcher(**dict(params or {})).fit(dataset.experts, dataset.demands)
    return rank_metrics(dataset, matcher_scorer(matcher, text_only, ignore_rules), k, relevant)


def format_table(rows: list[tuple[str, dict[str, float]]], k: int) -> str:
    """A fixed-width table of metric rows."""
    cols = [f"P@{k}", f"nDCG@{k}", "MRR", "pairwise_loss"]
    width = max([len("variant"), *(len(name) for name, _ in rows)])
    lines = [f"{'variant':<{width}}  " + "  ".join(f"{c:>13}" for c in cols) + "  demands"]
    for name, m in rows:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{m[c]:>13.4f}" for c in cols) + f"  {int(m['demands']):>7}")
    return "\n".join(lines)


def _is_benchmark(path: str) -> bool:
    """Whether a file is a public evaluation set (fixtures/eval/*.json, with a ``grading`` key up front)."""
    try:
        with open(path, encoding="utf-8") as f:
            return '"grading"' in f.read(4096)
    except OSError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (public evaluation sets go to :mod:`matching.benchmark`)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in and _is_benchmark(args_in[0]):
        from matching.benchmark import main as benchmark_main

        return benchmark_main(args_in)
    ap = argparse.ArgumentParser(
        prog="python -m matching.evaluate",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="public evaluation sets (fixtures/eval/*.json) print the default beside plain baselines instead:\n"
        "  SET [SET ...] [--split {tune,test,all}] [--variants] [--json]\n"
        "  e.g. fixtures/eval/csl.json fixtures/eval/gold.json --split test",
    )
    ap.add_argument("data", help="JSON file with experts, demands and judgements")
    ap.add_argument("--k", type=int, default=5, help="cut-off for precision and nDCG (default 5)")
    ap.add_argument("--variant", default="blend", choices=sorted(VARIANTS), help="representation variant")
    ap.add_argument("--all-variants", action="store_true", help="one row per representation variant")
    ap.add_argument("--text-only", action="store_true", help="rank by text relevance alone")
    ap.add_argument(
        "--ignore-rules", action="store_true", help="rank by the full score but leave excluded pairs in place"
    )
    ap.add_argument("--relevant", type=int, default=2, help="lowest grade that counts as relevant (default 2)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(args_in)
    dataset = load_dataset(args.data)
    names = list(VARIANTS) if args.all_variants else [args.variant]
    rows = [
        (n, evaluate(dataset, VARIANTS[n], args.k, args.text_only, args.relevant, args.ignore_rules)) for n in names
    ]
    if args.json:
        print(json.dumps({n: m for n, m in rows}, indent=2))
    else:
        print(format_table(rows, args.k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
