"""The seed's figures for the demo ledger (第1篇): the programme's money by category, and the 2011
tranche — 28 villages, 38 sub-projects with their quantities as the plan states them (``None``
where the seed has ``XX``: unknown, kept unknown and flagged). The 2011 money is not in the seed:
it is derived at 20 % of each category and split by the demo unit costs below, tagged derived."""

from __future__ import annotations

from decimal import Decimal

PROGRAMME = {
    "code": "GH-TJ-2009-2011",
    "name": "通江县集中连片扶贫开发三年规划（2009—2011年）",
    "years": (2009, 2011),
    "total": Decimal("443665000.00"),  # 项目资金总投资 44366.5 万元
    "targets": {
        "infrastructure": Decimal("150695000.00"),  # 基础设施建设 15069.5 万元（34%）
        "industry": Decimal("181760000.00"),  # 产业培育 18176 万元（41%）
        "social": Decimal("40560000.00"),  # 社会事业建设 4056 万元（9.1%）
        "household_env": Decimal("70650000.00"),  # 农户环境建设 7065 万元（15.9%）
    },
    "source": "第1篇 三、资金管理：项目资金总投资44366.5万元",
}
TRANCHE_SHARE = Decimal("0.20")  # the 2011 money, derived: not in the seed
TRANCHE_VILLAGES = 28

# (subtype, quantity as the seed states it, what the seed says) — 2011年 38 个子项目
SUBPROJECTS: list[tuple[str, Decimal | None, str]] = [
    ("village_road_renovate", Decimal("13"), "整治村道路13公里"),
    ("village_road_harden", Decimal("54"), "硬化村道路54公里"),
    ("group_road_new", Decimal("11.4"), "新建社道路11.4公里"),
    ("group_road_renovate", Decimal("13.8"), "整治社道路13.8公里"),
    ("hand_pump_wells", Decimal("330"), "打机压井330口"),
    ("central_supply", Decimal("30"), "新修集中供水点30处"),
    ("supply_pipeline", Decimal("36.8"), "铺设供水管道36.8公里"),
    ("storage_tanks", Decimal("50"), "新修蓄水池50口"),
    ("canal_new", Decimal("12.2"), "新建灌溉渠12.2公里"),
    ("canal_renovated", Decimal("19.6"), "整治灌溉渠19.6公里"),
    ("reservoir", Decimal("1"), "整治病险水库1座"),
    ("rain_harvesting", Decimal("2"), "兴建2个村的集雨节灌工程"),
    ("land_consolidation", Decimal("4000"), "整理土地4000亩"),
    ("grid", Decimal("12"), "完成农网改造12公里"),
    ("dangerous_houses", Decimal("78"), "改造危房78户"),
    ("kitchens", Decimal("700"), "改厨700户"),
    ("toilets", Decimal("700"), "改厕700户"),
    ("pens", Decimal("12800"), "改圈12800平方米"),
    ("courtyards", Decimal("400"), "建院坝400户"),
    ("biogas", Decimal("2870"), "新建沼气池2870口"),
    ("fruit", Decimal("1000"), "种植水果1000亩"),
    ("dried_fruit", Decimal("1500"), "干果1500亩（原文 l500）"),
    ("demo_orchard", Decimal("280"), "培育柑桔、干果品牌示范园280亩"),
    ("vegetables", None, "蔬菜XX亩（原文数字缺失）"),
    ("herbs", Decimal("400"), "中药材400亩"),
    ("tea", Decimal("6000"), "茶叶6000亩"),
    ("pigs", Decimal("10000"), "扶持片区内农户养猪10000头"),
    ("pig_farms", Decimal("4"), "建生猪标准化规模养殖小区4个"),
    ("mutual_aid", Decimal("9"), "组建9个扶贫互助社"),
    ("labour_training", Decimal("620"), "培训转移农民工620人"),
    ("skills_training", Decimal("4000"), "实用技术培训4000人次"),
    ("tourism", Decimal("1"), "建设红色旅游重点景区1个"),
    ("schools", Decimal("5"), "改建村小5所、1500平方米"),
    ("activity_rooms_new", Decimal("4"), "新建村务活动室4个240平方米"),
    ("activity_rooms_rebuilt", Decimal("5"), "改建村务活动室5个300平方米"),
    ("teaching_equipment", Decimal("450"), "购置教学设备450台（套）"),
    ("medical_equipment", Decimal("24"), "购置医疗设备24台（件）"),
    ("medical_training", Decimal("14"), "培训医务人员14人"),
]

# demo unit costs (yuan per unit) that weigh a category's derived money across its sub-projects
WEIGHTS: dict[str, int] = {
    "village_road_renovate": 150_000, "village_road_harden": 400_000, "group_road_new": 300_000,
    "group_road_renovate": 100_000, "hand_pump_wells": 3_000, "central_supply": 50_000, "supply_pipeline": 30_000,
    "storage_tanks": 8_000, "canal_new": 100_000, "canal_renovated": 50_000, "reservoir": 1_500_000,
    "rain_harvesting": 300_000, "land_consolidation": 1_000, "grid": 150_000, "dangerous_houses": 20_000,
    "kitchens": 1_500, "toilets": 1_500, "pens": 100, "courtyards": 2_000, "biogas": 2_000, "fruit": 2_000,
    "dried_fruit": 2_000, "demo_orchard": 5_000, "vegetables": 1_500, "herbs": 2_000, "tea": 2_500, "pigs": 500,
    "pig_farms": 500_000, "mutual_aid": 150_000, "labour_training": 1_000, "skills_training": 200,
    "tourism": 5_000_000, "schools": 300_000, "activity_rooms_new": 100_000, "activity_rooms_rebuilt": 60_000,
    "teaching_equipment": 3_000, "medical_equipment": 5_000, "medical_training": 3_000,
}  # fmt: skip
# how each sub-project's money is split by source (derived, like the money itself)
SOURCE_SHARES = {"central": 50, "provincial": 20, "city": 5, "county": 10, "sector": 10, "labour": 5}
DEPARTMENTS = {
    "infrastructure": "县交通运输局、县水务局",
    "industry": "县农业局、县扶贫移民局",
    "social": "县教育局、县卫生局",
    "household_env": "县住房城乡建设局、县扶贫移民局",
}
MECHANISMS = {
    "infrastructure": "改善贫困村出行和饮水条件，优先吸纳贫困户投工投劳获取劳务收入",
    "industry": "扶持贫困户发展增收产业，合作社带动、订单收购",
    "social": "改善贫困村上学、就医条件",
    "household_env": "直接补助贫困户改善居住环境",
}
