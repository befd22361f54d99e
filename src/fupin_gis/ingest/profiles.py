"""Import profiles: a county's survey conventions, confirmed once and reused.

A profile holds a complete reading of one kind of file — every column's target (a field, a flag
``field=value`` or ``-`` for extra), the value answers (``--values``), the whole-file values
(``--set``), the encoding and the CRS — with the columns it was made from as its signature. A
file of a layer whose columns are exactly a profile's signature is read with it, and the report
says so; ``--profile NAME`` forces one. Every save and delete writes its audit row in the same
transaction. Profiles travel between counties as TOML.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from fupin_gis.auth.accounts import audit
from fupin_gis.catalog import Catalog
from fupin_gis.errors import InvalidInput, NotFound
from fupin_gis.ingest.values import norm

NAME = re.compile(r"^[\w.\-\u3400-\u9fff]{1,64}$")


@dataclass
class Profile:
    """One saved reading."""

    name: str
    layer: str
    columns: list[str]  # the source columns as the file names them
    mapping: dict[str, str] = field(default_factory=dict)  # column -> field, field=value, or "-"
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> source word -> value
    defaults: dict[str, str] = field(default_factory=dict)  # field -> value for the whole file
    encoding: str | None = None
    crs: str | None = None
    datum: str | None = None
    author: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


def signature(columns: list[str]) -> list[str]:
    """The columns as a profile matches them: normalised, sorted."""
    return sorted({norm(c) for c in columns})


def check_name(name: str) -> str:
    """A profile name (letters, digits, Chinese, ``.-_``, at most 64), or InvalidInput."""
    if not NAME.match(name or ""):
        raise InvalidInput(
            f"方案名 “{name}” 无效：1–64 个字母、数字、汉字或 . - _",
            f"Invalid profile name '{name}': 1–64 letters, digits, Chinese characters or . - _",
            field="profile",
            value=name,
        )
    return name


def _row(r: Any) -> Profile:
    return Profile(
        name=r.name,
        layer=r.layer,
        columns=list(r.mapping.keys()),
        mapping=dict(r.mapping),
        values={k: dict(v) for k, v in r.value_maps.items()},
        defaults=dict(r.defaults),
        encoding=r.encoding,
        crs=r.crs,
        datum=r.datum,
        author=r.author,
        created_at=r.created_at.isoformat() if r.created_at else None,
        updated_at=r.updated_at.isoformat() if r.updated_at else None,
    )


COLUMNS = "name, layer, mapping, value_maps, defaults, encoding, crs, datum, author, created_at, updated_at"


def get_profile(conn: Connection, name: str) -> Profile:
    """The profile called ``name``, or NotFound."""
    row = conn.execute(text(f"SELECT {COLUMNS} FROM import_profiles WHERE name = :n"), {"n": name}).one_or_none()
    if row is None:
        raise NotFound(f"没有导入方案 “{name}”", f"No import profile '{name}'", profile=name)
    return _row(row)


def list_profiles(conn: Connection) -> list[Profile]:
    """Every profile, by layer and name."""
    rows = conn.execute(text(f"SELECT {COLUMNS} FROM import_profiles ORDER BY layer, name")).all()
    return [_row(r) for r in rows]


def match_profile(conn: Connection, layer: str, columns: list[str]) -> Profile | None:
    """The newest profile of ``layer`` whose signature is exactly these columns."""
    row = conn.execute(
        text(
            f"SELECT {COLUMNS} FROM import_profiles WHERE layer = :l AND signature = CAST(:s AS text[]) "
            "ORDER BY updated_at DESC LIMIT 1"
        ),
        {"l": layer, "s": signature(columns)},
    ).one_or_none()
    return None if row is None else _row(row)


def check_profile(profile: Profile, catalog: Catalog) -> None:
    """Refuse a profile whose layer or targets the catalog does not have (an import from TOML)."""
    check_name(profile.name)
    if profile.layer not in catalog.layers:
        raise InvalidInput(
            f"导入方案 “{profile.name}” 的图层 “{profile.layer}” 不存在",
            f"profile '{profile.name}': no layer '{profile.layer}'",
            field="layer",
            value=profile.layer,
        )
    spec = catalog.layer(profile.layer)
    targets = [t.partition("=")[0] for t in profile.mapping.values() if t != "-"]
    for name in [*targets, *profile.values, *profile.defaults]:
        if name not in spec.field_names:
            raise InvalidInput(
                f"导入方案 “{profile.name}”：图层 {spec.name} 没有字段 “{name}”",
                f"profile '{profile.name}': layer {spec.name} has no field '{name}'",
                field=name,
            )


def save_profile(conn: Connection, profile: Profile, catalog: Catalog) -> Profile:
    """Store (or replace) ``profile`` in the caller's transaction, with its audit row."""
    check_profile(profile, catalog)
    conn.execute(
        text(
            "INSERT INTO import_profiles (name, layer, signature, mapping, value_maps, defaults, encoding, crs, datum, author) "
            "VALUES (:name, :layer, CAST(:sig AS text[]), CAST(:mapping AS jsonb), CAST(:values AS jsonb), "
            "CAST(:defaults AS jsonb), :encoding, :crs, :datum, :author) "
            "ON CONFLICT (name) DO UPDATE SET layer = EXCLUDED.layer, signature = EXCLUDED.signature, "
            "mapping = EXCLUDED.mapping, value_maps = EXCLUDED.value_maps, defaults = EXCLUDED.defaults, "
            "encoding = EXCLUDED.encoding, crs = EXCLUDED.crs, datum = EXCLUDED.datum, author = EXCLUDED.author, "
            "updated_at = now()"
        ),
        {
            "name": profile.name,
            "layer": profile.layer,
            "sig": signature(profile.columns or list(profile.mapping)),
            "mapping": json.dumps(profile.mapping, ensure_ascii=False),
            "values": json.dumps(profile.values, ensure_ascii=False),
            "defaults": json.dumps(profile.defaults, ensure_ascii=False),
            "encoding": profile.encoding,
            "crs": profile.crs,
            "datum": profile.datum,
            "author": profile.author,
        },
    )
    audit(conn, profile.author, "profile_save", {"profile": profile.name, "layer": profile.layer})
    return get_profile(conn, profile.name)


def delete_profile(conn: Connection, name: str, author: str | None) -> None:
    """Delete a profile (NotFound if there is none), with its audit row."""
    get_profile(conn, name)
    conn.execute(text("DELETE FROM import_profiles WHERE name = :n"), {"n": name})
    audit(conn, author, "profile_delete", {"profile": name})


def to_toml(profiles: list[Profile]) -> str:
    """Profiles as TOML, one ``[[profile]]`` table each, for another county to import."""

    def q(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["# fupin-gis import profiles: fupin-gis profiles import FILE", ""]
    for p in profiles:
        lines += ["[[profile]]", f"name = {q(p.name)}", f"layer = {q(p.layer)}"]
        for key in ("encoding", "crs", "datum"):
            value = getattr(p, key)
            if value:
                lines.append(f"{key} = {q(value)}")
        lines.append("[profile.mapping]")
        lines += [f"{q(c)} = {q(t)}" for c, t in p.mapping.items()]
        lines.append("[profile.defaults]")
        lines += [f"{q(f)} = {q(v)}" for f, v in p.defaults.items()]
        for fieldname, words in p.values.items():
            lines.append(f"[profile.values.{q(fieldname)}]")
            lines += [f"{q(s)} = {q(d)}" for s, d in words.items()]
        lines.append("")
    return "\n".join(lines)


def from_toml(source: str, author: str | None) -> list[Profile]:
    """Profiles read from TOML (``to_toml``'s layout), or InvalidInput naming the problem."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"导入方案文件不是有效的 TOML：{exc}", f"the profile file is not valid TOML: {exc}") from exc
    out = []
    for i, raw in enumerate(data.get("profile", [])):
        try:
            mapping = {str(k): str(v) for k, v in raw.get("mapping", {}).items()}
            out.append(
                Profile(
                    name=str(raw["name"]),
                    layer=str(raw["layer"]),
                    columns=list(mapping),
                    mapping=mapping,
                    values={str(f): {str(s): str(d) for s, d in w.items()} for f, w in raw.get("values", {}).items()},
                    defaults={str(k): str(v) for k, v in raw.get("defaults", {}).items()},
                    encoding=raw.get("encoding"),
                    crs=raw.get("crs"),
                    datum=raw.get("datum"),
                    author=author,
                )
            )
        except (KeyError, AttributeError, TypeError) as exc:
            raise InvalidInput(
                f"导入方案文件第 {i + 1} 个方案缺少 {exc}", f"profile {i + 1} of the file lacks {exc}", field=str(exc)
            ) from exc
    if not out:
        raise InvalidInput("文件中没有导入方案（[[profile]]）", "the file holds no profiles ([[profile]])")
    return out


def with_profile(options: Any, profile: Profile) -> Any:
    """``options`` (ImportOptions) completed by ``profile``: what the user says now wins."""
    from dataclasses import replace

    values = {f: dict(words) for f, words in profile.values.items()}
    for f, words in options.values.items():
        values.setdefault(f, {}).update(words)
    return replace(
        options,
        mapping=profile.mapping | options.mapping,
        values=values,
        defaults=profile.defaults | options.defaults,
        encoding=options.encoding or profile.encoding,
        crs=options.crs or profile.crs,
        datum=options.datum or profile.datum,
    )


def from_report(name: str, report: Any, options: Any) -> Profile:
    """The reading an import just confirmed (its first source), as a profile called ``name``."""
    src = next(s for s in report.sources if s.skipped is None)
    mapping = {r["source"]: (r["target"] if r["target"] is not None else "-") for r in src.readings}
    enc, crs = src.encoding or {}, src.crs or {}
    return Profile(
        name=check_name(name),
        layer=report.layer,
        columns=list(mapping),
        mapping=mapping,
        values=options.values,
        defaults=options.defaults,
        encoding=options.encoding or (enc.get("name") if enc.get("source") == "detected" else None),
        crs=options.crs or (f"EPSG:{crs['epsg']}" if crs.get("source") == "inferred" and crs.get("epsg") else None),
        datum=options.datum,
        author=options.username,
    )
