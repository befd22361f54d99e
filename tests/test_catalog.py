"""The layer catalog: the shipped one is complete and valid; broken ones fail naming file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from fupin_gis.catalog import Catalog, load_catalog
from fupin_gis.catalog.names import LATER_RESERVED, RESERVED_WORDS, sql_name_problem
from fupin_gis.errors import CatalogError

BRIEF_LAYERS = {
    "counties",
    "townships",
    "villages",
    "village_groups",
    "planning_areas",
    "roads",
    "water_points",
    "water_lines",
    "reservoirs",
    "slope_farmland",
    "facilities",
    "households",
    "power_lines",
}
ASSET_LAYERS = {"roads", "water_points", "water_lines", "reservoirs", "facilities", "power_lines"}
REGISTRY_FIELDS = {"asset_class", "owner", "maintainer", "funding_source", "project_code", "year_built", "value_yuan"}


def test_every_layer_of_the_brief(catalog: Catalog) -> None:
    assert set(catalog.layers) == BRIEF_LAYERS
    assert catalog.srid == 4490


def test_asset_layers_carry_registry_fields(catalog: Catalog) -> None:
    for name in ASSET_LAYERS:
        assert set(catalog.layer(name).field_names) >= REGISTRY_FIELDS, name
    assert not REGISTRY_FIELDS & set(catalog.layer("villages").field_names)


def test_admin_codes_and_seats(catalog: Catalog) -> None:
    for name, digits in (("counties", 6), ("townships", 9), ("villages", 12)):
        spec = catalog.layer(name)
        code = spec.field("code")
        assert (code.type, code.digits, code.required, spec.key) == ("code", digits, True, "code")
        assert spec.seat is not None and spec.geometry == "MultiPolygon"
    assert catalog.layer("villages").seat.label == "村委会驻地"


def test_surface_synonyms_and_aliases(catalog: Catalog) -> None:
    roads = catalog.layer("roads")
    surface = roads.field("surface")
    words = {w: v.key for v in surface.enum_values(catalog) for w in (v.label, *v.synonyms)}
    assert words["硬化"] == words["水泥路"] == words["沥青路"] == "hardened"
    assert words["砂石"] == "gravel"
    assert {"路面类型", "路面", "LMLX", "surface"} <= set(surface.aliases) | {surface.name}


def test_households_are_restricted_without_names(catalog: Catalog) -> None:
    spec = catalog.layer("households")
    assert spec.restricted
    assert not {"name", "id_number", "owner"} & set(spec.field_names)


def _copy(tmp_path: Path, catalog: Catalog) -> Path:
    from fupin_gis.settings import Settings

    target = tmp_path / "layers"
    shutil.copytree(Settings().catalog_dir, target)
    return target


@pytest.mark.parametrize(
    ("file", "old", "new", "key"),
    [
        ("roads.toml", 'enum = "status"', 'enum = "statuz"', "fields[5].enum"),
        ("roads.toml", 'by = "surface"', 'by = "width_m"', "style.by"),
        ("roads.toml", 'name = "roads"', 'name = "road"', "name"),
        ("water_points.toml", '"SYBH", "BH"', '"SYBH", "MC"', "aliases"),
        ("villages.toml", "digits = 12\n", "", "fields[0].digits"),
        ("villages.toml", 'geometry = "MultiPolygon"', 'geometry = "Polygon"', "geometry"),
        ("roads.toml", 'hardened = { color = "#cb181d"', 'paved = { color = "#cb181d"', "style.values.paved"),
        ("facilities.toml", '"卫生站"', '"小学"', "values"),
        ("households.toml", "[style]", "[style\n", "(syntax)"),
        # names written into SQL: reserved words and bad characters refused, in every place
        ("roads.toml", 'name = "plan_year"', 'name = "order"', "fields[6].name"),
        ("roads.toml", 'name = "plan_year"', 'name = "Plan-Year"', "fields[6].name"),
        ("villages.toml", 'seat = { name = "seat"', 'seat = { name = "user"', "seat.name"),
        ("roads.toml", 'by = "surface"', 'by = "select"', "style.by"),
        ("roads.toml", 'popup = ["code"', 'popup = ["code; drop table roads"', "style.popup"),
    ],
)
def test_broken_catalog_names_file_and_key(
    tmp_path: Path, catalog: Catalog, file: str, old: str, new: str, key: str
) -> None:
    layers = _copy(tmp_path, catalog)
    path = layers / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_catalog(layers)
    assert err.value.details["file"].endswith(file)
    assert key in err.value.details["key"]
    assert file in err.value.zh and file in err.value.en


def test_missing_shared_file(tmp_path: Path, catalog: Catalog) -> None:
    layers = _copy(tmp_path, catalog)
    (layers / "_shared.toml").unlink()
    with pytest.raises(CatalogError, match="_shared.toml"):
        load_catalog(layers)


def test_cli_validate(catalog: Catalog) -> None:
    from typer.testing import CliRunner

    from fupin_gis.cli import app

    result = CliRunner().invoke(app, ["layers", "validate"])
    assert result.exit_code == 0, result.output
    assert f"{len(catalog.layers)} layers" in result.output


def test_reserved_words_are_the_servers(engine: Engine) -> None:
    """The catalog's list of SQL reserved words is PostgreSQL's own (``pg_get_keywords``)."""
    with engine.connect() as conn:
        server = set(conn.execute(text("SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')")).scalars())
        version = conn.execute(text("SHOW server_version_num")).scalar_one()
    assert len(server) > 90 and server <= RESERVED_WORDS
    later = RESERVED_WORDS - server
    assert later == (LATER_RESERVED if int(version) < 160000 else set()), later
    assert sql_name_problem("order") and sql_name_problem("road-class") and sql_name_problem("roads") is None


def test_one_quoting_helper_and_the_storage_srid_from_the_catalog() -> None:
    """Identifiers reach SQL through ``db.sql.ident`` (psycopg's quoting); the storage CRS is the
    catalog's, not a literal in the modules that once wrote 4490 (the 天地图 grid keeps its own)."""
    from fupin_gis.db.sql import column, ident, literal

    assert ident("roads") == '"roads"' and ident('a"b') == '"a""b"' and ident("public", "roads") == '"public"."roads"'
    assert column("l", "surface") == '"l"."surface"' and literal("it's") == "'it''s'"
    src = Path(__file__).resolve().parents[1] / "src" / "fupin_gis"
    helpers = [p.relative_to(src).as_posix() for p in src.rglob("*.py") if "\ndef ident(" in p.read_text("utf-8")]
    assert helpers == ["db/sql.py"], helpers  # one helper: the OGC core and the ledger import it
    for module in ("mapping/village.py", "coverage/topology.py", "reports/figures.py", "db/schema.py"):
        assert "4490" not in (src / module).read_text("utf-8"), module
    tiles = [line for line in (src / "tiles/mvt.py").read_text("utf-8").splitlines() if "4490" in line]
    assert all("CGCS2000" in line for line in tiles), tiles
