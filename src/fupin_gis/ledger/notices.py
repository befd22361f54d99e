"""Public notices (公示): posted with their period, its unit, level and channel, the content frozen
with its SHA-256 and the printed sheet frozen as a PDF with its own; objections received; the
public list of a village's notices (no personal data)."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.auth.accounts import Principal
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.ledger import disclosure, sheet
from fupin_gis.ledger.context import Ledger
from fupin_gis.ledger.duties import LIBRARY, require, require_area
from fupin_gis.ledger.events import record
from fupin_gis.ledger.fields import check_villages, not_after_today, parse_date, today
from fupin_gis.ledger.library import require_status
from fupin_gis.ledger.sqlutil import acting, dumps
from fupin_gis.ledger.state import load

LEVELS = {"county": ("县级", "county"), "township": ("乡镇级", "township"), "village": ("村级", "village")}
CHANNELS = {
    "board": ("公示栏张榜", "notice board at the site"),
    "web": ("政府网站", "government website"),
    "newspaper": ("报刊", "newspaper"),
    "tv": ("电视", "television"),
    "wechat": ("微信公众号", "WeChat account"),
}


def post_notice(
    led: Ledger,
    who: Principal,
    code: str,
    kind: str,
    start: Any,
    end: Any,
    level: str = "village",
    channel: str = "board",
    day_unit: str | None = None,
    villages: list[str] | None = None,
    print_sheet: bool = True,
) -> int:
    """Post a notice of the project; its content (and, with ``print_sheet``, its PDF) frozen. Returns its id."""
    require(who, LIBRARY, "library")
    kinds = led.rules.rules.disclosure.kinds
    if kind not in kinds:
        raise InvalidInput(f"公示类型 “{kind}” 无效：{', '.join(kinds)}", f"unknown notice kind '{kind}'", field="kind")
    if level not in LEVELS or channel not in CHANNELS:
        raise InvalidInput(
            f"公示层级或渠道无效：{', '.join(LEVELS)}；{', '.join(CHANNELS)}",
            f"unknown level or channel: {', '.join(LEVELS)}; {', '.join(CHANNELS)}",
            field="channel",
        )
    unit = day_unit or kinds[kind].day_unit
    if unit not in disclosure.UNITS:
        raise InvalidInput("天数单位为 calendar 或 working", "day unit: calendar or working", field="day_unit")
    first = parse_date(start, "start") or today(led.rules)
    last = parse_date(end, "end")
    if last is None or last < first:
        raise InvalidInput("公示结束日期须不早于开始日期", "the notice must end on or after its start", field="end")
    not_after_today(first, led.rules, "start")
    days = disclosure.period_days(first, last, unit, led.rules.rules.disclosure.holidays)
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        places = check_villages(conn, villages) if villages else list(p.record["villages"])
        if not places:
            raise InvalidInput("公示须指明村（项目的建设地点）", "a notice names its villages", field="villages")
        checks = led.checks()
        require_status(p, checks, ("library", "implementing", "accepted", "handed_over"), ("公示", "post a notice"))
        disclosure.require_after_acceptance(led, checks, p, kind, first)
        nid = int(conn.execute(text("SELECT nextval('ledger_notices_id_seq')")).scalar_one())
        notice = {
            "kind": kind,
            "level": level,
            "channel": channel,
            "start_on": first,
            "end_on": last,
            "day_unit": unit,
            "days": days,
            "villages": places,
        }
        frozen = sheet.content(conn, led, p, notice, nid, who.username)
        content_hash = sheet.digest(frozen)
        pdf = None
        if print_sheet:
            with tempfile.TemporaryDirectory(prefix="fupin-notice-") as tmp:
                pdf = sheet.pdf(frozen, led.settings.web_dir / "templates", Path(tmp))
        pdf_hash = hashlib.sha256(pdf).hexdigest() if pdf is not None else None
        payload = {k: v for k, v in notice.items()} | {
            "notice": nid,
            "content_sha256": content_hash,
            "pdf_sha256": pdf_hash,
        }
        event = record(conn, who, "notice_post", code, payload, checks, entity="notice")
        conn.execute(
            text(
                "INSERT INTO ledger_notices (id, project_code, kind, level, channel, start_on, end_on, day_unit, days, "
                "villages, content, content_sha256, pdf, pdf_sha256, posted_by, event_id) VALUES (:id, :c, :k, :l, :ch, "
                ":s, :e2, :u, :d, :v, CAST(:ct AS jsonb), :ch256, :pdf, :ph, :who, :e)"
            ),
            {
                "id": nid,
                "c": code,
                "k": kind,
                "l": level,
                "ch": channel,
                "s": first,
                "e2": last,
                "u": unit,
                "d": days,
                "v": places,
                "ct": dumps(frozen),
                "ch256": content_hash,
                "pdf": pdf,
                "ph": pdf_hash,
                "who": who.username,
                "e": event,
            },
        )
    return nid


def record_objection(
    led: Ledger,
    who: Principal,
    code: str,
    notice_id: int,
    summary: str,
    received_on: Any = None,
    resolution: str | None = None,
) -> int:
    """An objection received during a notice (异议), with how it was answered."""
    require(who, LIBRARY, "library")
    if not summary:
        raise InvalidInput("异议须有内容摘要", "an objection needs a summary", field="summary")
    day = not_after_today(parse_date(received_on, "received_on") or today(led.rules), led.rules, "received_on")
    with acting(led.engine, who, code) as conn:
        p = load(conn, code)
        require_area(conn, who, p.record["township_code"], p.record["villages"])
        if not any(n["id"] == notice_id for n in p.notices):
            raise NotFound(f"项目 {code} 没有公示 {notice_id}", f"project {code} has no notice {notice_id}")
        event = record(conn, who, "objection", code, {"notice": notice_id, "on": day}, None, summary, "notice")
        return int(
            conn.execute(
                text(
                    "INSERT INTO ledger_objections (notice_id, received_on, summary, resolution, event_id) "
                    "VALUES (:n, :d, :s, :r, :e) RETURNING id"
                ),
                {"n": notice_id, "d": day, "s": summary, "r": resolution, "e": event},
            ).scalar_one()
        )


def notice(conn: Connection, notice_id: int) -> dict[str, Any]:
    """One notice with its frozen content and PDF, or NotFound."""
    row = conn.execute(text("SELECT * FROM ledger_notices WHERE id = :i"), {"i": notice_id}).mappings().first()
    if row is None:
        raise NotFound(f"没有公示 {notice_id}", f"No notice {notice_id}", notice=notice_id)
    return dict(row)


def village_notices(conn: Connection, led: Ledger, village: str, day: date | None = None) -> dict[str, Any]:
    """The notices of a village, running and archived: public fields only (what the sheet shows)."""
    row = (
        conn.execute(
            text(
                "SELECT v.code, v.name, t.name AS township FROM villages v LEFT JOIN townships t ON t.code = left(v.code, 9) WHERE v.code = :c"
            ),
            {"c": village},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"没有村 {village}", f"No village {village}", village=village)
    day = day or today(led.rules)
    out: dict[str, list[dict[str, Any]]] = {"running": [], "scheduled": [], "archived": []}
    for n in conn.execute(
        text(
            "SELECT id, kind, start_on, end_on, days, day_unit, content, pdf_sha256, content_sha256 FROM ledger_notices "
            "WHERE :v = ANY(villages) ORDER BY start_on DESC, id DESC"
        ),
        {"v": village},
    ).mappings():
        c = sheet.loads(n["content"])
        item = {
            "id": n["id"],
            "kind": c["notice"]["label"],
            "start": n["start_on"],
            "end": n["end_on"],
            "days": n["days"],
            "unit": disclosure.UNITS[n["day_unit"]][0],
            "project": c["project"]["name"],
            "code": c["project"]["code"],
            "content": c["project"]["content"],
            "implementer": c["project"]["implementer"],
            "responsible": c["project"]["responsible"],
            "total_wan": c["total"]["wan"],
            "funds": c["funds"],
            "beneficiaries": c["project"]["beneficiaries"],
            "phones": c["phones"],
            "pdf_sha256": n["pdf_sha256"],
            "content_sha256": n["content_sha256"],
        }
        key = "scheduled" if day < n["start_on"] else ("running" if day <= n["end_on"] else "archived")
        out[key].append(item)
    return {"village": dict(row), **out}
