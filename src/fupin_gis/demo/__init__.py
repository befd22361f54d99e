"""Demo data: a synthetic county, the same for the same seed, at three scales.

``generate`` builds every layer in a metric CRS; ``load_demo`` replaces the database's layers
with them in one transaction; ``write_layer`` writes one layer to a file (for benchmarks).
"""

from fupin_gis.demo.generate import DemoCounty, generate
from fupin_gis.demo.load import load_demo, write_layer

__all__ = ["DemoCounty", "generate", "load_demo", "write_layer"]
