"""The 项目库 fields of a project: their labels, and the reading of a submitted record (dates,
village codes, money, indicators) into stored values, or InvalidInput naming the field."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from fupin_gis.errors import InvalidInput
from fupin_gis.ledger.config import FundRules
from fupin_gis.ledger.money import yuan

# field -> (Chinese label, English label)
LABELS: dict[str, tuple[str, str]] = {
    "code": ("项目编号", "Project code"),
    "name": ("项目名称", "Name"),
    "parent_code": ("所属项目编号", "Parent project"),
    "programme": ("所属规划", "Programme"),
    "tranche": ("年度计划", "Annual tranche"),
    "category": ("项目类别", "Category"),
    "subtype": ("项目子类", "Subtype"),
    "nature": ("建设性质", "Nature of works"),
    "villages": ("建设地点（村）", "Villages"),
    "content": ("建设内容及规模", "Content and scale"),
    "quantity": ("建设规模（数量）", "Quantity"),
    "unit": ("单位", "Unit"),
    "department": ("主管部门", "Responsible department"),
    "implementer": ("实施单位", "Implementing unit"),
    "responsible": ("责任人", "Person responsible"),
    "start_planned": ("计划开工时间", "Planned start"),
    "end_planned": ("计划完工时间", "Planned end"),
    "indicators": ("绩效目标", "Performance targets"),
    "benefit_mechanism": ("带贫减贫机制", "How it lifts the poor"),
    "beneficiaries": ("受益对象", "Beneficiaries"),
    "total_yuan": ("项目总投资（元）", "Total (yuan)"),
    "entered_on": ("入库时间", "Entered the library on"),
}
NATURES = {
    "new": ("新建", "New"),
    "rebuild": ("改建", "Rebuild"),
    "renovate": ("整治", "Renovation"),
    "expand": ("扩建", "Extension"),
    "repair": ("维修", "Repair"),
    "purchase": ("购置", "Purchase"),
    "support": ("扶持", "Support"),
    "training": ("培训", "Training"),
}
BENEFICIARY_KEYS = ("households", "people", "poor_households", "poor_people")
TEXT_FIELDS = ("name", "content", "department", "implementer", "responsible", "benefit_mechanism", "unit")


def today(rules: FundRules) -> date:
    """Today in the rules' time zone (a county clerk's date)."""
    return datetime.now(ZoneInfo(rules.timezone)).date()


def parse_date(value: Any, field: str) -> date | None:
    """A date from text (YYYY-MM-DD), a date or a datetime; None for empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip().replace("/", "-").replace(".", "-"))
    except ValueError:
        zh, en = LABELS.get(field, (field, field))
        raise InvalidInput(
            f"{zh}：“{value}” 不是日期（YYYY-MM-DD）", f"{en}: '{value}' is not a date (YYYY-MM-DD)", field=field
        ) from None


def not_after_today(day: date, rules: FundRules, field: str) -> date:
    """``day``, refused when it lies in the future (a record says what happened)."""
    if day > today(rules):
        raise InvalidInput(
            f"日期 {day} 晚于今天：只能登记已发生的事",
            f"{day} is later than today: record what has happened",
            field=field,
        )
    return day


def check_villages(conn: Connection, codes: list[str]) -> list[str]:
    """Village codes that exist in the registry (sorted, unique), or InvalidInput naming the unknown ones."""
    wanted = sorted({str(c).strip() for c in codes if str(c).strip()})
    if not wanted:
        return []
    found = set(conn.execute(text("SELECT code FROM villages WHERE code = ANY(:c)"), {"c": wanted}).scalars())
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise InvalidInput(
            f"建设地点中的村代码不存在：{', '.join(unknown)}",
            f"unknown village codes: {', '.join(unknown)}",
            field="villages",
            unknown=unknown,
        )
    return wanted


def township_of(villages: list[str]) -> str | None:
    """The township (9 digits) all villages share, else their county (6), else None."""
    for n in (9, 6):
        heads = {v[:n] for v in villages}
        if len(heads) == 1:
            return heads.pop()
    return None


def _indicators(value: Any) -> list[dict[str, Any]]:
    if value is None or value == "":
        return []
    if isinstance(value, str):  # "名称:目标:单位; …" as typed in a sheet
        out = []
        for part in value.replace("；", ";").split(";"):
            bits = [b.strip() for b in part.replace("：", ":").split(":")]
            if bits and bits[0]:
                out.append(
                    {
                        "name": bits[0],
                        "target": bits[1] if len(bits) > 1 else "",
                        "unit": bits[2] if len(bits) > 2 else "",
                    }
                )
        return out
    if isinstance(value, list):
        out = []
        for item in value:
            if not isinstance(item, dict) or not str(item.get("name") or "").strip():
                raise InvalidInput(
                    "绩效目标每项须有名称", "each performance target needs a name", field="indicators", value=str(item)
                )
            out.append(
                {
                    "name": str(item["name"]).strip(),
                    "target": str(item.get("target") or ""),
                    "unit": str(item.get("unit") or ""),
                }
            )
        return out
    raise InvalidInput("绩效目标格式无效", "performance targets: a list of {name, target, unit}", field="indicators")


def read_record(conn: Connection, rules: FundRules, data: dict[str, Any]) -> dict[str, Any]:
    """A submitted project record as stored values (unknown keys refused)."""
    unknown = set(data) - set(LABELS) - {"derived", "flags", "source_run"}
    if unknown:
        raise InvalidInput(
            f"未知字段：{', '.join(sorted(unknown))}",
            f"unknown fields: {', '.join(sorted(unknown))}",
            field=sorted(unknown)[0],
        )
    out: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        if key in data:
            out[key] = (str(data[key]).strip() or None) if data[key] is not None else None
    for key in ("code", "parent_code", "programme", "tranche"):
        if key in data:
            out[key] = str(data[key]).strip() or None if data[key] is not None else None
    if "category" in data and data["category"]:
        if data["category"] not in rules.categories:
            raise InvalidInput(
                f"项目类别 “{data['category']}” 无效：{', '.join(rules.categories)}",
                f"unknown category '{data['category']}': {', '.join(rules.categories)}",
                field="category",
            )
        out["category"] = data["category"]
    if "subtype" in data and data["subtype"]:
        sub = rules.subtypes.get(data["subtype"])
        if sub is None:
            raise InvalidInput(
                f"项目子类 “{data['subtype']}” 无效", f"unknown subtype '{data['subtype']}'", field="subtype"
            )
        out["subtype"] = data["subtype"]
        if not data.get("unit"):
            out["unit"] = sub.unit
        if "category" not in out:
            out["category"] = sub.category
        elif out["category"] != sub.category:
            raise InvalidInput(
                f"项目子类 {data['subtype']} 属于 {sub.category}，不属于 {out['category']}",
                f"subtype {data['subtype']} belongs to {sub.category}, not {out['category']}",
                field="subtype",
            )
    if "nature" in data and data["nature"]:
        if data["nature"] not in NATURES:
            raise InvalidInput(
                f"建设性质 “{data['nature']}” 无效：{', '.join(NATURES)}",
                f"unknown nature '{data['nature']}': {', '.join(NATURES)}",
                field="nature",
            )
        out["nature"] = data["nature"]
    if "villages" in data:
        codes = data["villages"] or []
        if isinstance(codes, str):
            codes = [c for c in codes.replace("，", ",").replace("、", ",").replace(";", ",").split(",")]
        out["villages"] = check_villages(conn, list(codes))
    for key in ("start_planned", "end_planned", "entered_on"):
        if key in data:
            out[key] = parse_date(data[key], key)
    if out.get("start_planned") and out.get("end_planned") and out["end_planned"] < out["start_planned"]:
        raise InvalidInput(
            "计划完工时间早于开工时间", "the planned end is before the planned start", field="end_planned"
        )
    if "quantity" in data:
        q = data["quantity"]
        out["quantity"] = None if q is None or q == "" else Decimal(str(q))
    if "total_yuan" in data:
        out["total_yuan"] = yuan(data["total_yuan"] if data["total_yuan"] not in (None, "") else 0, "total_yuan")
        if out["total_yuan"] < 0:
            raise InvalidInput("项目总投资不能为负", "the total cannot be negative", field="total_yuan")
    if "indicators" in data:
        out["indicators"] = _indicators(data["indicators"])
    if "beneficiaries" in data:
        b = data["beneficiaries"] or {}
        out["beneficiaries"] = {k: int(b[k]) for k in BENEFICIARY_KEYS if b.get(k) not in (None, "")}
    for key in ("derived",):
        if key in data:
            out[key] = bool(data[key])
    if "flags" in data:
        out["flags"] = [str(f) for f in data["flags"] or []]
    if "source_run" in data:
        out["source_run"] = data["source_run"]
    return out


def missing_library_fields(record: dict[str, Any], required: list[str]) -> list[str]:
    """The required 项目库 fields that are empty in ``record``."""
    missing = []
    for key in required:
        value = record.get(key)
        if key == "total_yuan":
            if value is None or Decimal(value) <= 0:
                missing.append(key)
        elif value is None or value == "" or value == [] or value == {}:
            missing.append(key)
    return missing
