"""One Settings object for the whole product: env prefix ``FUPIN_``, nested sections, ``DATABASE_URL``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fupin_gis.resources import data_dir


class DbSettings(BaseModel):
    """Where the data lives."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of an existing PostGIS server; unset: the embedded cluster.",
    )
    local_dir: Path = Field(
        default=Path("var/pg"), description="Folder of the embedded cluster (relative: to the cwd)."
    )
    name: str = Field(default="fupin", description="Database name in the embedded cluster.")
    user: str = Field(default="fupin", description="Role name in the embedded cluster.")


class MapSettings(BaseModel):
    """The web map."""

    basemap: Literal["none", "tianditu", "xyz"] = "none"
    basemap_url: str | None = Field(default=None, description="XYZ tile URL when basemap=xyz.")
    tianditu_key: str | None = None
    tianditu_grid: Literal["w", "c"] = "w"
    warm_overviews: bool = Field(
        default=True, description="Build low-zoom overviews in the background at start-up and after imports."
    )


class AuthSettings(BaseModel):
    """Accounts and sessions."""

    required: bool = Field(
        default=True, description="Every page and API call needs an account (off: the system sees all)."
    )
    cookie_secure: bool = Field(
        default=True, description="Session cookies only over HTTPS (browsers treat localhost as secure)."
    )
    session_hours: float = Field(default=12.0, description="How long a login lasts.")
    login_free_failures: int = Field(
        default=5, ge=1, description="Wrong passwords in a row an account may give before each try must wait."
    )
    login_backoff_s: float = Field(
        default=1.0, ge=0, description="The first wait after the free failures; it doubles with each further one."
    )
    login_backoff_max_s: float = Field(default=60.0, ge=0, description="The longest wait between two tries.")
    login_lock_failures: int = Field(
        default=30, ge=1, description="Wrong passwords in a row that lock the account (known or not)."
    )
    login_lock_minutes: float = Field(
        default=15.0, gt=0, description="How long a lock lasts; failures this old are forgotten."
    )
    login_address_free_failures: int = Field(
        default=20, ge=1, description="Wrong passwords from one client address (any account) before it must wait."
    )
    login_address_lock_failures: int = Field(
        default=100, ge=1, description="Wrong passwords from one client address that lock that address."
    )


class IngestSettings(BaseModel):
    """Limits of uploads and archives."""

    max_upload_mb: int = Field(default=512, description="Largest upload accepted over HTTP.")
    max_unpacked_mb: int = Field(default=2048, description="Largest total size an archive may unpack to.")
    max_ratio: float = Field(default=200.0, description="Largest compression ratio of an archive entry.")
    chunk_size: int = Field(default=25_000, description="Features validated and staged per chunk.")
    defer_index_min: int = Field(
        default=50_000, description="A load this large into an empty layer rebuilds its indexes once."
    )


class CoverageSettings(BaseModel):
    """Defaults of the coverage rules (mission: 'What it computes')."""

    metric_srid: int | None = Field(
        default=None, description="Metric CRS for distances; unset: the Gauss-Kruger 3° zone of the data."
    )
    snap_tolerance_m: float = 5.0
    min_road_width_m: float = 3.5
    unknown_width_ok: bool = Field(
        default=True, description="A hardened road of unrecorded width counts as wide enough."
    )
    access_distance_m: float = Field(default=500.0, description="How far a seat may be from the road it joins.")
    search_margin_m: float = Field(
        default=10_000.0, description="Rule 1 searches a township's surroundings grown by this."
    )
    water_distance_m: float = Field(default=800.0, description="Rule 2: safe water point within this distance.")
    pipe_distance_m: float = Field(
        default=50.0, description="Rule 2: a household this close to a supply pipeline is piped."
    )
    checklist_file: Path = Field(
        default_factory=lambda: data_dir("plans") / "checklists.toml", description="Rule 6's lists."
    )
    rai_distance_m: float = Field(default=2000.0, description="Rule 3: all-season road within this distance.")
    topology_gap_m: float = Field(
        default=50.0,
        description="Topology report: a free road end this close to another road is a near miss; a spur this short an overshoot.",
    )
    plan_file: Path = Field(
        default_factory=lambda: data_dir("plans") / "tongjiang-2009-2011.toml", description="Rule 7's plan."
    )
    keep_runs: int | None = Field(
        default=None,
        ge=1,
        description="After each run keep this many newest snapshots (and any a report was exported from); unset: all.",
    )


class LedgerSettings(BaseModel):
    """The project ledger (projects and funds)."""

    rules_file: Path = Field(
        default_factory=lambda: data_dir("plans") / "fund-rules.toml", description="The seven fund rules."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The address the public reaches the app at: a notice sheet's QR code points to its page there.",
    )
    rerun_coverage: bool = Field(
        default=True, description="An acceptance reruns the coverage rules and records what the project changed."
    )


class OgcSettings(BaseModel):
    """OGC API Features and Tiles under ``/ogc`` (QGIS, GDAL/OGR, OWSLib)."""

    public_url: str | None = Field(
        default=None,
        description="The address clients reach /ogc at (behind a proxy, e.g. https://gis.example.cn/ogc); unset: the request's.",
    )
    cursor_secret: str | None = Field(
        default=None,
        description="Key that signs the paging cursors; unset: generated once and kept in secret_file.",
    )
    secret_file: Path = Field(
        default=Path("var/ogc-cursor.key"),
        description="Where the generated cursor key is kept (relative: to the cwd); every server process of a machine shares it.",
    )
    count_timeout_ms: int = Field(
        default=2000, ge=1, description="numberMatched is counted once, within this time; omitted when it runs out."
    )
    default_limit: int = Field(default=1000, ge=1, le=10_000, description="Features a page holds unless asked.")
    max_limit: int = Field(default=10_000, ge=1, le=10_000, description="The most features one page may hold.")


class Settings(BaseSettings):
    """Every setting of fupin-gis; read from the environment (``FUPIN_DB__URL`` …) and ``.env``."""

    model_config = SettingsConfigDict(env_prefix="FUPIN_", env_nested_delimiter="__", env_file=".env", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "FUPIN_DATABASE_URL"))
    db: DbSettings = DbSettings()
    map: MapSettings = MapSettings()
    auth: AuthSettings = AuthSettings()
    ingest: IngestSettings = IngestSettings()
    coverage: CoverageSettings = CoverageSettings()
    ogc: OgcSettings = OgcSettings()
    ledger: LedgerSettings = LedgerSettings()
    catalog_dir: Path = Field(default_factory=lambda: data_dir("layers"))
    web_dir: Path = Field(default_factory=lambda: data_dir("web"))

    @property
    def external_url(self) -> str | None:
        """The URL of an existing server, if one is configured (``DATABASE_URL`` wins)."""
        return self.database_url or self.db.url
