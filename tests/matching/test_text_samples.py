"""Small bilingual sample of specialists and demands shared by the matching tests (plus a sanity test)."""

from __future__ import annotations

from matching.records import DemandProfile, ExpertProfile


def sample_experts() -> list[ExpertProfile]:
    """Eight specialists over four topics, in Chinese, English and mixed text."""
    return [
        ExpertProfile(
            id=1,
            title="教授",
            region="大连市",
            fields=("煤矿智能化", "5G通信"),
            keywords=("井下通信", "智能综采"),
            bio="长期从事煤矿井下5G通信网络与智能综采工作面研究。主持国家重点研发计划项目3项。",
            achievements="授权发明专利12项；获辽宁省科技进步一等奖（矿井无线通信）。",
            mean_rating=4.5,
        ),
        ExpertProfile(
            id=2,
            title="研究员",
            region="沈阳市",
            origin="out_of_province",
            fields=("手术机器人", "医疗器械"),
            keywords=("腹腔镜", "力反馈"),
            bio="从事微创手术机器人与力反馈控制研究，研制腹腔镜手术机器人样机。",
            achievements="发表论文40篇。",
        ),
        ExpertProfile(
            id=3,
            title="Professor",
            region="Harbin",
            origin="foreign",
            fields=("robotics",),
            keywords=("surgical robots", "haptics"),
            bio="Surgical robotics and haptic feedback for minimally invasive surgery.",
            achievements="10 patents on surgical robots.",
        ),
        ExpertProfile(
            id=4,
            title="高级工程师",
            region="铁岭",
            fields=("煤矿安全",),
            keywords=("瓦斯抽采",),
            bio="煤矿瓦斯抽采与安全监测预警。",
            travels=False,
        ),
        ExpertProfile(
            id=5,
            title="副教授",
            region="鞍山市",
            fields=("集成电路", "芯片设计"),
            keywords=("模拟电路", "CMOS"),
            bio="从事CMOS模拟集成电路与电源管理芯片设计。",
            achievements="流片成功10余款芯片。",
        ),
        ExpertProfile(
            id=6,
            title="Engineer",
            region="Dalian",
            fields=("battery management",),
            keywords=("BMS", "electric vehicles"),
            bio="Battery management systems for electric vehicles; thermal management of power batteries.",
        ),
        ExpertProfile(
            id=7,
            title="研究员",
            region="盘锦",
            fields=("石油化工", "催化剂"),
            keywords=("加氢", "精馏"),
            bio="石油化工催化加氢工艺与精馏塔节能优化。",
        ),
        ExpertProfile(
            id=8,
            title="教授",
            region="沈阳",
            fields=("干细胞",),
            keywords=("细胞治疗", "GMP"),
            bio="间充质干细胞制备与细胞治疗临床转化，熟悉GMP车间建设。",
        ),
    ]


def sample_demands() -> list[DemandProfile]:
    """Four demands, one per main topic."""
    return [
        DemandProfile(
            id=10,
            enterprise_id=100,
            title="井下5G通信网络覆盖优化",
            description="我公司煤矿井下5G基站覆盖不足，需要专家指导通信网络规划与智能综采工作面建设。",
            keywords=("5G", "井下通信", "UWB定位"),
            industry="煤矿智能化",
            region="大连市甘井子区",
            on_site=True,
        ),
        DemandProfile(
            id=11,
            enterprise_id=101,
            title="Surgical robot haptic feedback",
            description="We need help with haptic force feedback in our surgical robot (手术机器人).",
            keywords=("surgical robots", "haptics"),
            industry="医疗器械",
            region="沈阳",
        ),
        DemandProfile(
            id=12,
            enterprise_id=102,
            title="电动汽车电池管理系统 BMS 热管理",
            description="Our electric vehicle battery packs overheat; 需要电池热管理和BMS算法支持。",
            keywords=("BMS", "热管理"),
            industry="智能网联汽车",
            region="大连",
        ),
        DemandProfile(
            id=13,
            enterprise_id=103,
            title="电源管理芯片设计",
            description="需要模拟集成电路设计专家，解决电源管理芯片的CMOS工艺问题。",
            keywords=("芯片设计", "CMOS"),
            industry="集成电路",
            region="鞍山",
        ),
    ]


def test_samples_have_unique_ids() -> None:
    experts, demands = sample_experts(), sample_demands()
    assert len({e.id for e in experts}) == len(experts)
    assert len({d.id for d in demands}) == len(demands)
