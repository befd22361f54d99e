"""Pydantic models of the layer catalog: layers, fields, enumerations and styles."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fupin_gis.catalog.names import IDENTIFIER, SqlName

__all__ = ["IDENTIFIER", "SYSTEM_COLUMNS", "Catalog", "EnumDef", "EnumValue", "FieldSpec", "LayerSpec", "SqlName"]
# Columns every layer table has; catalog fields may not reuse these names.
SYSTEM_COLUMNS = ("id", "geom", "extra", "batch_id", "created_at", "updated_at")

FieldType = Literal["text", "code", "integer", "number", "boolean", "date", "enum"]
GeometryType = Literal["Point", "MultiLineString", "MultiPolygon"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EnumValue(_Strict):
    """One value of an enumeration: stored key, Chinese label, English label, synonyms."""

    key: str
    label: str
    en: str
    synonyms: tuple[str, ...] = ()


class EnumDef(_Strict):
    """A value of an enumeration as written in TOML (the key is the table key)."""

    label: str
    en: str
    synonyms: tuple[str, ...] = ()


class FieldSpec(_Strict):
    """One attribute of a layer: type, labels, import aliases, rules."""

    name: SqlName
    type: FieldType
    label: str
    en: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    required: bool = False
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    digits: int | None = Field(default=None, description="exact digit count of a code field")
    enum: str | None = Field(default=None, description="name of a shared enumeration")
    values: dict[str, EnumDef] | None = Field(default=None, description="a local enumeration")
    decisive: bool = Field(
        default=False,
        description="a coverage rule or check reads it: an import never files a column that may be it away unasked",
    )
    import_default: str | None = Field(
        default=None,
        description="the value a survey of what exists implies when its file has no such column (reported when applied)",
    )

    def enum_values(self, catalog: Catalog) -> tuple[EnumValue, ...]:
        """The values of this enum field, local or shared."""
        if self.values is not None:
            defs = self.values
        elif self.enum is not None:
            defs = catalog.enums[self.enum]
        else:
            return ()
        return tuple(EnumValue(key=k, **v.model_dump()) for k, v in defs.items())


class SeatSpec(_Strict):
    """A secondary point geometry of a layer, such as a village's seat (村委会)."""

    name: SqlName
    label: str
    en: str


class StyleValue(_Strict):
    """Style overrides for one value of the field a layer is styled by."""

    color: str | None = None
    fill_color: str | None = None
    weight: float | None = None
    radius: float | None = None
    dash: str | None = None


class StyleSpec(_Strict):
    """How the map draws a layer."""

    kind: Literal["point", "line", "polygon"]
    color: str = "#3388ff"
    fill_color: str | None = None
    weight: float = 2
    radius: float = 4
    fill_opacity: float = 0.2
    dash: str | None = None
    by: SqlName | None = None
    values: dict[str, StyleValue] = {}
    popup: tuple[SqlName, ...] = ()


class LayerSpec(_Strict):
    """One layer of the registry, as declared in ``layers/<name>.toml``."""

    name: SqlName
    label: str
    en: str
    group: Literal["admin", "planning", "infrastructure", "land", "people"]
    geometry: GeometryType
    geometry_required: bool = True
    seat: SeatSpec | None = None
    key: SqlName | None = None
    restricted: bool = False
    # restricted layers: source columns that hold personal data (names, ID and phone numbers); an
    # import drops them with a warning, never keeps them in extra (values are also recognised)
    personal_columns: tuple[str, ...] = ()
    order: int = 100
    description: str = ""
    include: tuple[str, ...] = ()
    fields: tuple[FieldSpec, ...]
    style: StyleSpec

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``; KeyError if there is none."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the catalog fields, in order."""
        return tuple(f.name for f in self.fields)


class Catalog(_Strict):
    """Every layer of a deployment, with the shared enumerations and the storage SRID."""

    srid: int
    enums: dict[str, dict[str, EnumDef]]
    layers: dict[str, LayerSpec]
    # Columns GIS tools add on their own (row ids, shape lengths and areas): an import keeps them in
    # extra without asking what they are.
    ignore_columns: tuple[str, ...] = ()

    def layer(self, name: str) -> LayerSpec:
        """The layer called ``name``; KeyError if there is none."""
        return self.layers[name]

    def ordered(self) -> list[LayerSpec]:
        """Layers in map drawing order (bottom first)."""
        return sorted(self.layers.values(), key=lambda spec: (spec.order, spec.name))
