"""What every ledger action needs: the engine, the layer catalog, the fund rules and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from fupin_gis.catalog import Catalog
from fupin_gis.ledger.checks import Checks
from fupin_gis.ledger.config import FundRules, load_rules
from fupin_gis.settings import Settings


@dataclass(frozen=True)
class Ledger:
    """The project ledger of one database, under one version of the fund rules."""

    engine: Engine
    catalog: Catalog
    rules: FundRules
    settings: Settings

    def checks(self) -> Checks:
        """A fresh record of the checks one action applies."""
        return Checks(self.rules)

    @property
    def srid(self) -> int:
        """The storage CRS of the registry (from the catalog)."""
        return self.catalog.srid


def open_ledger(engine: Engine, catalog: Catalog, settings: Settings) -> Ledger:
    """The ledger on ``engine`` with the rules file the settings name (checked against the catalog)."""
    return Ledger(engine, catalog, load_rules(settings.ledger.rules_file, catalog), settings)
