"""The ``fupin-gis`` command. Thin: each command parses its options and calls one function.

One module per command group; errors are reported once, by the root group (``common.FupinGroup``).
"""

from __future__ import annotations

import sys

from fupin_gis.cli import demo, edits, imports, reports  # noqa: F401  (their commands sit on the root app)
from fupin_gis.cli.common import app
from fupin_gis.cli.coverage import coverage_app
from fupin_gis.cli.db import db_app
from fupin_gis.cli.layers import layers_app
from fupin_gis.cli.profiles import profiles_app
from fupin_gis.cli.projects import projects_app
from fupin_gis.cli.projects_works import procure_cmd  # noqa: F401  (the works and money commands of projects)
from fupin_gis.cli.users import users_app

app.add_typer(db_app, name="db")
app.add_typer(layers_app, name="layers")
app.add_typer(coverage_app, name="coverage")
app.add_typer(users_app, name="users")
app.add_typer(profiles_app, name="profiles")
app.add_typer(projects_app, name="projects")

__all__ = ["app", "main"]


def main() -> None:
    """Entry point for ``python -m fupin_gis``."""
    sys.exit(app())
