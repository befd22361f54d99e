"""The layer catalog: the shipped one is complete and valid; broken ones fail naming file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fupin_gis.catalog import Catalog, load_catalog
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
