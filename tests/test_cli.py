"""The command line against a server named by DATABASE_URL (here: the test database)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from fupin_gis.catalog import Catalog
from fupin_gis.cli import app


def test_database_url_is_used_by_every_command(test_db_url: str, catalog: Catalog) -> None:
    env = {"DATABASE_URL": test_db_url.replace("postgresql+psycopg://", "postgresql://")}
    runner = CliRunner()
    up = runner.invoke(app, ["db", "up"], env=env)
    assert up.exit_code == 0, up.output
    assert "DATABASE_URL" in up.output
    url = runner.invoke(app, ["db", "url"], env=env)
    assert url.output.strip() == test_db_url
    check = runner.invoke(app, ["db", "check"], env=env)
    assert check.exit_code == 0, check.output


def test_unreachable_database_url_fails_clearly() -> None:
    result = CliRunner().invoke(app, ["db", "up"], env={"DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none"})
    assert result.exit_code == 1
    assert "无法连接数据库" in result.output and "Cannot connect" in result.output


def test_database_away_is_one_line_not_a_traceback() -> None:
    for args in (["batches"], ["coverage", "runs"], ["users", "list"]):
        result = CliRunner().invoke(app, args, env={"DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none"})
        assert result.exit_code == 1, (args, result.output)
        assert "数据库不可用" in result.output and "database unavailable" in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_layers_list_json(catalog: Catalog) -> None:
    result = CliRunner().invoke(app, ["layers", "list", "--json"])
    assert result.exit_code == 0
    names = [layer["name"] for layer in json.loads(result.output)]
    assert names == [s.name for s in catalog.ordered()]


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for args in (
        ["--help"],
        ["db", "--help"],
        ["db", "up", "--help"],
        ["demo", "--help"],
        ["serve", "--help"],
        ["layers", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.output, args
