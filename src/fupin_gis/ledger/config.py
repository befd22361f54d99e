"""The fund rules file (``plans/fund-rules.toml``): sources, categories, subtypes, unit costs and
the seven rules, read and checked once into typed models."""

from __future__ import annotations

import tomllib
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from fupin_gis.catalog import Catalog
from fupin_gis.errors import InvalidInput
from fupin_gis.resources import data_dir

DEFAULT_FILE = "fund-rules.toml"
RULE_KEYS = (
    "responsibility",
    "approval",
    "disclosure",
    "dedicated_account",
    "reimbursement",
    "audit",
    "acceptance",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """A funding source of budget lines."""

    label: str
    en: str
    catalog: str = "other"


class Category(_Strict):
    """A project category (项目类别)."""

    label: str
    en: str


class Subtype(_Strict):
    """A project subtype; with a layer, a work whose progress the registry measures."""

    category: str
    label: str
    unit: str
    layer: str | None = None
    measure: Literal["length_km", "count", "area_mu"] | None = None
    done: dict[str, list[str]] = {}
    min_width_m: float | None = None
    plan_item: str | None = None


class UnitCosts(_Strict):
    """Unit costs of draft estimates."""

    households_per_well: int = 5
    well_yuan: Decimal = Decimal(3000)
    tank_yuan: Decimal = Decimal(8000)
    road_km: dict[str, dict[str, Decimal]] = {}


class Rule(_Strict):
    """What every rule has: its name in both languages and its source in the seed."""

    model_config = ConfigDict(extra="allow", frozen=True)
    label: str
    en: str
    source: str


class Responsibility(Rule):
    """(一) 责任制: the 项目库 fields a project needs to enter the library."""

    library_fields: list[str]
    min_indicators: int = 1


class Approval(Rule):
    """(二) 报批制: totals reconcile up the tree."""

    lines_equal_total: bool = True
    subprojects_within_parent: bool = True
    categories_within_programme: bool = True
    tolerance_yuan: Decimal = Decimal(0)


class NoticeKind(_Strict):
    """A kind of public notice, its least period and what waits for it."""

    label: str
    en: str
    min_days: int
    day_unit: Literal["calendar", "working"] = "calendar"
    required_before: list[str] = []
    after: str | None = None


class Disclosure(Rule):
    """(三) 公示制."""

    holidays: list[date] = []
    supervision_phones: list[str] = []
    kinds: dict[str, NoticeKind]


class Step(_Strict):
    """One approval of a payment."""

    key: str
    label: str
    en: str
    roles: list[str]


class Threshold(_Strict):
    """Must-tender thresholds in force from a date."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: date
    works: Decimal
    goods: Decimal
    services: Decimal
    source: str = ""


class Reimbursement(Rule):
    """(五) 报账制: the 4:5:1 cap, approvals, evidence and tender thresholds."""

    advance_max: Decimal
    before_acceptance_max: Decimal
    guarantee_days: int
    unknown_width_counts: bool = False
    requesters: list[str]
    steps: list[Step]
    evidence: dict[str, list[str]]
    tender_thresholds: list[Threshold]


class Audit(Rule):
    """(六) 审计制."""

    audit_before_close: bool = True
    rectify_days: int = 90


class Acceptance(Rule):
    """(七) 检查验收制."""

    handover_fields: list[str]


class Rules(_Strict):
    """The seven rules."""

    responsibility: Responsibility
    approval: Approval
    disclosure: Disclosure
    dedicated_account: Rule
    reimbursement: Reimbursement
    audit: Audit
    acceptance: Acceptance


class FundRules(_Strict):
    """The whole file."""

    version: str
    dated: date
    timezone: str = "Asia/Shanghai"
    source: str = ""
    sources: dict[str, Source]
    categories: dict[str, Category]
    subtypes: dict[str, Subtype]
    unit_costs: UnitCosts = UnitCosts()
    rules: Rules

    def rule(self, key: str) -> Rule:
        """One of the seven rules by key."""
        return getattr(self.rules, key)

    def threshold_on(self, day: date) -> Threshold | None:
        """The tender thresholds in force on ``day``."""
        valid = [t for t in self.rules.reimbursement.tender_thresholds if t.from_ <= day]
        return max(valid, key=lambda t: t.from_) if valid else None


def default_path() -> Path:
    """``plans/fund-rules.toml`` of the deployment."""
    return data_dir("plans") / DEFAULT_FILE


def _bad(path: Path, where: str, msg: str) -> InvalidInput:
    return InvalidInput(
        f"资金规则文件 {path.name}：{where}：{msg}",
        f"fund rules file {path.name}: {where}: {msg}",
        file=path.name,
        key=where,
    )


def _rename_from(data: dict) -> dict:
    """TOML ``from`` is a Python keyword: the thresholds carry it as ``from_``."""
    reimb = data.get("rules", {}).get("reimbursement", {})
    for t in reimb.get("tender_thresholds", []):
        if "from" in t:
            t["from_"] = t.pop("from")
    return data


def load_rules(path: Path | None = None, catalog: Catalog | None = None) -> FundRules:
    """Read and check the fund rules file (against the catalog's layers and fields when given)."""
    path = path or default_path()
    try:
        rules = FundRules.model_validate(_rename_from(tomllib.loads(path.read_text("utf-8"))))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise _bad(path, "(file)", str(exc)) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise _bad(path, ".".join(str(p) for p in first["loc"]), first["msg"]) from exc
    for key, sub in rules.subtypes.items():
        if sub.category not in rules.categories:
            raise _bad(path, f"subtypes.{key}", f"没有类别 “{sub.category}” / no category '{sub.category}'")
        if catalog is not None and sub.layer is not None:
            if sub.layer not in catalog.layers:
                raise _bad(path, f"subtypes.{key}", f"没有图层 “{sub.layer}” / no layer '{sub.layer}'")
            spec = catalog.layer(sub.layer)
            for name in sub.done:
                if name not in spec.field_names:
                    raise _bad(path, f"subtypes.{key}", f"图层 {spec.name} 没有字段 “{name}” / no field '{name}'")
    kinds = rules.rules.disclosure.kinds
    for key, kind in kinds.items():
        if kind.after is not None and kind.after != "acceptance":
            raise _bad(path, f"rules.disclosure.kinds.{key}", "after 只能是 acceptance / after must be 'acceptance'")
    steps = [s.key for s in rules.rules.reimbursement.steps]
    if len(set(steps)) != len(steps) or not steps:
        raise _bad(path, "rules.reimbursement.steps", "审批步骤为空或重复 / steps empty or repeated")
    return rules


@cache
def cached_rules(path: Path) -> FundRules:
    """The rules of ``path``, read once per process (the file is deployment data)."""
    return load_rules(path)
