"""Hard constraints and soft factors of (demand, specialist) pairs, vectorised over candidates, and the result
types that carry them with reasons in Chinese and English.

Hard rules (a pair is *excluded*, each rule names its reason):

* ``inactive`` — the specialist is not active;
* ``no_capacity`` — no free capacity (``load >= capacity``);
* ``conflict_of_interest`` — the demand's enterprise is in the specialist's ``conflicts``;
* ``origin_not_accepted`` — the demand lists ``accepted_origins`` and the specialist's origin is not among them;
* ``on_site_no_travel`` — the demand is on site, the specialist does not travel, and both regions are known and
  are different cities (when either region is missing the rule cannot be judged and does not exclude);
* ``already_engaged`` — the specialist already holds a live (offered or active) engagement on this demand.

Soft factors, each in [0, 1] with a reason:

* ``text`` — TF-IDF cosine of the demand and the profile (see :mod:`matching.text`);
* ``industry`` — share of the demand industry's tokens found in the specialist's fields, keywords and bio
  (1 when all are, partial credit by token overlap; 0.5, neutral, when the demand names no industry);
* ``proximity`` — same city 1, same province 0.5, otherwise (or unknown) 0 (see :mod:`matching.regions`);
* ``origin`` — "in-province institutions first" (the home province is a setting, Liaoning by default; Hebei,
  Shanxi and Heilongjiang run the same kind of programme): in_province 1, out_of_province 0.5,
  foreign 0.5 (out-of-province and foreign specialists are welcome, so they are halved rather than zeroed);
* ``capacity`` — spare capacity ``1 - load / capacity`` (spreads the load);
* ``rating`` — past ratings ``(mean_rating - 1) / 4``, 0.5 (neutral) when there are none;
* ``assessment`` — the last periodic-assessment grade: excellent 1, good 0.75, pass 0.5, fail 0, 0.5 (neutral)
  when never graded; its weight defaults to 0 (a programme opts in).

Topic fit first: the soft factors *scale* text relevance instead of adding to it. With the weights
normalised to sum 1, the score is ``text * (w_text + sum_soft w_c * value_c)``: a pair's soft factors move its
score only within ``[w_text * text, text]``. :class:`ScoreWeights` requires ``w_text > 1/2`` of the total, so
the soft factors can never multiply a score by 2 or more, and a specialist whose text relevance is at least
twice another's always ranks above them, whatever their place, origin, load or ratings. Among comparable fits
(text within a factor ``1 / w_text`` of each other) the soft factors decide, which is how the in-province rule
works as a tie-breaker. An additive weighted mean cannot give that guarantee: with cosines spread over roughly
0.05-0.5, 0.25 of soft weight let a same-city, in-province specialist at text 0.1 outrank a specialist at 0.3.
A pair without any text relevance scores 0 (and is not a suggestion). Scores are rounded to 4 places and
ranked by score descending, then id ascending.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numba
import numpy as np

from matching.records import DemandProfile, ExpertProfile
from matching.regions import Region, resolve_region

SCORE_DECIMALS = 4
COMPONENTS = ("text", "industry", "proximity", "origin", "capacity", "rating", "assessment")
# The last periodic-assessment grade as a value in [0, 1]; a specialist not graded yet is neutral (0.5).
GRADE_VALUE = {"excellent": 1.0, "good": 0.75, "pass": 0.5, "fail": 0.0}
_GRADE_NAMES = {
    "excellent": ("excellent", "优秀"),
    "good": ("good", "良好"),
    "pass": ("pass", "合格"),
    "fail": ("fail", "不合格"),
}

ORIGINS = ("in_province", "out_of_province", "foreign")
ORIGIN_CODE = {name: i for i, name in enumerate(ORIGINS)}
ORIGIN_VALUE = np.array([1.0, 0.5, 0.5])
_ORIGIN_NAMES = {
    "in_province": ("in-province", "省内"),
    "out_of_province": ("out-of-province", "省外"),
    "foreign": ("foreign", "境外"),
}

INACTIVE, NO_CAPACITY, CONFLICT, ORIGIN_NOT_ACCEPTED, ON_SITE_NO_TRAVEL, ENGAGED = 1, 2, 4, 8, 16, 32
EXCLUSION_CODES = {
    INACTIVE: "inactive",
    NO_CAPACITY: "no_capacity",
    CONFLICT: "conflict_of_interest",
    ORIGIN_NOT_ACCEPTED: "origin_not_accepted",
    ON_SITE_NO_TRAVEL: "on_site_no_travel",
    ENGAGED: "already_engaged",
}


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    """Weights of the score components (any non-negative scale; text must be more than half of the total)."""

    text: float = 0.75
    industry: float = 0.05
    proximity: float = 0.08
    origin: float = 0.06
    capacity: float = 0.03
    rating: float = 0.03
    assessment: float = 0.0

    def normalised(self) -> np.ndarray:
        """Weights in :data:`COMPONENTS` order, summing to 1."""
        w = np.array([getattr(self, name) for name in COMPONENTS], dtype=np.float64)
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("score weights must be finite, non-negative and not all zero")
        w = w / w.sum()
        if w[0] <= 0.5:
            raise ValueError(
                "the text weight must be more than half of all score weights (topic fit first: soft factors may "
                f"scale a score by less than a factor 2); it is {w[0]:.3f} of the total"
            )
        return w

    def as_dict(self) -> dict[str, float]:
        """The weights by component name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason, in plain words, in English and Chinese, with a stable code."""

    code: str
    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """The piece of the specialist's profile that matched best: field, item/sentence number, text, cosine."""

    field: str
    index: int
    text: str
    score: float


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One ranked (demand, specialist) pair with everything needed to show why."""

    demand_id: int
    expert_id: int
    score: float
    components: dict[str, float]
    matched_terms: list[str] = field(default_factory=list)
    missing_keywords: list[str] = field(default_factory=list)
    evidence: Evidence | None = None
    reasons: list[Reason] = field(default_factory=list)
    excluded: bool = False
    exclusions: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-ready dict (floats already rounded)."""
        return asdict(self)


def round_score(x: float) -> float:
    """Round a score for output."""
    return round(float(x), SCORE_DECIMALS)


# --------------------------------------------------------------------------- tables
class _Columns:
    """Growable struct-of-arrays keyed by slot."""

    _spec: dict[str, tuple[type, object]] = {}

    def __init__(self) -> None:
        self.n = 0
        self.cols: dict[str, np.ndarray] = {k: np.full(0, fill, dtype=dt) for k, (dt, fill) in self._spec.items()}

    def ensure(self, n: int) -> None:
        """Make room for n slots."""
        if n <= self.n:
            return
        size = next(iter(self.cols.values())).size if self.cols else 0
        if n > size:
            new = max(n, 2 * size, 16)
            for k, (dt, fill) in self._spec.items():
                arr = np.full(new, fill, dtype=dt)
                arr[:size] = self.cols[k]
                self.cols[k] = arr
        self.n = n

    def take(self, kept: np.ndarray) -> None:
        """Keep only some slots, renumbered in order (after an index compaction)."""
        for k in self.cols:
            self.cols[k] = self.cols[k][kept]
        self.n = kept.size

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("cols")
        if cols is not None and name in cols:
            return cols[name][: self.n]
        raise AttributeError(name)


class RegionCodes:
    """Interns resolved regions into integer city and province codes (-1 when unknown)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def _code(self, key: str | None) -> int:
        if not key:
            return -1
        return self._codes.setdefault(key, len(self._codes))

    def encode(self, region: str) -> tuple[int, int]:
        """City code and province code of a region string."""
        r = resolve_region(region)
        return self._code(r.key), self._code(f"province:{r.province}" if r.province else None)


class ExpertTable(_Columns):
    """Per-slot specialist attributes read by the constraints and soft factors."""

    _spec = {
        "active": (np.bool_, False),
        "load": (np.int32, 0),
        "capacity": (np.int32, 1),
        "origin": (np.int8, 0),
        "city": (np.int32, -1),
        "province": (np.int32, -1),
        "travels": (np.bool_, True),
        "rating": (np.float64, np.nan),
        "grade": (np.float64, 0.5),
    }

    def set(self, slot: int, p: ExpertProfile, regions: RegionCodes) -> None:
        """Write one specialist's attributes at a slot."""
        self.ensure(slot + 1)
        c = self.cols
        c["active"][slot] = p.active
        c["load"][slot] = p.load
        c["capacity"][slot] = p.capacity
        c["origin"][slot] = ORIGIN_CODE.get(p.origin, 0)
        c["city"][slot], c["province"][slot] = regions.encode(p.region)
        c["travels"][slot] = p.travels
        c["rating"][slot] = np.nan if p.mean_rating is None else p.mean_rating
        c["grade"][slot] = GRADE_VALUE.get(p.last_grade or "", 0.5)


class DemandTable(_Columns):
    """Per-slot demand attributes read by the constraints and soft factors."""

    _spec = {
        "enterprise": (np.int64, -1),
        "city": (np.int32, -1),
        "province": (np.int32, -1),
        "on_site": (np.bool_, False),
        "accepted": (np.int8, 0),
        "open": (np.int32, 0),
        "industry_len": (np.int32, 0),
    }

    def set(self, slot: int, d: DemandProfile, regions: RegionCodes, industry_len: int) -> None:
        """Write one demand's attributes at a slot."""
        self.ensure(slot + 1)
        c = self.cols
        c["enterprise"][slot] = d.enterprise_id
        c["city"][slot], c["province"][slot] = regions.encode(d.region)
        c["on_site"][slot] = d.on_site
        c["accepted"][slot] = accepted_mask(d.accepted_origins)
        c["open"][slot] = max(d.headcount - d.filled, 0)
        c["industry_len"][slot] = industry_len


def accepted_mask(origins: frozenset[str] | set[str] | tuple[str, ...]) -> int:
    """Bit mask of accepted origins (0 means any)."""
    mask = 0
    for o in origins:
        if o in ORIGIN_CODE:
            mask |= 1 << ORIGIN_CODE[o]
    return mask


# ----------------------------------------------------------------------- vectorised
@dataclass(slots=True)
class PairScores:
    """Scores of many pairs: final score, component values (rows in COMPONENTS order) and exclusion bits."""

    score: np.ndarray
    components: np.ndarray
    excluded: np.ndarray


def score_pairs(
    demands: DemandTable,
    d_slots: np.ndarray | int,
    experts: ExpertTable,
    e_slots: np.ndarray | int,
    text: np.ndarray,
    industry: np.ndarray,
    conflict: np.ndarray,
    weights: np.ndarray,
    engaged: np.ndarray | bool = False,
) -> PairScores:
    """Constraints and weighted score of pairs (one side may be a single slot, broadcast)."""
    n = np.asarray(text).size
    comps = np.empty((len(COMPONENTS), n), dtype=np.float64)
    bits = np.empty(n, dtype=np.int64)
    _pair_components(
        _per_pair(d_slots, np.int64, n),
        _per_pair(e_slots, np.int64, n),
        _per_pair(text, np.float64, n),
        _per_pair(industry, np.float64, n),
        _per_pair(conflict, np.bool_, n),
        _per_pair(engaged, np.bool_, n),
        *(experts.cols[k] for k in _EXPERT_COLUMNS),
        *(demands.cols[k] for k in _DEMAND_COLUMNS),
        ORIGIN_VALUE,
        comps,
        bits,
    )
    # topic fit first: the soft factors scale text relevance within [w_text, 1] (see the module docstring)
    score = np.round(comps[0] * (weights[0] + weights[1:] @ comps[1:]), SCORE_DECIMALS)
    return PairScores(score, comps, bits)


def _per_pair(values: np.ndarray | float | bool, dtype: type, n: int) -> np.ndarray:
    """Values given per pair or once for all, as one contiguous array per pair (one compiled signature)."""
    return np.ascontiguousarray(np.broadcast_to(np.asarray(values, dtype=dtype), (n,)))


_EXPERT_COLUMNS = ("active", "load", "capacity", "origin", "city", "province", "travels", "rating", "grade")
_DEMAND_COLUMNS = ("city", "province", "on_site", "accepted")


@numba.njit(cache=True, nogil=True)
def _pair_components(  # noqa: ANN201
    d_slot,
    e_slot,
    text,
    industry,
    conflict,
    engaged,  # noqa: ANN001
    e_active,
    e_load,
    e_capacity,
    e_origin,
    e_city,
    e_province,
    e_travels,
    e_rating,
    e_grade,  # noqa: ANN001
    d_city,
    d_province,
    d_on_site,
    d_accepted,
    origin_value,
    comps,
    bits,  # noqa: ANN001
):
    """Each pair's component values (clipped to [0, 1], in COMPONENTS order) and exclusion bits, in one pass over
    the pairs: gathering every column for every pair first cost more than the arithmetic."""
    for i in range(text.size):
        e, d = e_slot[i], d_slot[i]
        city, dcity = e_city[e], d_city[d]
        same_city = city == dcity and dcity >= 0
        same_province = e_province[e] == d_province[d] and d_province[d] >= 0
        load, capacity = e_load[e], e_capacity[e]
        rating = e_rating[e]
        values = (
            text[i],
            industry[i],
            1.0 if same_city else (0.5 if same_province else 0.0),
            origin_value[e_origin[e]],
            1.0 - load / np.float64(max(capacity, 1)),
            0.5 if np.isnan(rating) else (rating - 1.0) / 4.0,
            e_grade[e],
        )
        for c in range(7):
            comps[c, i] = min(max(values[c], 0.0), 1.0)
        b = 0
        if not e_active[e]:
            b |= INACTIVE
        if load >= capacity:
            b |= NO_CAPACITY
        if conflict[i]:
            b |= CONFLICT
        if engaged[i]:
            b |= ENGAGED
        accepted = np.int64(d_accepted[d])
        if accepted != 0 and (accepted >> np.int64(e_origin[e])) & 1 == 0:
            b |= ORIGIN_NOT_ACCEPTED
        if d_on_site[d] and not e_travels[e] and city >= 0 and dcity >= 0 and not same_city:
            b |= ON_SITE_NO_TRAVEL
        bits[i] = b


def industry_values(matched: np.ndarray, total: np.ndarray | int) -> np.ndarray:
    """Industry factor from matched/total industry tokens (0.5 when the demand names no industry)."""
    total = np.asarray(total, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, np.clip(matched / np.maximum(total, 1), 0.0, 1.0), 0.5)


# ------------------------------------------------------------------------- reasons
def _place(r: Region, lang: str) -> str:
    """A region's display name."""
    if lang == "en":
        return r.city_en or r.province_en or r.text or "unknown"
    return r.city_zh or r.province_zh or r.text or "不详"


def component_reasons(
    demand: DemandProfile,
    expert: ExpertProfile,
    values: dict[str, float],
    matched_terms: list[str],
    home: tuple[str, str] = ("辽宁", "Liaoning"),
) -> list[Reason]:
    """Reasons for each soft factor of one pair, in the order of :data:`COMPONENTS`."""
    out: list[Reason] = []
    text = values["text"]
    terms_en = ", ".join(matched_terms[:5])
    terms_zh = "、".join(matched_terms[:5])
    if text > 0:
        strength = ("strong", "高") if text >= 0.3 else ("moderate", "中") if text >= 0.1 else ("weak", "低")
        out.append(
            Reason(
                "text_relevance",
                f"Profile matches the demand ({strength[0]} text relevance {text:.2f})"
                + (f" on: {terms_en}" if terms_en else ""),
                f"专业方向与需求相符（文本相关度{strength[1]}，{text:.2f}）" + (f"：{terms_zh}" if terms_zh else ""),
            )
        )
    else:
        out.append(Reason("no_text_relevance", "No words in common with the demand", "与需求没有共同的关键词"))
    industry = demand.industry.strip()
    v = values["industry"]
    if not industry:
        out.append(Reason("industry_unknown", "The demand names no industry (neutral)", "需求未注明行业（按中性计）"))
    elif v >= 0.999:
        out.append(
            Reason("industry_match", f"Works in the demand's industry ({industry})", f"熟悉需求所属行业（{industry}）")
        )
    elif v > 0:
        out.append(
            Reason(
                "industry_partial",
                f"Partly matches the demand's industry ({industry}, {v:.0%})",
                f"与需求所属行业部分相符（{industry}，{v:.0%}）",
            )
        )
    else:
        out.append(
            Reason(
                "industry_mismatch",
                f"No sign of the demand's industry ({industry}) in the profile",
                f"专家领域中未体现需求所属行业（{industry}）",
            )
        )
    out.append(_proximity_reason(demand, expert, values["proximity"]))
    origin = expert.origin
    if origin == "in_province":
        out.append(
            Reason(
                "in_province",
                f"In-province specialist ({home[1]} institutions first)",
                f"省内专家（{home[0]}省内机构优先）",
            )
        )
    elif origin == "foreign":
        out.append(Reason("foreign", "Specialist from abroad", "境外专家"))
    else:
        out.append(Reason("out_of_province", "Out-of-province specialist", "省外专家"))
    free = max(expert.capacity - expert.load, 0)
    out.append(
        Reason(
            "spare_capacity",
            f"Free capacity: {free} of {expert.capacity} engagements open",
            f"服务余量：{free}/{expert.capacity}",
        )
    )
    if expert.mean_rating is None:
        out.append(Reason("no_ratings", "No past ratings yet (neutral)", "暂无历史评价（按中性计）"))
    else:
        r = expert.mean_rating
        out.append(
            Reason("past_ratings", f"Past ratings average {r:.1f} of 5", f"历史服务评价平均{r:.1f}分（满分5分）")
        )
    if expert.last_grade in _GRADE_NAMES:
        en, zh = _GRADE_NAMES[expert.last_grade]
        out.append(Reason("last_assessment", f"Graded {en} in the last assessment", f"最近一次考核等级：{zh}"))
    return out


def _proximity_reason(demand: DemandProfile, expert: ExpertProfile, value: float) -> Reason:
    """Reason for the proximity factor."""
    dr, er = resolve_region(demand.region), resolve_region(expert.region)
    if value >= 1.0:
        return Reason("same_city", f"Based in the same city ({_place(dr, 'en')})", f"与企业同城（{_place(dr, 'zh')}）")
    if value >= 0.5:
        return Reason(
            "same_province",
            f"Based in the same province ({dr.province_en})",
            f"与企业同省（{dr.province_zh}）",
        )
    if not dr.text or not er.text:
        return Reason("region_unknown", "Location of one side unknown", "一方所在地不详")
    return Reason(
        "other_region",
        f"Based elsewhere ({_place(er, 'en')}; the enterprise is in {_place(dr, 'en')})",
        f"与企业不在同一省市（专家在{_place(er, 'zh')}，企业在{_place(dr, 'zh')}）",
    )


def exclusion_reasons(bits: int, demand: DemandProfile, expert: ExpertProfile) -> list[Reason]:
    """Reasons for each hard rule a pair breaks."""
    out: list[Reason] = []
    if bits & INACTIVE:
        out.append(Reason("inactive", "The specialist is not active", "专家当前未启用"))
    if bits & NO_CAPACITY:
        out.append(
            Reason(
                "no_capacity",
                f"No free capacity ({expert.load} of {expert.capacity} engagements in use)",
                f"服务容量已满（{expert.load}/{expert.capacity}）",
            )
        )
    if bits & CONFLICT:
        out.append(
            Reason("conflict_of_interest", "Conflict of interest with this enterprise", "与该企业存在利益冲突，需回避")
        )
    if bits & ORIGIN_NOT_ACCEPTED:
        names = [o for o in ORIGINS if o in demand.accepted_origins]
        en = " or ".join(_ORIGIN_NAMES[o][0] for o in names)
        zh = "或".join(_ORIGIN_NAMES[o][1] for o in names)
        mine = _ORIGIN_NAMES.get(expert.origin, (expert.origin, expert.origin))
        out.append(
            Reason(
                "origin_not_accepted",
                f"The demand accepts only {en} specialists (this one is {mine[0]})",
                f"需求仅接受{zh}专家（该专家为{mine[1]}专家）",
            )
        )
    if bits & ENGAGED:
        out.append(
            Reason("already_engaged", "Already offered or engaged on this demand", "已在对接该需求（已邀请或服务中）")
        )
    if bits & ON_SITE_NO_TRAVEL:
        dr, er = resolve_region(demand.region), resolve_region(expert.region)
        out.append(
            Reason(
                "on_site_no_travel",
                f"On-site work in {_place(dr, 'en')}, but the specialist ({_place(er, 'en')}) does not travel",
                f"需到{_place(dr, 'zh')}现场服务，但专家（{_place(er, 'zh')}）不接受外出服务",
            )
        )
    return out
