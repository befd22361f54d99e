"""Programmes (规划: period, total, category targets, planning area) and their annual tranches
(年度计划: year, approval 文号, villages)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from fupin_gis.auth.accounts import Principal
from fupin_gis.errors import InvalidInput
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import LIBRARY, require
from fupin_gis.ledger.events import record
from fupin_gis.ledger.fields import check_villages
from fupin_gis.ledger.money import share, wan, yuan
from fupin_gis.ledger.sqlutil import acting


def add_programme(
    led: Ledger,
    who: Principal,
    code: str,
    name: str,
    years: tuple[int, int],
    total: Any,
    targets: dict[str, Any],
    planning_area: str | None = None,
    source: str | None = None,
) -> None:
    """A programme whose category targets add up to its total (rule 2)."""
    require(who, LIBRARY, "library")
    amount = yuan(total, "total")
    amounts = {k: yuan(v, f"targets.{k}") for k, v in targets.items()}
    unknown = [k for k in amounts if k not in led.rules.categories]
    if unknown:
        raise InvalidInput(
            f"未知的项目类别：{', '.join(unknown)}", f"unknown categories: {', '.join(unknown)}", field="targets"
        )
    checks = led.checks()
    parts = sum(amounts.values(), amount * 0)
    checks.require(
        not amounts or parts == amount,
        "programme_categories",
        f"分类资金合计 {wan(parts)} 万元，不等于总投资 {wan(amount)} 万元",
        f"the categories add up to {wan(parts)} 万元, not the total of {wan(amount)} 万元",
        "Σ 分类 = 总投资 / categories = total",
        categories=parts,
        total=amount,
    )
    with acting(led.engine, who) as conn:
        if conn.execute(text("SELECT 1 FROM ledger_programmes WHERE code = :c"), {"c": code}).first():
            raise InvalidInput(f"规划 {code} 已存在", f"programme {code} exists", field="code")
        payload = {
            "name": name,
            "years": list(years),
            "total": amount,
            "targets": amounts,
            "planning_area": planning_area,
        }
        event = record(conn, who, "programme_add", None, payload, checks, entity="programme")
        conn.execute(
            text(
                "INSERT INTO ledger_programmes (code, name, start_year, end_year, total_yuan, planning_area, source, event_id) "
                "VALUES (:c, :n, :a, :b, :t, :pa, :s, :e)"
            ),
            {
                "c": code,
                "n": name,
                "a": years[0],
                "b": years[1],
                "t": amount,
                "pa": planning_area,
                "s": source,
                "e": event,
            },
        )
        for category, value in amounts.items():
            conn.execute(
                text(
                    "INSERT INTO ledger_programme_targets (programme, category, amount_yuan, share, event_id) "
                    "VALUES (:p, :c, :a, :s, :e)"
                ),
                {"p": code, "c": category, "a": value, "s": share(value, amount), "e": event},
            )


def add_tranche(
    led: Ledger,
    who: Principal,
    code: str,
    programme: str,
    year: int,
    label: str,
    villages: list[str],
    approval_ref: str | None = None,
    derived: bool = False,
    note: str | None = None,
) -> None:
    """An annual tranche of a programme, with its villages (checked against the registry)."""
    require(who, LIBRARY, "library")
    with acting(led.engine, who) as conn:
        row = conn.execute(
            text("SELECT start_year, end_year FROM ledger_programmes WHERE code = :c"), {"c": programme}
        ).one_or_none()
        if row is None:
            raise InvalidInput(f"规划 {programme} 不存在", f"programme {programme} does not exist", field="programme")
        if not row.start_year <= year <= row.end_year:
            raise InvalidInput(
                f"年度 {year} 不在规划期 {row.start_year}–{row.end_year} 内",
                f"year {year} lies outside the programme's {row.start_year}–{row.end_year}",
                field="year",
            )
        codes = check_villages(conn, villages)
        payload = {"programme": programme, "year": year, "villages": codes, "approval_ref": approval_ref}
        event = record(conn, who, "tranche_add", None, payload, None, note, "tranche")
        conn.execute(
            text(
                "INSERT INTO ledger_tranches (code, programme, year, label, approval_ref, villages, derived, note, event_id) "
                "VALUES (:c, :p, :y, :l, :r, :v, :d, :n, :e)"
            ),
            {
                "c": code,
                "p": programme,
                "y": year,
                "l": label,
                "r": approval_ref,
                "v": codes,
                "d": derived,
                "n": note,
                "e": event,
            },
        )


def programmes(conn: Any) -> list[dict[str, Any]]:
    """Every programme with its category targets and tranches."""
    out = []
    for p in conn.execute(text("SELECT * FROM ledger_programmes ORDER BY code")).mappings():
        targets = conn.execute(
            text(
                "SELECT category, amount_yuan, share FROM ledger_programme_targets WHERE programme = :p ORDER BY category"
            ),
            {"p": p["code"]},
        ).mappings()
        tranches = conn.execute(
            text(
                "SELECT code, year, label, approval_ref, villages, derived, note FROM ledger_tranches WHERE programme = :p ORDER BY year"
            ),
            {"p": p["code"]},
        ).mappings()
        out.append(dict(p) | {"targets": [dict(t) for t in targets], "tranches": [dict(t) for t in tranches]})
    return out
