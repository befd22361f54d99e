"""fupin-gis: spatial planning and asset registry for rural poverty alleviation."""

__version__ = "0.1.0"
