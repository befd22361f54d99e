"""What a report is, independent of its format: sections of typed columns, figures, map layers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pandas and geopandas load when a table is written, not for every command
    import geopandas as gpd
    import pandas as pd

Kind = Literal["text", "int", "num1", "num2", "pct", "bool"]


@dataclass(frozen=True)
class Column:
    """A column: a short ASCII key (also the Shapefile field name), Chinese and English headers, a kind."""

    key: str
    zh: str
    en: str
    kind: Kind = "text"


Row = dict[str, Any]  # one row of a section, keyed by its columns' keys


@dataclass
class Section:
    """One table of a report (one Excel sheet, one CSV file): rows keyed by ``Column.key``.

    Every reader takes a value by its column's key (``row["rai"]``), never by a position: a
    column inserted into a section cannot shift what another reader prints.
    """

    key: str
    zh: str
    en: str
    columns: list[Column]
    rows: list[Row]
    note: str = ""

    def __post_init__(self) -> None:
        keys = self.keys()
        if len(set(keys)) != len(keys):
            raise ValueError(f"section {self.key}: a column key twice in {keys}")
        wanted = set(keys)
        for row in self.rows:
            if row.keys() != wanted:
                extra, missing = sorted(row.keys() - wanted), sorted(wanted - row.keys())
                raise ValueError(
                    f"section {self.key}: row keys differ from the columns (extra {extra}, missing {missing})"
                )

    def keys(self) -> list[str]:
        """The columns' keys, in order."""
        return [c.key for c in self.columns]

    def cells(self, row: Row) -> list[tuple[Column, Any]]:
        """``row``'s values with their columns, in the columns' order (for tabular writers)."""
        return [(c, row[c.key]) for c in self.columns]

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with one column per key, in the columns' order."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.keys())


@dataclass(frozen=True)
class Chart:
    """A figure of a report: its caption and the function drawing it (a matplotlib ``Figure``),
    called when the report is printed (HTML, PDF); ``raster``: embedded as PNG, not SVG."""

    caption: str
    draw: Callable[[], Any]
    raster: bool = False


@dataclass
class Report:
    """A report built from one coverage snapshot (or two, for ``changes``)."""

    name: str
    zh: str
    en: str
    run: dict[str, Any]
    about: list[tuple[str, str]]
    sections: list[Section]
    figures: list[Chart] = field(default_factory=list)  # for HTML and PDF
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
