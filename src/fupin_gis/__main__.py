"""Run the command line: ``python -m fupin_gis``."""

from fupin_gis.cli import main

main()
