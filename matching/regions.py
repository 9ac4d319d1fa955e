"""Where a region string is: Liaoning's 14 cities with their districts and counties, and other provinces' main
cities, in Chinese and English, so that proximity can say "same city" or "same province".

:func:`resolve_region` reads free text such as ``"大连市甘井子区"``, ``"辽宁省沈阳市"``, ``"Dalian"``,
``"瓦房店"`` or ``"Shenyang, Liaoning"``. Suffixes 省/市/区/县/自治县 are optional. When the text names a
province, only that province's places are considered (so ``"北京市朝阳区"`` is Beijing, while ``"朝阳"`` or
``"朝阳市"`` is Liaoning's Chaoyang, the programme's home). Unknown places keep their normalised text so two
identical unknown strings still count as the same place.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

LIAONING = "liaoning"

# city key -> (Chinese name, English name, districts and counties in Chinese, extra English names)
_LIAONING_CITIES: dict[str, tuple[str, str, str, str]] = {
    "shenyang": (
        "沈阳",
        "Shenyang",
        "和平区 沈河区 大东区 皇姑区 铁西区 苏家屯区 浑南区 沈北新区 于洪区 辽中区 新民市 康平县 法库县",
        "heping shenhe dadong huanggu tiexi sujiatun hunnan shenbei yuhong liaozhong xinmin kangping faku",
    ),
    "dalian": (
        "大连",
        "Dalian",
        "中山区 西岗区 沙河口区 甘井子区 旅顺口区 金州区 普兰店区 瓦房店市 庄河市 长海县 金普新区",
        "zhongshan xigang shahekou ganjingzi lushunkou lvshunkou jinzhou-district pulandian wafangdian "
        "zhuanghe changhai jinpu",
    ),
    "anshan": (
        "鞍山",
        "Anshan",
        "铁东区 立山区 千山区 海城市 台安县 岫岩满族自治县 岫岩县",
        "tiedong lishan qianshan haicheng tai'an taian xiuyan",
    ),
    "fushun": (
        "抚顺",
        "Fushun",
        "新抚区 东洲区 望花区 顺城区 抚顺县 新宾满族自治县 新宾县 清原满族自治县 清原县",
        "xinfu dongzhou wanghua shuncheng xinbin qingyuan",
    ),
    "benxi": (
        "本溪",
        "Benxi",
        "平山区 溪湖区 明山区 南芬区 本溪满族自治县 本溪县 桓仁满族自治县 桓仁县",
        "pingshan xihu mingshan nanfen huanren",
    ),
    "dandong": (
        "丹东",
        "Dandong",
        "元宝区 振兴区 振安区 东港市 凤城市 宽甸满族自治县 宽甸县",
        "yuanbao zhenxing zhen'an zhenan donggang fengcheng kuandian",
    ),
    "jinzhou": (
        "锦州",
        "Jinzhou",
        "古塔区 凌河区 太和区 凌海市 北镇市 黑山县 义县",
        "guta linghe taihe linghai beizhen heishan yixian",
    ),
    "yingkou": (
        "营口",
        "Yingkou",
        "站前区 西市区 鲅鱼圈区 老边区 盖州市 大石桥市",
        "zhanqian xishi bayuquan laobian gaizhou dashiqiao",
    ),
    "fuxin": (
        "阜新",
        "Fuxin",
        "海州区 新邱区 太平区 清河门区 细河区 阜新蒙古族自治县 彰武县",
        "haizhou xinqiu taiping qinghemen xihe zhangwu",
    ),
    "liaoyang": (
        "辽阳",
        "Liaoyang",
        "白塔区 文圣区 宏伟区 弓长岭区 太子河区 灯塔市 辽阳县",
        "baita wensheng hongwei gongchangling taizihe dengta",
    ),
    "panjin": (
        "盘锦",
        "Panjin",
        "双台子区 兴隆台区 大洼区 盘山县",
        "shuangtaizi xinglongtai dawa panshan",
    ),
    "tieling": (
        "铁岭",
        "Tieling",
        "银州区 清河区 调兵山市 开原市 铁岭县 西丰县 昌图县",
        "yinzhou qinghe diaobingshan kaiyuan xifeng changtu",
    ),
    "chaoyang": (
        "朝阳",
        "Chaoyang",
        "双塔区 龙城区 北票市 凌源市 朝阳县 建平县 喀喇沁左翼蒙古族自治县 喀左县",
        "shuangta longcheng beipiao lingyuan jianping kazuo harqin",
    ),
    "huludao": (
        "葫芦岛",
        "Huludao",
        "连山区 龙港区 南票区 兴城市 绥中县 建昌县",
        "lianshan longgang nanpiao xingcheng suizhong jianchang",
    ),
}

# province key -> (Chinese, English, "city-zh:city-en ..." main cities)
_PROVINCES: dict[str, tuple[str, str, str]] = {
    "beijing": ("北京", "Beijing", "北京:beijing"),
    "tianjin": ("天津", "Tianjin", "天津:tianjin 滨海新区:binhai"),
    "shanghai": ("上海", "Shanghai", "上海:shanghai 浦东新区:pudong"),
    "chongqing": ("重庆", "Chongqing", "重庆:chongqing"),
    "hebei": (
        "河北",
        "Hebei",
        "石家庄:shijiazhuang 唐山:tangshan 秦皇岛:qinhuangdao 保定:baoding 邯郸:handan 廊坊:langfang",
    ),
    "shanxi": ("山西", "Shanxi", "太原:taiyuan 大同:datong 长治:changzhi"),
    "inner_mongolia": (
        "内蒙古",
        "Inner Mongolia",
        "呼和浩特:hohhot 包头:baotou 赤峰:chifeng 通辽:tongliao 鄂尔多斯:ordos",
    ),
    "jilin": ("吉林", "Jilin", "长春:changchun 吉林市:jilin-city 四平:siping 通化:tonghua 延吉:yanji"),
    "heilongjiang": (
        "黑龙江",
        "Heilongjiang",
        "哈尔滨:harbin 大庆:daqing 齐齐哈尔:qiqihar 牡丹江:mudanjiang 佳木斯:jiamusi",
    ),
    "jiangsu": ("江苏", "Jiangsu", "南京:nanjing 苏州:suzhou 无锡:wuxi 常州:changzhou 徐州:xuzhou 南通:nantong"),
    "zhejiang": ("浙江", "Zhejiang", "杭州:hangzhou 宁波:ningbo 温州:wenzhou 绍兴:shaoxing 嘉兴:jiaxing"),
    "anhui": ("安徽", "Anhui", "合肥:hefei 芜湖:wuhu 蚌埠:bengbu"),
    "fujian": ("福建", "Fujian", "福州:fuzhou 厦门:xiamen 泉州:quanzhou"),
    "jiangxi": ("江西", "Jiangxi", "南昌:nanchang 赣州:ganzhou"),
    "shandong": ("山东", "Shandong", "济南:jinan 青岛:qingdao 烟台:yantai 潍坊:weifang 淄博:zibo 威海:weihai"),
    "henan": ("河南", "Henan", "郑州:zhengzhou 洛阳:luoyang 新乡:xinxiang"),
    "hubei": ("湖北", "Hubei", "武汉:wuhan 宜昌:yichang 襄阳:xiangyang"),
    "hunan": ("湖南", "Hunan", "长沙:changsha 株洲:zhuzhou 湘潭:xiangtan"),
    "guangdong": ("广东", "Guangdong", "广州:guangzhou 深圳:shenzhen 东莞:dongguan 佛山:foshan 珠海:zhuhai"),
    "guangxi": ("广西", "Guangxi", "南宁:nanning 桂林:guilin 柳州:liuzhou"),
    "hainan": ("海南", "Hainan", "海口:haikou 三亚:sanya"),
    "sichuan": ("四川", "Sichuan", "成都:chengdu 绵阳:mianyang"),
    "guizhou": ("贵州", "Guizhou", "贵阳:guiyang"),
    "yunnan": ("云南", "Yunnan", "昆明:kunming"),
    "tibet": ("西藏", "Tibet", "拉萨:lhasa"),
    "shaanxi": ("陕西", "Shaanxi", "西安:xi'an 宝鸡:baoji"),
    "gansu": ("甘肃", "Gansu", "兰州:lanzhou"),
    "qinghai": ("青海", "Qinghai", "西宁:xining"),
    "ningxia": ("宁夏", "Ningxia", "银川:yinchuan"),
    "xinjiang": ("新疆", "Xinjiang", "乌鲁木齐:urumqi"),
    "hong_kong": ("香港", "Hong Kong", "香港:hong-kong"),
    "macau": ("澳门", "Macau", "澳门:macau"),
    "taiwan": ("台湾", "Taiwan", "台北:taipei"),
}

_SUFFIXES = ("满族自治县", "蒙古族自治县", "自治县", "新区", "省", "市", "区", "县")
_LIAONING_NAMES = ("辽宁", "liaoning")


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


def _strip_suffix(name: str) -> str:
    """Drop one administrative suffix (市, 区, 县, 自治县 …) from a Chinese place name."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True, slots=True)
class _Entry:
    city: str | None
    province: str
    city_zh: str
    city_en: str
    rank: int  # lower wins among overlapping names: 0 city, 1 district, 2 province


def _build_table() -> dict[str, list[_Entry]]:
    """Name (Chinese with and without suffix, English lower-case) -> places it can mean."""
    table: dict[str, list[_Entry]] = {}

    def add(name: str, entry: _Entry) -> None:
        name = name.lower()
        if len(name) < 2:
            return
        if entry not in table.setdefault(name, []):
            table[name].append(entry)

    for key, (zh, en, districts, english) in _LIAONING_CITIES.items():
        city = _Entry(key, LIAONING, zh, en, 0)
        add(zh, city)
        add(zh + "市", city)
        add(en, city)
        district = _Entry(key, LIAONING, zh, en, 1)
        for name in districts.split():
            add(name, district)
            add(_strip_suffix(name), district)
        for name in english.split():
            add(name.replace("-district", ""), district)
    for key, (zh, en, cities) in _PROVINCES.items():
        prov = _Entry(None, key, "", "", 2)
        add(zh, prov)
        add(zh + "省", prov)
        add(en, prov)
        for item in cities.split():
            czh, cen = item.split(":")
            if cen == "jilin-city":
                entry = _Entry("jilin_city", key, "吉林", "Jilin City", 0)
                add("吉林市", entry)
                add("jilin city", entry)
                continue
            entry = _Entry(cen, key, czh, " ".join(w[:1].upper() + w[1:] for w in cen.split("-")), 0)
            add(czh, entry)
            add(czh + "市", entry)
            add(cen.replace("-", " "), entry)
    add(_LIAONING_NAMES[0], _Entry(None, LIAONING, "", "", 2))
    add("辽宁省", _Entry(None, LIAONING, "", "", 2))
    add("liaoning", _Entry(None, LIAONING, "", "", 2))
    # Beijing's Chaoyang District must not be read as Liaoning's Chaoyang.
    table["朝阳区"] = [_Entry("beijing", "beijing", "北京", "Beijing", 1)]
    return table


_TABLE = _build_table()
_ZH_NAMES = sorted((n for n in _TABLE if not n.isascii()), key=len, reverse=True)
_ZH_PATTERN = re.compile("|".join(re.escape(n) for n in _ZH_NAMES))
_PROVINCE_ZH = {v[0]: k for k, v in _PROVINCES.items()} | {"辽宁": LIAONING}
_PROVINCE_NAMES = {k: (v[0], v[1]) for k, v in _PROVINCES.items()} | {LIAONING: ("辽宁", "Liaoning")}


def _normalise(text: str) -> str:
    """NFKC, lower-case, trim."""
    return unicodedata.normalize("NFKC", text or "").strip().lower()


def _english_candidates(text: str) -> list[str]:
    """English words and word pairs of a text, longest first."""
    words = re.findall(r"[a-z']+", text)
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return pairs + words


@lru_cache(maxsize=65536)
def resolve_region(text: str) -> Region:
    """Resolve free text naming a city, district, county or province to a :class:`Region`."""
    norm = _normalise(text)
    if not norm:
        return Region("", None, None)
    hits: list[tuple[int, int, str]] = []  # (position, -length, name)
    for m in _ZH_PATTERN.finditer(norm):
        hits.append((m.start(), -len(m.group()), m.group()))
    for name in _english_candidates(norm):
        if name in _TABLE:
            hits.append((norm.find(name), -len(name), name))
    provinces = {_TABLE[n][0].province for _, _, n in hits if _TABLE[n][0].rank == 2}
    best: _Entry | None = None
    for _, _, name in sorted(hits):
        for entry in _TABLE[name]:
            if provinces and entry.province not in provinces:
                continue
            if best is None or entry.rank < best.rank:
                best = entry
        if best is not None and best.rank == 0:
            break
    if best is None:
        return Region(_strip_suffix(norm), None, None)
    pzh, pen = _PROVINCE_NAMES[best.province]
    return Region(norm, best.city, best.province, best.city_zh, best.city_en, pzh, pen)


def same_place(a: Region, b: Region) -> bool:
    """Whether two regions are the same city (or the same unknown place)."""
    return bool(a.key) and a.key == b.key


def province_names(name: str) -> tuple[str, str, str] | None:
    """Key, Chinese and English name of a province-level division named in Chinese or English, else None."""
    norm = _normalise(name)
    for suffix in ("省", "市", "自治区", "壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区"):
        if norm.endswith(suffix) and len(norm) > len(suffix) + 1:
            norm = norm[: -len(suffix)]
            break
    for key, (zh, en) in _PROVINCE_NAMES.items():
        if norm in (zh, en.lower(), key):
            return key, zh, en
    return None
