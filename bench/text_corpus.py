"""Seeded generator of realistic specialist profiles and enterprise demands for the text benchmarks.

Profiles and demands are about 300 characters, mostly Chinese with English acronyms, about one in ten in
English, drawn from the programme's domains (coal-mine digitalisation and 5G, integrated circuits, robotics
and surgical robots, intelligent connected vehicles, biomedicine and stem cells, equipment manufacturing,
petrochemicals, new materials, agriculture and food, energy). Terms are compounds of domain modifiers and
heads (thousands of distinct terms), so postings are Zipf-like rather than a handful of words everywhere.
Generation is deterministic for a seed and streams (nothing needs to be held in memory).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from matching.records import DemandProfile, ExpertProfile


def _words(text: str) -> list[str]:
    """Split a space-separated word list."""
    return text.split()


# domain -> (industry, modifiers, heads, standalone terms, English terms, product words)
DOMAINS: dict[str, tuple[str, str, str, str, str, str]] = {
    "coal": (
        "煤矿智能化",
        "智能 无人化 远程 井下 综采 掘进 矿用 防爆 5G 高精度 多源 分布式 实时 自适应 智慧",
        "工作面 巡检机器人 监测系统 通信网络 定位系统 供电系统 传感器 调度平台 视频分析 液压支架 采煤机 "
        "刮板输送机 瓦斯抽采 水害防治 顶板监测 通风系统 皮带运输 安全预警 掘进机 基站",
        "煤矿 矿山 矿井 巷道 综采 瓦斯 冲击地压 采空区 煤层 选煤 洗选 露天矿 尾矿 矿压 支护 井筒 主运输 辅助运输",
        "5G LTE UWB Wi-Fi6 SCADA PLC edge-computing digital-twin mine-safety longwall",
        "煤炭 精煤 焦煤 动力煤",
    ),
    "ic": (
        "集成电路",
        "高速 低功耗 射频 模拟 数字 混合信号 先进 宽禁带 功率 车规级 高可靠 高密度 晶圆级",
        "芯片设计 封装测试 版图设计 验证平台 光刻工艺 刻蚀工艺 薄膜沉积 良率提升 失效分析 电源管理芯片 "
        "模数转换器 锁相环 存储器 传感器芯片 功率器件 驱动芯片 接口电路 可靠性测试",
        "集成电路 半导体 晶圆 芯片 封装 光刻 碳化硅 氮化镓 硅片 引线框架 键合 掩膜 薄膜 离子注入 化学机械抛光",
        "CMOS EDA FPGA ASIC SoC MEMS SiC GaN RF-IC wafer lithography",
        "芯片 晶圆 功率模块 传感器",
    ),
    "robot": (
        "机器人",
        "手术 协作 工业 服务 康复 特种 移动 仿生 柔性 微创 智能 高精度 并联 多自由度",
        "机械臂 运动控制 路径规划 力反馈 视觉伺服 减速器 伺服电机 末端执行器 导航系统 抓取规划 人机交互 "
        "控制算法 标定方法 关节模组 外骨骼 内窥镜 定位导航",
        "机器人 手术机器人 机械臂 腹腔镜 骨科 减速器 伺服 力控 视觉 抓取 焊接 喷涂 码垛 巡检 康复训练",
        "SLAM ROS kinematics haptics surgical-robot end-effector teleoperation cobot",
        "机器人 机械臂 手术器械 焊接工作站",
    ),
    "icv": (
        "智能网联汽车",
        "智能 网联 自动 车载 线控 高精 多传感器 车路协同 新能源 电动 混合动力 低速",
        "驾驶辅助 感知融合 决策规划 底盘控制 动力电池 电池管理 热管理 整车控制器 激光雷达 毫米波雷达 "
        "高精地图 车载通信 座舱系统 充电桩 电机控制器 功能安全",
        "汽车 自动驾驶 智能网联 新能源汽车 动力电池 电驱 底盘 整车 车联网 激光雷达 毫米波 域控制器 线控转向",
        "ADAS LiDAR V2X CAN-bus AUTOSAR BMS OTA autonomous-driving",
        "汽车零部件 电池包 电机 控制器",
    ),
    "bio": (
        "生物医药",
        "间充质 诱导多能 免疫 基因 靶向 细胞 体外 临床 高通量 单克隆 重组 缓释",
        "干细胞 细胞治疗 抗体药物 疫苗 制剂工艺 质量标准 临床试验 药效评价 分离纯化 发酵工艺 诊断试剂 "
        "基因编辑 细胞培养 冻存技术 生物反应器 药代动力学",
        "干细胞 细胞 抗体 疫苗 制剂 原料药 中药 医疗器械 体外诊断 基因 蛋白 培养基 纯化 发酵 药物筛选",
        "CAR-T PCR GMP mRNA CRISPR stem-cell biologics antibody",
        "药品 制剂 试剂盒 培养基",
    ),
    "equip": (
        "高端装备制造",
        "数控 精密 重型 智能 高速 五轴 柔性 自动化 大型 高效 绿色 再制造",
        "机床 加工中心 齿轮箱 轴承 液压系统 焊接工艺 热处理 铸造工艺 锻造工艺 装配线 检测设备 "
        "故障诊断 振动分析 寿命预测 刀具磨损 生产线改造",
        "数控机床 轴承 齿轮 液压 铸造 锻造 焊接 热处理 模具 装配 减速机 压缩机 风机 泵阀 变速箱",
        "CNC CAD CAM MES PLM predictive-maintenance machining",
        "机床 轴承 齿轮 泵阀",
    ),
    "petro": (
        "石油化工",
        "精细 催化 加氢 连续 绿色 高效 低碳 节能 清洁 重质 分子",
        "催化剂 裂化工艺 分离工艺 反应器 精馏塔 换热网络 污水处理 废气治理 安全评价 工艺优化 "
        "聚合工艺 装置改造 腐蚀防护 能耗优化",
        "石油化工 炼油 乙烯 芳烃 催化 加氢 精馏 聚合 橡胶 塑料 涂料 化肥 溶剂 润滑油 沥青",
        "FCC HAZOP DCS APC catalysis refinery polymer",
        "成品油 乙烯 聚丙烯 润滑油",
    ),
    "material": (
        "新材料",
        "高性能 轻量化 耐高温 耐腐蚀 纳米 高强度 功能 复合 特种 稀土 高纯",
        "碳纤维 复合材料 钛合金 镁合金 铝合金 陶瓷材料 涂层技术 粉末冶金 增材制造 表面处理 "
        "热处理工艺 成形工艺 石墨烯 高分子材料 磁性材料",
        "新材料 合金 钢材 镁 铝 钛 稀土 陶瓷 石墨 碳纤维 涂层 粉末 增材 复合材料 菱镁",
        "3D-printing alloy composite graphene coating ceramic",
        "镁合金 钢板 碳纤维 涂层",
    ),
    "agri": (
        "农业与食品",
        "绿色 有机 智慧 精准 高效 节水 冷链 生物 功能 特色",
        "育种技术 栽培技术 病虫害防治 土壤改良 水肥一体化 农产品加工 食品保鲜 冷链物流 质量追溯 "
        "发酵工艺 饲料配方 畜禽养殖 水产养殖 食品检测",
        "水稻 玉米 大豆 蔬菜 水果 畜牧 水产 海参 食品 饲料 种子 化肥 农药 农机 乳制品",
        "food-safety traceability cold-chain fermentation agronomy",
        "大米 海参 果蔬 乳制品",
    ),
    "energy": (
        "能源",
        "风力 光伏 氢能 储能 核电 智能 分布式 清洁 高效 综合 低碳",
        "发电系统 并网控制 电池储能 电解水制氢 燃料电池 电网调度 负荷预测 微电网 变流器 "
        "能效管理 余热回收 清洁供暖 输电线路 变电站",
        "风电 光伏 氢能 储能 核电 电网 电池 燃料电池 变流器 逆变器 热电联产 余热 供暖 输电 配电",
        "PV inverter hydrogen fuel-cell smart-grid energy-storage",
        "风机 光伏组件 储能电池 燃料电池",
    ),
}

GENERIC = _words(
    "系统 平台 方案 工艺 设备 数据 算法 模型 控制 检测 分析 优化 设计 开发 应用 集成 改造 升级 测试 评估 "
    "标准 管理 质量 效率 成本 安全 可靠性 智能化 数字化 信息化 自动化 产业化 工程化"
)
INSTITUTIONS = _words(
    "大连理工大学 东北大学 辽宁大学 沈阳工业大学 辽宁工程技术大学 中国医科大学 大连海事大学 沈阳化工大学 "
    "中国科学院金属研究所 中国科学院沈阳自动化研究所 中国科学院大连化学物理研究所 辽宁省科学技术情报研究院 "
    "沈阳农业大学 辽宁石油化工大学 清华大学 哈尔滨工业大学 上海交通大学 浙江大学"
)
TITLES = _words("教授 研究员 副教授 副研究员 高级工程师 正高级工程师 讲师 工程师")
CITIES = _words("沈阳市 大连市 鞍山市 抚顺市 本溪市 丹东市 锦州市 营口市 阜新市 辽阳市 盘锦市 铁岭市 朝阳市 葫芦岛市")
OTHER_CITIES = _words("北京市 上海市 哈尔滨市 长春市 天津市 杭州市 南京市 深圳市 西安市 武汉市")
SURNAMES = _words("王 李 张 刘 陈 杨 赵 黄 周 吴 徐 孙 胡 朱 高 林 何 郭 马 罗")
GIVEN = _words("伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀 霞 平 刚 桂 建 国 海 峰")
PROBLEMS = _words(
    "效率偏低 故障率高 能耗过高 良率不稳定 精度不足 成本偏高 数据孤岛严重 依赖进口 检测周期长 安全隐患突出"
)
CONSEQUENCES = _words("产能受限 交付延迟 质量投诉增多 利润下降 无法满足客户要求 存在安全风险")


@dataclass(frozen=True, slots=True)
class Topic:
    """The domain and the specific terms a generated record is about (ground truth for sanity checks)."""

    domain: str
    terms: tuple[str, ...]


def _domain_terms(domain: str) -> tuple[list[str], list[str]]:
    """All Chinese terms (compounds and standalone) and the English terms of a domain."""
    _, mods, heads, single, english, _ = DOMAINS[domain]
    compounds = [m + h for m in mods.split() for h in heads.split()]
    return compounds + single.split(), [e.replace("-", " ") for e in english.split()]


_TERMS = {d: _domain_terms(d) for d in DOMAINS}
_DOMAIN_KEYS = sorted(DOMAINS)


class Generator:
    """Seeded stream of profiles and demands; ``topic`` of each record is kept for sanity checks."""

    def __init__(self, seed: int = 0, english_share: float = 0.1) -> None:
        self.seed = seed
        self.english_share = english_share

    def _pick_topic(self, rnd: random.Random, n_terms: int) -> Topic:
        domain = rnd.choice(_DOMAIN_KEYS)
        zh, _ = _TERMS[domain]
        # Zipf-like choice: low ranks far more often (a few popular sub-topics, a long tail)
        picks: list[str] = []
        while len(picks) < n_terms:
            i = min(int(rnd.paretovariate(1.1)) - 1, len(zh) - 1)
            term = zh[(i * 7919 + hash_seed(domain)) % len(zh)]
            if term not in picks:
                picks.append(term)
        return Topic(domain, tuple(picks))

    def expert(self, i: int) -> tuple[ExpertProfile, Topic]:
        """The i-th specialist profile (deterministic)."""
        rnd = random.Random(self.seed * 1_000_003 + i * 2 + 1)
        topic = self._pick_topic(rnd, 6)
        english = rnd.random() < self.english_share
        _, en_terms = _TERMS[topic.domain]
        industry = DOMAINS[topic.domain][0]
        t = topic.terms
        gen = rnd.sample(GENERIC, 4)
        inst = rnd.choice(INSTITUTIONS)
        if english:
            e = rnd.sample(en_terms, 3)
            bio = (
                f"Professor at {inst}. Research on {e[0]}, {e[1]} and {gen[0]} for {industry} industry; "
                f"led {rnd.randint(2, 9)} national projects on {e[2]} and {t[0]}, "
                f"with long experience in {t[1]} design, testing and industrial application. "
                f"Worked with enterprises in Liaoning on {t[2]} and process optimisation."
            )
            achievements = (
                f"{rnd.randint(3, 30)} patents on {e[0]} and {t[3]}; {rnd.randint(10, 80)} papers; "
                f"provincial science and technology award for {t[4]}."
            )
            fields = (industry, e[0], t[0])
            keywords = (e[1], e[2], t[1], t[2])
        else:
            e = rnd.sample(en_terms, 2)
            bio = (
                f"{rnd.choice(SURNAMES)}{rnd.choice(GIVEN)}，{inst}{rnd.choice(TITLES)}，博士。长期从事{t[0]}、"
                f"{t[1]}与{t[2]}等方面的研究工作，在{industry}领域具有丰富的{gen[0]}和{gen[1]}经验。"
                f"主持国家重点研发计划、国家自然科学基金等项目{rnd.randint(2, 12)}项，"
                f"开展{t[3]}{gen[2]}与{e[0]}技术攻关，为{rnd.randint(5, 40)}家企业提供{t[4]}{gen[3]}服务。"
                f"近年来重点围绕{industry}企业的{rnd.choice(PROBLEMS)}等难题，开展现场诊断和{t[5]}改造。"
            )
            achievements = (
                f"授权发明专利{rnd.randint(3, 40)}项，涉及{t[1]}、{t[5]}及{e[1]}；"
                f"发表SCI/EI论文{rnd.randint(10, 90)}篇；获辽宁省科技进步奖{rnd.choice('一二三')}等奖"
                f"（{t[0]}{gen[1]}关键技术）。"
            )
            fields = (industry, t[0], t[1]) if rnd.random() < 0.5 else (t[0], t[2])
            keywords = (t[1], t[3], e[0], t[4])
        in_province = rnd.random() < 0.75
        region = rnd.choice(CITIES) if in_province else rnd.choice(OTHER_CITIES)
        capacity = rnd.randint(1, 4)
        rating = None if rnd.random() < 0.5 else round(rnd.uniform(2.5, 5.0), 1)
        profile = ExpertProfile(
            id=i + 1,
            name=f"专家{i + 1}",
            title=rnd.choice(TITLES),
            institution=inst,
            institution_type="university" if "大学" in inst else "research_institute",
            origin="in_province" if in_province else "out_of_province",
            region=region,
            fields=fields,
            keywords=keywords,
            bio=bio,
            achievements=achievements,
            capacity=capacity,
            load=rnd.randint(0, capacity),
            travels=rnd.random() < 0.85,
            active=rnd.random() < 0.95,
            mean_rating=rating,
        )
        return profile, topic

    def demand(self, i: int) -> tuple[DemandProfile, Topic]:
        """The i-th demand (deterministic)."""
        rnd = random.Random(self.seed * 1_000_003 + i * 2 + 2_000_000_000)
        topic = self._pick_topic(rnd, 4)
        _, en_terms = _TERMS[topic.domain]
        industry, *_rest, products = DOMAINS[topic.domain]
        t = topic.terms
        gen = rnd.sample(GENERIC, 3)
        city = rnd.choice(CITIES)
        product = rnd.choice(products.split())
        english = rnd.random() < self.english_share
        if english:
            e = rnd.sample(en_terms, 2)
            title = f"{e[0]} and {t[0]} upgrade"
            description = (
                f"We are a {industry} enterprise in {city} making {product}. Our {t[1]} line suffers from "
                f"{rnd.choice(['low efficiency', 'high failure rates', 'unstable yield', 'high energy use'])}. "
                f"We seek a specialist in {e[0]}, {e[1]} and {t[2]} to diagnose the {gen[0]} problems, "
                f"design a {t[3]} solution and train our engineers over {rnd.randint(3, 12)} months."
            )
            keywords = (e[0], t[0], t[2])
        else:
            e = rnd.sample(en_terms, 1)
            title = f"{t[0]}{gen[0]}{rnd.choice(['关键技术攻关', '优化升级', '技术改造', '难题攻关'])}"
            description = (
                f"我公司是位于{city}的{industry}企业，主要产品为{product}，年产值约{rnd.randint(1, 50)}亿元。"
                f"目前在{t[1]}环节存在{rnd.choice(PROBLEMS)}的问题，导致{rnd.choice(CONSEQUENCES)}。"
                f"现有{t[2]}{gen[1]}依靠人工经验，缺少{e[0]}等手段。希望引进熟悉{t[0]}、{t[3]}的专家，"
                f"帮助开展{gen[2]}诊断、制定技术方案并培训技术人员，服务期{rnd.randint(3, 24)}个月。"
                f"公司现有研发人员{rnd.randint(5, 200)}人，曾与{rnd.choice(INSTITUTIONS)}开展合作，"
                f"但在{t[rnd.randrange(len(t))]}{rnd.choice(GENERIC)}方面仍缺乏核心技术。"
                f"项目预算约{rnd.randint(20, 500)}万元，要求专家具备{gen[0]}与{gen[1]}经验，能够定期到现场指导。"
            )
            keywords = (t[0], t[1], t[3], e[0])
        accepted = frozenset()
        if rnd.random() < 0.2:
            accepted = frozenset({"in_province"})
        demand = DemandProfile(
            id=i + 1,
            enterprise_id=rnd.randint(1, max(1, i // 3 + 1)),
            title=title,
            description=description,
            keywords=keywords,
            industry=industry,
            region=city,
            on_site=rnd.random() < 0.4,
            headcount=rnd.randint(1, 3),
            accepted_origins=accepted,
        )
        return demand, topic

    def experts(self, n: int, start: int = 0) -> Iterator[ExpertProfile]:
        """Stream n profiles."""
        for i in range(start, start + n):
            yield self.expert(i)[0]

    def demands(self, n: int, start: int = 0) -> Iterator[DemandProfile]:
        """Stream n demands."""
        for i in range(start, start + n):
            yield self.demand(i)[0]


def hash_seed(text: str) -> int:
    """A stable small hash (Python's str hash is salted per process)."""
    h = 0
    for ch in text:
        h = (h * 131 + ord(ch)) % 1_000_003
    return h


def grade(demand_topic: Topic, expert_topic: Topic) -> int:
    """Synthetic relevance 0..3: same domain and shared specific terms."""
    if demand_topic.domain != expert_topic.domain:
        return 0
    shared = len(set(demand_topic.terms) & set(expert_topic.terms))
    return 3 if shared >= 2 else 2 if shared == 1 else 1


if __name__ == "__main__":
    g = Generator(0)
    for k in range(3):
        p, tp = g.expert(k)
        print(len(p.bio) + len(p.achievements) + len("".join(p.fields + p.keywords)), tp, p)
        d, td = g.demand(k)
        print(len(d.title) + len(d.description), td, d)
