"""The project library as an Excel sheet in the national 项目库 column layout (money in 万元 by
funding source), and back: an import goes through the same validation as the forms — a dry run,
problems listed by row and column, all or nothing (one transaction; each row in a savepoint so
every row's problem is found). Exported twice with no change between, the sheets are identical."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from sqlalchemy import Connection, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.errors import FupinError, InvalidInput
from fupin_gis.ledger import library
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import LIBRARY, require
from fupin_gis.ledger.fields import LABELS, NATURES, read_record, today
from fupin_gis.ledger.money import from_wan, to_wan
from fupin_gis.ledger.sqlutil import acting
from fupin_gis.ledger.state import STATUS_LABELS, Project, load

SHEET = "项目库"
TITLE = "巩固拓展脱贫攻坚成果和乡村振兴项目库（扶贫项目库）"
# (column header, record field) in the national template's order; money by source follows 资金规模
FIELDS: list[tuple[str, str]] = [
    ("项目编号", "code"), ("项目名称", "name"), ("所属项目编号", "parent_code"), ("所属规划", "programme"),
    ("年度计划", "tranche"), ("项目类别", "category"), ("项目子类", "subtype"), ("建设性质", "nature"),
    ("建设地点（村代码）", "villages"), ("建设内容及规模", "content"), ("建设规模（数量）", "quantity"), ("单位", "unit"),
    ("主管部门", "department"), ("实施单位", "implementer"), ("责任人", "responsible"), ("计划开工时间", "start_planned"),
    ("计划完工时间", "end_planned"), ("资金规模合计（万元）", "total_yuan"),
]  # fmt: skip
TAIL: list[tuple[str, str]] = [
    ("受益户数", "households"), ("受益人口", "people"), ("受益脱贫户数", "poor_households"), ("受益脱贫人口", "poor_people"),
    ("绩效目标", "indicators"), ("带贫减贫机制", "benefit_mechanism"), ("入库时间", "entered_on"), ("项目状态", "status"),
]  # fmt: skip


def _source_header(led: Ledger, key: str) -> str:
    return f"{led.rules.sources[key].label}（万元）"


def headers(led: Ledger) -> list[str]:
    """The sheet's columns."""
    return [
        "序号",
        *(h for h, _ in FIELDS),
        *(_source_header(led, k) for k in led.rules.sources),
        *(h for h, _ in TAIL),
    ]


def _by_source(p: Project) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for ln in p.lines:
        out[ln["source"]] = out.get(ln["source"], Decimal(0)) + ln["amount"]
    return out


def row_of(led: Ledger, p: Project, n: int) -> list[Any]:
    """One project as a row of the sheet (money in 万元, exact to the fen)."""
    rec = p.record
    values: dict[str, Any] = {
        "code": p.code,
        "villages": ",".join(rec["villages"]),
        "total_yuan": to_wan(p.total).normalize(),
        "quantity": Decimal(rec["quantity"]).normalize() if rec.get("quantity") is not None else None,
        "indicators": "; ".join(
            ":".join([i["name"], i.get("target", ""), i.get("unit", "")]).rstrip(":") for i in rec["indicators"]
        ),
        "status": STATUS_LABELS[p.status][0],
        **{
            k: (rec.get("beneficiaries") or {}).get(k)
            for k in ("households", "people", "poor_households", "poor_people")
        },
    }
    money = _by_source(p)
    out: list[Any] = [n]
    for _, name in FIELDS:
        value = values[name] if name in values else rec.get(name)
        out.append(_iso(value))
    out += [to_wan(money[k]).normalize() if money.get(k) else None for k in led.rules.sources]
    for _, name in TAIL:
        value = values[name] if name in values else rec.get(name)
        out.append(_iso(value))
    return out


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def export_xlsx(conn: Connection, led: Ledger, path: Path) -> int:
    """Write the library (every project the connection sees) to ``path``; returns the row count."""
    codes = list(conn.execute(text("SELECT code FROM ledger_projects_now ORDER BY code")).scalars())
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = SHEET
    sheet.append([TITLE])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(headers(led))
    for cell in sheet[2]:
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    sheet.freeze_panes = "C3"
    for n, code in enumerate(codes, 1):
        sheet.append(row_of(led, load(conn, code), n))
    notes = book.create_sheet("说明")
    notes.append(
        [
            "金额单位：万元（精确到分，可有六位小数）；资金来源各列之和为资金规模合计。/ Money in 10,000 yuan, exact to the fen."
        ]
    )
    notes.append([f"资金规则版本 / fund rules: {led.rules.version}（{led.rules.dated}）"])
    notes.append(["项目状态一列只读：状态由入库、实施、验收等操作改变。/ The status column is read only."])
    book.save(path)
    return len(codes)


@dataclass
class ImportReport:
    """What an import found and did (or, dry, would do)."""

    file: str
    dry_run: bool
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """As JSON."""
        return {
            "file": self.file,
            "dry_run": self.dry_run,
            "added": self.added,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "problems": self.problems,
            "written": not self.dry_run and not self.problems,
        }


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _read(led: Ledger, path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise InvalidInput(
            f"{path.name} 不是 Excel 文件：{exc}", f"{path.name} is no Excel workbook: {exc}", file=path.name
        ) from None
    sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    head = next((k for k, r in enumerate(rows) if r and "项目编号" in [str(c).strip() if c else "" for c in r]), None)
    if head is None:
        raise InvalidInput(f"{path.name}：找不到“项目编号”列", f"{path.name}: no 项目编号 column", file=path.name)
    names = [str(c).strip() if c is not None else "" for c in rows[head]]
    out = []
    for k, r in enumerate(rows[head + 1 :], start=head + 2):
        values = {names[j]: _cell(v) for j, v in enumerate(r) if j < len(names) and names[j]}
        if any(v is not None for h, v in values.items() if h != "序号"):
            out.append((k, values))
    return names, out


def _record(led: Ledger, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Decimal]]:
    """A sheet row as a project record and its money by source (yuan)."""
    rec: dict[str, Any] = {}
    for header, name in FIELDS:
        if header not in values:
            continue
        value = values[header]
        if name == "total_yuan":
            rec[name] = from_wan(value if value is not None else 0, header)
        elif name == "quantity":
            rec[name] = value
        else:
            rec[name] = None if value is None else str(value)
    categories = {c.label: k for k, c in led.rules.categories.items()}
    subtypes = {s.label: k for k, s in led.rules.subtypes.items()}
    natures = {v[0]: k for k, v in NATURES.items()}
    for name, table in (("category", categories), ("subtype", subtypes), ("nature", natures)):
        if rec.get(name) in table:
            rec[name] = table[rec[name]]
    b = {}
    for header, name in TAIL:
        if name in ("households", "people", "poor_households", "poor_people") and values.get(header) is not None:
            b[name] = int(values[header])
    if any(h in values for h, n in TAIL if n == "households"):
        rec["beneficiaries"] = b
    for header, name in TAIL:
        if header in values and name in ("indicators", "benefit_mechanism", "entered_on"):
            rec[name] = values[header]
    money = {}
    for key in led.rules.sources:
        header = _source_header(led, key)
        if values.get(header) is not None:
            money[key] = from_wan(values[header], header)
    return rec, money


def _apply(
    conn: Connection, led: Ledger, who: Principal, rec: dict[str, Any], money: dict[str, Decimal], rep: ImportReport
) -> None:
    code = str(rec.get("code") or "")
    exists = code and conn.execute(text("SELECT 1 FROM ledger_projects WHERE code = :c"), {"c": code}).first()
    year = today(led.rules).year
    if not exists:
        made = library.add_project(led, who, rec, reason="项目库导入 / library import")
        for source, amount in money.items():
            if amount > 0:
                library.add_line(led, who, made, source, year, amount, note="项目库导入 / import")
        rep.added.append(made)
        return
    p = load(conn, code)
    current = {c: p.record.get(c) for c in library.COLUMNS}
    wanted = read_record(conn, led.rules, {k: v for k, v in rec.items() if k != "code"})
    changes = {k: v for k, v in wanted.items() if _differs(current.get(k), v)}
    held = _by_source(p)
    deltas = {s: money.get(s, Decimal(0)) - held.get(s, Decimal(0)) for s in set(money) | set(held)}
    deltas = {s: d for s, d in deltas.items() if d != 0}
    if not changes and not deltas:
        rep.unchanged += 1
        return
    reason = "项目库导入 / library import"
    for source, d in sorted(deltas.items()):  # give back first, so the lines never exceed a lowered total
        if d < 0:
            left = -d
            for ln in sorted((x for x in p.lines if x["source"] == source and x["amount"] > 0), key=lambda x: -x["id"]):
                part = min(left, ln["amount"])
                library.reverse_line(led, who, code, ln["id"], reason, part)
                left -= part
                if left <= 0:
                    break
    if changes:
        library.amend_project(
            led,
            who,
            code,
            {k: rec[k] for k in changes if k in rec} | ({"villages": rec["villages"]} if "villages" in changes else {}),
            reason,
        )
    for source, d in sorted(deltas.items()):
        if d > 0:
            library.add_line(led, who, code, source, year, d, note=reason)
    rep.changed.append(code)


def _differs(old: Any, new: Any) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        return (Decimal(str(old)) if old is not None else None) != (Decimal(str(new)) if new is not None else None)
    if isinstance(old, list) and isinstance(new, list):
        return old != new
    return (old or None) != (new or None)


def import_xlsx(led: Ledger, who: Principal, path: Path, dry_run: bool = False) -> ImportReport:
    """Import the sheet (add and amend projects, adjust their lines): all or nothing."""
    require(who, LIBRARY, "library")
    names, rows = _read(led, path)
    rep = ImportReport(path.name, dry_run)
    known = set(headers(led))
    for h in names:
        if h and h not in known:
            rep.problems.append({"row": 2, "column": h, "zh": f"未知的列 “{h}”", "en": f"unknown column '{h}'"})
    labels = {k: LABELS[k][0] for k in LABELS} | {name: header for header, name in FIELDS + TAIL}
    with acting(led.engine, who) as conn:
        outer = conn.begin_nested()
        for number, values in rows:
            savepoint = conn.begin_nested()
            try:
                rec, money = _record(led, values)
                _apply(conn, led, who, rec, money, rep)
                savepoint.commit()
            except (FupinError, ValueError) as exc:
                savepoint.rollback()
                details = getattr(exc, "details", {})
                column = str(details.get("field") or "")
                zh, en = (exc.zh, exc.en) if isinstance(exc, FupinError) else (str(exc), str(exc))
                rep.problems.append(
                    {
                        "row": number,
                        "column": labels.get(column, column),
                        "zh": zh,
                        "en": en,
                        "check": details.get("check"),
                    }
                )
        if dry_run or rep.problems:
            outer.rollback()  # nothing written: a dry run, or a sheet with problems
        else:
            outer.commit()
    if rep.problems and not dry_run:
        rep.added, rep.changed = [], []
    return rep
