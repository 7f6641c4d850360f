"""``meterline db migrate``, ``meterline sql`` (no owner running) and the sink's help."""

from __future__ import annotations

import os
import uuid

import pytest
from click.testing import CliRunner

from meterline.cli import cli
from sinks.owner import OwnerInfo, write_owner

pytestmark = pytest.mark.integration


@pytest.fixture
def store_env(chdb_url, chdb_client, monkeypatch):
    db = f"cli_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", chdb_url)
    monkeypatch.setenv("METERLINE_CLICKHOUSE_DATABASE", db)
    yield db
    chdb_client.command(f"DROP DATABASE IF EXISTS {db}")


def test_db_migrate_applies_then_reports_up_to_date(store_env):
    runner = CliRunner()
    first = runner.invoke(cli, ["db", "migrate"])
    assert first.exit_code == 0, first.output
    assert "applied    1  base tables" in first.output
    second = runner.invoke(cli, ["db", "migrate"])
    assert second.exit_code == 0
    assert "applied" not in second.output
    assert f"database {store_env} is at schema version" in second.output


def test_sql_runs_read_only_queries_directly_when_no_sink_runs(store_env):
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "migrate"]).exit_code == 0
    table = runner.invoke(
        cli, ["sql", "SELECT name FROM system.tables WHERE database = {db:String} "
                     "AND name LIKE 'usage%' ORDER BY name", "-p", f"db={store_env}"],
    )  # fmt: skip
    assert table.exit_code == 0, table.output
    lines = table.output.split()
    assert lines[0] == "name" and set(lines[1]) == {"-"}
    assert lines[2:5] == ["usage_daily", "usage_daily_mv", "usage_events"]
    as_json = runner.invoke(cli, ["sql", "SELECT toDecimal128('0.000000000001', 12) AS c",
                                  "--format", "json"])  # fmt: skip
    assert as_json.output.strip() == '{"c": "0.000000000001"}'
    refused = runner.invoke(cli, ["sql", f"DROP DATABASE {store_env}"])
    assert refused.exit_code == 1 and "only SELECT" in refused.output
    bad_param = runner.invoke(cli, ["sql", "SELECT 1", "-p", "novalue"])
    assert bad_param.exit_code == 2 and "NAME=VALUE" in bad_param.output


def test_migrate_refuses_while_a_sink_owns_the_store(tmp_path, monkeypatch):
    write_owner(tmp_path, OwnerInfo(pid=os.getpid(), url="http://127.0.0.1:9", token="t"))
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", f"chdb://{tmp_path}")
    result = CliRunner().invoke(cli, ["db", "migrate"])
    assert result.exit_code == 1
    assert "owns" in result.output and "Traceback" not in result.output


def test_help_texts():
    runner = CliRunner()
    assert "commits offsets" in runner.invoke(cli, ["sink", "--help"]).output
    assert "raw insert" in runner.invoke(cli, ["bench", "sink", "--help"]).output
