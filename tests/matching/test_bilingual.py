"""Across languages: CC-CEDICT and the programme glossary put Chinese and English words in one concept space."""

from __future__ import annotations

from pathlib import Path

from matching import Matcher
from matching.benchmark import cross_language_hits
from matching.bilingual import chinese_concepts, english_concepts
from matching.records import DemandProfile, ExpertProfile

LABELLED = Path(__file__).resolve().parents[2] / "fixtures" / "labelled" / "judgements.json"


def test_dictionary_and_glossary_give_english_concepts_of_chinese_words() -> None:
    assert "polish" in chinese_concepts("抛光")  # CC-CEDICT: to polish; to burnish
    assert {"chemical", "mechanical", "polish", "cmp"} <= set(chinese_concepts("化学机械抛光"))  # glossary
    assert chinese_concepts("的") == ()
    assert chinese_concepts("不是一个词语吧") == ()


def test_english_words_become_the_same_concepts_whatever_their_inflection() -> None:
    assert english_concepts("Scratches and dishing after polishing") == ["scratch", "dish", "polish"]
    assert english_concepts("the of and") == []


def _experts() -> list[ExpertProfile]:
    return [
        ExpertProfile(
            id=1,
            origin="foreign",
            fields=("Chemical mechanical polishing",),
            keywords=("CMP", "pad conditioning", "scratch defects"),
            bio="Process engineer for copper chemical mechanical polishing: scratch defects, dishing, slurry.",
        ),
        ExpertProfile(
            id=2,
            origin="foreign",
            fields=("Greenhouse horticulture",),
            keywords=("tomato", "climate control"),
            bio="Greenhouse climate control and tomato yield.",
        ),
        ExpertProfile(
            id=3,
            origin="foreign",
            fields=("Wind energy",),
            keywords=("blade", "aeroelastic simulation"),
            bio="Aeroelastic simulation of wind turbine blades.",
        ),
        ExpertProfile(
            id=4, fields=("化学机械抛光",), keywords=("抛光垫", "划痕"), bio="从事铜互连化学机械抛光与划痕缺陷研究。"
        ),
        ExpertProfile(id=5, fields=("温室园艺",), keywords=("番茄",), bio="温室环境控制与番茄产量。"),
    ]


def test_a_chinese_demand_finds_the_english_profile_with_the_same_expertise_and_back() -> None:
    zh = DemandProfile(id=1, enterprise_id=1, title="铜化学机械抛光划痕", description="抛光后晶圆表面出现划痕缺陷。")
    en = DemandProfile(
        id=2, enterprise_id=2, title="Tomato yield in greenhouses", description="Greenhouse climate control."
    )
    m = Matcher(bilingual=True).fit(_experts(), [zh, en])
    english = [s.expert_id for s in m.suggest_experts(1, limit=10)[0] if s.expert_id in (1, 2, 3)]
    assert english[0] == 1
    chinese = [s.expert_id for s in m.suggest_experts(2, limit=10)[0] if s.expert_id in (4, 5)]
    assert chinese[0] == 5
    mono = Matcher(bilingual=False).fit(_experts(), [zh, en])
    assert not [s for s in mono.suggest_experts(1, limit=10)[0] if s.expert_id in (1, 2, 3)]


def test_most_cross_language_pairs_of_the_labelled_set_rank_in_the_top_three() -> None:
    hits = cross_language_hits(LABELLED, {"bilingual": True})
    monolingual = cross_language_hits(LABELLED, {"bilingual": False})
    assert hits["demands"] >= 30
    # issue 10's target: the matching profile in the other language is in the top 3 for at least 80 % of them
    assert hits["hit@3"] >= 0.8 and hits["hit@3"] > monolingual["hit@3"] + 0.3
    assert hits["zh->en"] >= 0.9 and hits["en->zh"] >= 0.5


def test_an_english_demand_s_chinese_industry_label_does_not_outrank_its_text() -> None:
    # The demo's English demands carry a Chinese industry name. Its few character n-grams must not carry the
    # character group's whole weight: a specialist matching only the label ranks below the one matching the text.
    experts = [
        ExpertProfile(id=1, fields=("集成电路", "可靠性测试"), bio="集成电路失效分析与可靠性测试。"),
        ExpertProfile(
            id=2,
            origin="foreign",
            fields=("Chemical mechanical polishing",),
            keywords=("CMP", "pad conditioning"),
            bio="Copper CMP: scratch defects, dishing, slurry and pad conditioning.",
        ),
    ]
    demand = DemandProfile(
        id=1,
        enterprise_id=1,
        title="Reducing scratches and dishing in copper CMP",
        industry="集成电路",
        keywords=("CMP", "copper dishing", "micro-scratch", "slurry"),
        description="Micro-scratches and dishing after copper CMP on the BEOL; slurry and pad conditioning review.",
    )
    for bilingual in (False, True):
        m = Matcher(bilingual=bilingual).fit(experts, [demand])
        ranked = m.suggest_experts(1, limit=10)[0]
        assert [s.expert_id for s in ranked][0] == 2
        text = {s.expert_id: s.components["text"] for s in ranked}
        assert text[2] > text.get(1, 0.0)
