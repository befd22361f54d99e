"""The project library (项目库): programmes, tranches, projects and their revisions, entry into the
library, budget lines by source, the registry features a project builds, closing and cancelling."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.ledger import reconcile
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import LIBRARY, require, require_area, require_features
from fupin_gis.ledger.events import record
from fupin_gis.ledger.fields import LABELS, missing_library_fields, not_after_today, read_record, today, township_of
from fupin_gis.ledger.money import yuan
from fupin_gis.ledger.sqlutil import acting, dumps, ident, lock_project
from fupin_gis.ledger.state import STATUS_LABELS, Project, linked, load

COLUMNS = [
    "parent_code", "programme", "tranche", "name", "category", "subtype", "nature", "township_code", "villages",
    "content", "quantity", "unit", "flags", "department", "implementer", "responsible", "start_planned",
    "end_planned", "indicators", "benefit_mechanism", "beneficiaries", "total_yuan", "entered_on", "derived",
    "source_run",
]  # fmt: skip
JSON_COLUMNS = ("indicators", "beneficiaries")
ROLES = ("planned", "as_built", "served")


def set_status(conn: Connection, code: str, status: str, on: date, event: int) -> None:
    """Append a status of the project."""
    conn.execute(
        text("INSERT INTO ledger_project_status (project_code, status, on_date, event_id) VALUES (:c, :s, :d, :e)"),
        {"c": code, "s": status, "d": on, "e": event},
    )


def insert_revision(conn: Connection, code: str, revision: int, rec: dict[str, Any], event: int) -> None:
    """Append one revision of a project's library record."""
    values = {c: rec.get(c) for c in COLUMNS}
    for c in JSON_COLUMNS:
        values[c] = dumps(values[c] if values[c] is not None else ([] if c == "indicators" else {}))
    values["villages"] = values["villages"] or []
    values["flags"] = values["flags"] or []
    values["derived"] = bool(values["derived"])
    values["total_yuan"] = values["total_yuan"] if values["total_yuan"] is not None else Decimal(0)
    casts = {c: f"CAST(:{c} AS jsonb)" for c in JSON_COLUMNS}
    conn.execute(
        text(
            f"INSERT INTO ledger_projects (code, revision, event_id, {', '.join(COLUMNS)}) VALUES (:code, :rev, :event, "
            + ", ".join(casts.get(c, f":{c}") for c in COLUMNS)
            + ")"
        ),
        {"code": code, "rev": revision, "event": event, **values},
    )


def _next_code(conn: Connection, year: int) -> str:
    lock_project(conn, "(codes)")
    n = conn.execute(
        text("SELECT count(DISTINCT code) FROM ledger_projects WHERE code LIKE :p"), {"p": f"XM-{year}-%"}
    ).scalar_one()
    return f"XM-{year}-{int(n) + 1:04d}"


def _check_links(conn: Connection, rec: dict[str, Any]) -> None:
    for key, table in (("programme", "ledger_programmes"), ("tranche", "ledger_tranches")):
        if rec.get(key) and not conn.execute(text(f"SELECT 1 FROM {table} WHERE code = :c"), {"c": rec[key]}).first():
            zh, en = LABELS[key]
            raise InvalidInput(f"{zh} “{rec[key]}” 不存在", f"{en} '{rec[key]}' does not exist", field=key)
    if rec.get("parent_code"):
        load(conn, rec["parent_code"])


def add_project(led: Ledger, who: Principal, data: dict[str, Any], reason: str | None = None) -> str:
    """Add a project to the library as a draft (储备); returns its code."""
    require(who, LIBRARY, "library")
    with acting(led.engine, who) as conn:
        return add_in(conn, led, who, data, reason)


def add_in(conn: Connection, led: Ledger, who: Principal, data: dict[str, Any], reason: str | None = None) -> str:
    """:func:`add_project` inside an open transaction of ``who`` (drafts and imports add many at once)."""
    rec = read_record(conn, led.rules, data)
    code = rec.pop("code", None) or _next_code(conn, today(led.rules).year)
    lock_project(conn, code)
    if conn.execute(text("SELECT 1 FROM ledger_projects WHERE code = :c"), {"c": code}).first():
        raise InvalidInput(f"项目编号 {code} 已存在", f"project {code} exists already", field="code", value=code)
    if not rec.get("name"):
        raise InvalidInput("项目名称为必填项", "a project needs a name", field="name")
    _check_links(conn, rec)
    rec["township_code"] = township_of(rec.get("villages") or [])
    require_area(conn, who, rec["township_code"], rec.get("villages") or [])
    event = record(conn, who, "project_add", code, {"record": rec}, reason=reason, entity="project")
    insert_revision(conn, code, 1, rec, event)
    set_status(conn, code, "draft", today(led.rules), event)
    return code


def amend_project(led: Ledger, who: Principal, code: str, changes: dict[str, Any], reason: str | None = None) -> int:
    """A new revision of the project's record with ``changes``; returns the revision number."""
    require(who, LIBRARY, "library")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        rec = read_record(conn, led.rules, changes)
        rec.pop("code", None)
        if p.status in ("closed", "cancelled"):
            raise InvalidInput(
                f"项目已{STATUS_LABELS[p.status][0]}，不能修改", f"the project is {p.status}", field="code"
            )
        if p.status != "draft" and not reason:
            raise InvalidInput(
                "已入库项目的修改须说明理由", "amending a project in the library needs a reason", field="reason"
            )
        merged = {c: p.record.get(c) for c in COLUMNS} | rec
        merged["township_code"] = township_of(merged.get("villages") or [])
        _check_links(conn, merged)
        require_area(conn, who, merged["township_code"], merged.get("villages") or [])
        checks = led.checks()
        if p.status != "draft":
            _library_fields(led, checks, merged)
        reconcile.totals(conn, led, checks, p, Decimal(merged["total_yuan"] or 0), merged, equal=False)
        revision = int(p.record["revision"]) + 1
        event = record(conn, who, "project_amend", code, {"changes": rec}, checks, reason, "project")
        insert_revision(conn, code, revision, merged, event)
    return revision


def _library_fields(led: Ledger, checks: Any, rec: dict[str, Any]) -> None:
    rule = led.rules.rules.responsibility
    missing = missing_library_fields(rec, rule.library_fields)
    count = len(rec.get("indicators") or [])
    names = "、".join(LABELS[m][0] for m in missing)
    names_en = ", ".join(LABELS[m][1] for m in missing)
    checks.require(
        not missing and count >= rule.min_indicators,
        "library_fields",
        f"缺少 {names or '—'}；绩效目标 {count} 项，规定至少 {rule.min_indicators} 项",
        f"missing {names_en or '—'}; {count} performance targets, at least {rule.min_indicators} required",
        {"fields": rule.library_fields, "min_indicators": rule.min_indicators},
        missing=missing,
        indicators=count,
    )


def enter_library(led: Ledger, who: Principal, code: str, on: date | None = None) -> None:
    """Approve a draft into the library (入库): every 项目库 field, ≥ 1 绩效目标, totals reconciled."""
    require(who, LIBRARY, "library")
    day = not_after_today(on or today(led.rules), led.rules, "on")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        checks = led.checks()
        label = STATUS_LABELS[p.status]
        checks.require(
            p.status == "draft",
            "status",
            f"项目处于“{label[0]}”阶段：只有储备项目可以入库",
            f"the project is '{label[1]}': only a draft enters the library",
            "draft",
            status=p.status,
        )
        _library_fields(led, checks, p.record)
        reconcile.totals(conn, led, checks, p, p.total, p.record, equal=True)
        event = record(conn, who, "project_enter", code, {"on": day}, checks, entity="project")
        rec = {c: p.record.get(c) for c in COLUMNS} | {"entered_on": p.record.get("entered_on") or day}
        insert_revision(conn, code, int(p.record["revision"]) + 1, rec, event)
        set_status(conn, code, "library", day, event)


def require_status(p: Project, checks: Any, allowed: tuple[str, ...], what: tuple[str, str]) -> None:
    """Refuse (rule 2, the project's stage) unless the project is in one of ``allowed``."""
    label = STATUS_LABELS[p.status]
    checks.require(
        p.status in allowed,
        "status",
        f"项目处于“{label[0]}”阶段，不能{what[0]}",
        f"the project is '{label[1]}': cannot {what[1]}",
        list(allowed),
        status=p.status,
    )


def add_line(
    led: Ledger,
    who: Principal,
    code: str,
    source: str,
    year: int,
    amount: Any,
    derived: bool = False,
    note: str | None = None,
) -> int:
    """A budget line of the project by funding source and year; returns its id."""
    require(who, LIBRARY, "library")
    if source not in led.rules.sources:
        raise InvalidInput(
            f"资金来源 “{source}” 无效：{', '.join(led.rules.sources)}",
            f"unknown funding source '{source}': {', '.join(led.rules.sources)}",
            field="source",
        )
    value = yuan(amount)
    if value <= 0:
        raise InvalidInput(
            "金额须大于零（更正请冲销原来源）",
            "the amount must be positive (reverse a line to correct it)",
            field="amount",
        )
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        checks = led.checks()
        require_status(p, checks, ("draft", "library", "implementing"), ("增加资金来源", "add a budget line"))
        reconcile.lines_within(led, checks, p, p.funded + value)
        event = record(
            conn, who, "line_add", code, {"source": source, "year": year, "amount": value}, checks, note, "line"
        )
        return int(
            conn.execute(
                text(
                    "INSERT INTO ledger_budget_lines (project_code, source, year, amount_yuan, derived, note, event_id) "
                    "VALUES (:c, :s, :y, :a, :d, :n, :e) RETURNING id"
                ),
                {"c": code, "s": source, "y": int(year), "a": value, "d": derived, "n": note, "e": event},
            ).scalar_one()
        )


def reverse_line(led: Ledger, who: Principal, code: str, line_id: int, reason: str, amount: Any = None) -> int:
    """Reverse a budget line (whole, or ``amount`` of it): a negative line pointing at it."""
    require(who, LIBRARY, "library")
    if not reason:
        raise InvalidInput("冲销须说明理由", "a reversal needs a reason", field="reason")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        line = p.line(line_id)
        if line is None:
            raise NotFound(f"项目 {code} 没有资金来源 {line_id}", f"project {code} has no budget line {line_id}")
        value = yuan(amount) if amount is not None else line["amount"]
        if value <= 0 or value > line["amount"]:
            raise InvalidInput(
                f"冲销金额须在 0 与 {line['amount']} 元之间",
                f"reverse between 0 and {line['amount']} yuan",
                field="amount",
            )
        checks = led.checks()
        reconcile.line_balance(led, checks, p, line, line["amount"] - value)
        event = record(conn, who, "line_reverse", code, {"line": line_id, "amount": -value}, checks, reason, "line")
        return int(
            conn.execute(
                text(
                    "INSERT INTO ledger_budget_lines (project_code, source, year, amount_yuan, reverses, note, event_id) "
                    "VALUES (:c, :s, :y, :a, :r, :n, :e) RETURNING id"
                ),
                {"c": code, "s": line["source"], "y": line["year"], "a": -value, "r": line_id, "n": reason, "e": event},
            ).scalar_one()
        )


def link_features(
    led: Ledger, who: Principal, code: str, layer: str, ids: list[int], role: str = "planned", unlink: bool = False
) -> int:
    """Link (or unlink) registry features to the project with a role; returns the event id."""
    require(who, LIBRARY, "library")
    if layer not in led.catalog.layers or led.catalog.layer(layer).group == "admin":
        raise InvalidInput(f"不能关联图层 “{layer}”", f"cannot link features of layer '{layer}'", field="layer")
    if role not in ROLES:
        raise InvalidInput(f"关联角色 “{role}” 无效：{', '.join(ROLES)}", f"unknown role '{role}'", field="role")
    with acting(led.engine, who, code) as conn:
        return link_in(conn, led, who, code, layer, ids, role, unlink)


def link_in(
    conn: Connection,
    led: Ledger,
    who: Principal,
    code: str,
    layer: str,
    ids: list[int],
    role: str,
    unlink: bool = False,
) -> int:
    """:func:`link_features` inside an open transaction of ``who``."""
    spec = led.catalog.layer(layer)
    ids = sorted({int(i) for i in ids})
    if not ids:
        raise InvalidInput("没有要关联的要素", "no features to link", field="features")
    p = load(conn, code)
    require_area(conn, who, p.record["township_code"], p.record["villages"])
    found = conn.execute(
        text(f"SELECT count(*) FROM {ident(spec.name)} WHERE id = ANY(:ids)"), {"ids": ids}
    ).scalar_one()
    if found != len(ids):
        raise NotFound(
            f"图层 {layer} 中有 {len(ids) - found} 个要素不存在",
            f"{len(ids) - found} features of {layer} do not exist",
        )
    require_features(conn, who, spec, ids)
    checks = led.checks()
    require_status(p, checks, ("draft", "library", "implementing"), ("关联要素", "link features"))
    action = "features_unlink" if unlink else "features_link"
    event = record(conn, who, action, code, {"layer": layer, "ids": ids, "role": role}, checks, entity="features")
    conn.execute(
        text(
            "INSERT INTO ledger_project_features (project_code, layer, feature_id, role, linked, event_id) "
            "SELECT :c, :l, unnest(CAST(:ids AS bigint[])), :r, :k, :e"
        ),
        {"c": code, "l": layer, "ids": ids, "r": role, "k": not unlink, "e": event},
    )
    return event


def close_project(led: Ledger, who: Principal, code: str, on: date | None = None, reason: str | None = None) -> None:
    """Close a project: accepted (and its works handed over), audited, no finding open."""
    require(who, LIBRARY, "library")
    day = not_after_today(on or today(led.rules), led.rules, "on")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        checks = led.checks()
        require_status(p, checks, ("accepted", "handed_over"), ("关闭", "close"))
        opened = p.open_findings()
        checks.require(
            not opened,
            "audit_open",
            f"有 {len(opened)} 个审计问题未整改（{', '.join(str(f['id']) for f in opened)}）",
            f"{len(opened)} audit findings are still open ({', '.join(str(f['id']) for f in opened)})",
            "no open finding",
            open=[f["id"] for f in opened],
        )
        if led.rules.rules.audit.audit_before_close:
            checks.require(
                bool(p.findings),
                "audit_done",
                "项目完工后尚无审计记录（问题或“无问题”）",
                "no audit entry (a finding or 'none') after the work",
                True,
                audits=len(p.findings),
            )
        works = linked(p)
        checks.require(
            not works or p.status == "handed_over",
            "accepted",
            "项目的工程要素尚未移交资产登记",
            "the project's works are not yet handed over to the asset register",
            "handed_over",
            status=p.status,
        )
        event = record(conn, who, "project_close", code, {"on": day}, checks, reason, "project")
        set_status(conn, code, "closed", day, event)


def cancel_project(led: Ledger, who: Principal, code: str, reason: str, on: date | None = None) -> None:
    """Cancel a project nothing has been paid for (撤销)."""
    require(who, LIBRARY, "library")
    if not reason:
        raise InvalidInput("撤销须说明理由", "cancelling needs a reason", field="reason")
    day = not_after_today(on or today(led.rules), led.rules, "on")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        checks = led.checks()
        require_status(p, checks, ("draft", "library"), ("撤销", "cancel"))
        checks.require(
            not p.live_payments(),
            "line_balance",
            "项目已有支付，不能撤销（请先冲销）",
            "the project has payments: reverse them first",
            0,
            payments=len(p.live_payments()),
        )
        event = record(conn, who, "project_cancel", code, {"on": day}, checks, reason, "project")
        set_status(conn, code, "cancelled", day, event)
