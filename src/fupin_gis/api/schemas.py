"""Response models of the API routes that return records, so the OpenAPI document says what comes
back (and the fuzz test, tests/test_fuzz.py, checks every answer against it).

The routes hand FastAPI their records encoded as JSON already (``fastapi.encoders.jsonable_encoder``),
so times keep their ``+00:00`` and money its numbers; the models check and document that shape.
Parts whose keys depend on the run or the catalog (a run's rules, a village's result, a report's
rows) are objects with their known fields named and further fields allowed.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"}, description="ISO 8601, with offset")]
Code = Annotated[str, Field(description="行政区划代码 / an administrative code")]


class _Closed(BaseModel):
    """A record whose fields are all named here."""

    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    """A record with the fields named here and possibly more."""

    model_config = ConfigDict(extra="allow")


# -- imports ------------------------------------------------------------------------------------


class BatchSummary(_Open):
    """An import batch (``GET /api/imports``)."""

    id: int
    layer: str
    source: str | None
    sha256: str | None
    username: str | None
    created_at: DateTime
    counts: dict[str, Any] | None
    status: str = Field(description="committed or rolled_back")
    rolled_back_at: DateTime | None


class Batch(BatchSummary):
    """One batch with the import report stored with it."""

    report: dict[str, Any] | None


class Rollback(_Closed):
    """What a rollback did."""

    batch: int
    removed: int
    restored: int


# -- coverage runs --------------------------------------------------------------------------------


class RoadAccess(_Open):
    """Rule 1 for one village."""

    connected: bool
    gap_m: float | None
    gap_segments: list[int] | None
    reason: str | None


class VillageResult(_Open):
    """One village of a run: its code, name and each rule's figures (``water``, ``rai``, ``checks`` …)."""

    code: Code
    name: str | None
    road_access: RoadAccess


class HardenPlan(_Closed):
    """The joint plan: the roads to harden so every village connects (a scope's part of it, for a scoped account)."""

    length_m: float
    segments: list[int]
    by_township: dict[str, float]
    villages_connected_after: int | None


class RunSummary(_Closed):
    """A stored run in the list (``GET /api/coverage/runs``); ``network`` is null for a scoped account."""

    id: int
    created_at: DateTime
    data_version: int | None
    rules: dict[str, Any]
    network: dict[str, Any] | None


class Run(_Open):
    """A run with its township and county totals and its villages, as the caller's scope sees it."""

    run_id: int
    created_at: DateTime
    data_version: int | None
    rules: dict[str, Any]
    summary: dict[str, dict[str, Any]]
    network: dict[str, Any] | None
    harden_plan: HardenPlan | None
    plan: dict[str, Any] | None
    villages: list[VillageResult]


class RunVillage(_Closed):
    """One village of a stored run."""

    run_id: int
    village: VillageResult


class Change(_Open):
    """One village's change between two runs."""

    code: Code
    name: str | None
    change: str = Field(description="added, removed or changed")
    fields: dict[str, dict[str, Any]] | None = None


class RunDiff(_Closed):
    """What changed village by village between two runs."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: int = Field(alias="from")
    to: int
    villages_changed: int
    newly_connected: int
    no_longer_connected: int
    changes: list[Change]


# -- villages -------------------------------------------------------------------------------------


class SearchHit(_Closed):
    """A village or township found by name or code."""

    kind: str = Field(description="village or township")
    code: Code
    name: str
    township: str | None
    bbox: list[float | None]


class AssetColumn(_Closed):
    """A column of a village's asset table."""

    key: str
    label: str


class Assets(_Closed):
    """A layer's assets in the village."""

    layer: str
    label: str
    columns: list[AssetColumn]
    rows: list[dict[str, Any]]


class Village(_Closed):
    """A village: its township, the newest run's result with the checks, its assets."""

    code: Code
    name: str
    township: str | None
    township_code: str | None
    households: int | None
    population: int | None
    bbox: list[float]
    run: dict[str, Any] | None
    result: dict[str, Any] | None
    checks: list[dict[str, Any]]
    assets: list[Assets]


# -- reports --------------------------------------------------------------------------------------


class ReportEntry(_Closed):
    """A registered report."""

    name: str
    label: str
    label_en: str
    personal: bool
    formats: list[str]


class RuleEntry(_Closed):
    """A rule villages-lacking can list villages by."""

    key: str
    label: str
    label_en: str


class ReportList(_Closed):
    """The reports, formats and rules (``GET /api/reports``)."""

    reports: list[ReportEntry]
    formats: list[str]
    rules: list[RuleEntry]


class Line(_Closed):
    """One line of a report's description or headline."""

    item: str
    value: str


class ColumnOut(_Closed):
    """A column of a report table."""

    key: str
    label: str
    label_en: str
    kind: str


class SectionOut(_Closed):
    """A report table: its columns, and rows keyed by the columns' keys."""

    key: str
    label: str
    columns: list[ColumnOut]
    rows: list[dict[str, Any]]


class ReportOut(_Closed):
    """A report as JSON (``GET /api/reports/{name}``): the run it comes from and its tables."""

    report: str
    label: str
    run_id: int | str = Field(description="the coverage run, or what a ledger report comes from")
    about: list[Line]
    headline: list[Line]
    sections: list[SectionOut]
