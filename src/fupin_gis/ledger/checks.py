"""Named checks of the seven fund rules: each one applied is recorded (rule, check, the configured
value, the figures, the rules' version) with the event it let through, and a failed one raises
:class:`RuleRefused` naming all of that in Chinese and English."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fupin_gis.errors import RuleRefused
from fupin_gis.ledger.config import FundRules

# check key -> (rule, Chinese name, English name)
CHECKS: dict[str, tuple[str, str, str]] = {
    "library_fields": ("responsibility", "项目库必填字段与绩效目标", "project library fields and performance targets"),
    "status": ("approval", "项目所处阶段", "the project's stage"),
    "lines_equal_total": ("approval", "资金来源合计等于项目总投资", "budget lines add up to the project's total"),
    "subprojects_within_parent": ("approval", "子项目合计不超过项目", "sub-projects within their project"),
    "categories_within_programme": ("approval", "分类资金不超过规划", "categories within the programme"),
    "contracts_within_total": ("approval", "合同金额不超过项目总投资", "contracts within the project's total"),
    "programme_categories": ("approval", "规划分类资金合计等于总投资", "categories add up to the programme"),
    "notice_before": ("disclosure", "公示在先", "the notice has run first"),
    "notice_running": ("disclosure", "公示期内不得验收", "no acceptance while a notice runs"),
    "notice_after_acceptance": ("disclosure", "竣工公示在验收之后", "completion notice after acceptance"),
    "one_line": ("dedicated_account", "每笔支付对应本项目的一条资金来源", "one budget line of the project per payment"),
    "line_balance": ("dedicated_account", "按资金来源支付不超过该来源", "payments within their budget line"),
    "payment_cap": ("reimbursement", "按进度核拨（4:5:1）", "payment capped by certified progress (4:5:1)"),
    "payment_kind": ("reimbursement", "支付类型的前提", "what a kind of payment waits for"),
    "evidence": ("reimbursement", "报账凭证齐全", "the payment's evidence"),
    "progress_range": ("reimbursement", "认定进度 0–100 且不倒退", "certified progress 0–100, never decreasing"),
    "progress_override": (
        "reimbursement",
        "改动实测进度须说明理由并由认定人签认",
        "an override needs a reason and a certifier",
    ),
    "tender": ("reimbursement", "达到限额须招标", "tender above the threshold"),
    "approval_steps": ("reimbursement", "审批顺序与职责分离", "approval order and separation of duties"),
    "audit_open": ("audit", "审计问题未整改不得关闭", "no closing while a finding is open"),
    "audit_done": ("audit", "完工后须经审计", "an audit after the work"),
    "accepted": ("acceptance", "须验收合格", "accepted as passed"),
    "handover_fields": ("acceptance", "移交须明确资产类别、权属与管护", "hand-over names class, owner and upkeep"),
}


@dataclass
class Checks:
    """The checks one action applies, in order; ``records`` go into its event."""

    rules: FundRules
    records: list[dict[str, Any]] = field(default_factory=list)

    def require(
        self,
        passed: bool,
        check: str,
        zh: str,
        en: str,
        configured: Any = None,
        **figures: Any,
    ) -> None:
        """Record the check; when it fails, refuse the action (nothing is written)."""
        rule_key, check_zh, check_en = CHECKS[check]
        rule = self.rules.rule(rule_key)
        record = {
            "rule": rule_key,
            "check": check,
            "configured": _plain(configured),
            "figures": {k: _plain(v) for k, v in figures.items()},
            "passed": bool(passed),
            "version": self.rules.version,
        }
        if passed:
            self.records.append(record)
            return
        raise RuleRefused(
            f"{rule.label}·{check_zh}：{zh}（规则版本 {self.rules.version}）",
            f"{rule.en} · {check_en}: {en} (rules version {self.rules.version})",
            rule=rule_key,
            rule_label=rule.label,
            check=check,
            configured=record["configured"],
            figures=record["figures"],
            rules_version=self.rules.version,
            source=rule.source,
        )


def _plain(value: Any) -> Any:
    """A figure as JSON can carry it (money as text, to the fen)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
