"""What a report is, independent of its format: sections of typed columns, figures, map layers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd

Kind = Literal["text", "int", "num1", "num2", "pct", "bool"]


@dataclass(frozen=True)
class Column:
    """A column: a short ASCII key (also the Shapefile field name), Chinese and English headers, a kind."""

    key: str
    zh: str
    en: str
    kind: Kind = "text"


@dataclass
class Section:
    """One table of a report (one Excel sheet, one CSV file)."""

    key: str
    zh: str
    en: str
    columns: list[Column]
    rows: list[tuple[Any, ...]]
    note: str = ""

    def records(self) -> list[dict[str, Any]]:
        """The rows keyed by their columns' keys: what readers use, never a position."""
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


@dataclass
class Report:
    """A report built from one coverage snapshot (or two, for ``changes``)."""

    name: str
    zh: str
    en: str
    run: dict[str, Any]
    about: list[tuple[str, str]]
    sections: list[Section]
    # figures for HTML and PDF: (caption, function returning SVG text)
    figures: list[tuple[str, Callable[[], str]]] = field(default_factory=list)
    # geometry layers for GeoPackage and Shapefile: name -> GeoDataFrame (built on demand)
    layers: Callable[[], dict[str, gpd.GeoDataFrame]] | None = None
    headline: list[tuple[str, str]] = field(default_factory=list)
    area: str | None = None  # the county or township it is limited to


def cell(value: Any, kind: Kind) -> str:
    """A value as text for HTML, PDF and CSV (Excel keeps numbers as numbers)."""
    if value is None:
        return ""
    if kind == "bool":
        return "是" if value else "否"
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "num1":
        return f"{value:,.1f}"
    if kind == "num2":
        return f"{value:,.2f}"
    if kind == "int":
        return f"{int(value):,}"
    return str(value)
