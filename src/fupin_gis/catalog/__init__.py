"""The layer catalog: declarative layer specs read from ``layers/*.toml``."""

from fupin_gis.catalog.loader import load_catalog
from fupin_gis.catalog.models import Catalog, EnumValue, FieldSpec, LayerSpec

__all__ = ["Catalog", "EnumValue", "FieldSpec", "LayerSpec", "load_catalog"]
