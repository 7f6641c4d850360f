"""Embedded mode: the sink owns its chDB directory and answers read-only SQL over HTTP with a
bearer token; results keep their Python types exactly as clickhouse-connect returns them."""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal

import httpx
import pytest
from click.testing import CliRunner

from meterline.bench.data import enriched_events
from meterline.cli import cli
from meterline.kafka_records import produce_records
from meterline.local.sink import SinkProcess
from schemas.codec import encode_batch
from sinks.config import SinkSettings
from sinks.errors import QueryError, QueryRefused
from sinks.owner import OwnerInfo, read_owner, write_owner
from sinks.query_client import RemoteQueryClient, open_query_client
from sinks.readonly import ReadOnlyClient

pytestmark = pytest.mark.integration

TYPED = """
SELECT
    toDecimal128('123456789.000000000001', 12) AS money,
    CAST(NULL AS Nullable(Decimal(38, 12))) AS no_money,
    toDateTime64('2026-11-01 12:34:56.789', 3, 'UTC') AS at_utc,
    toDateTime64('2026-11-01 12:34:56.789', 3, 'Europe/Berlin') AS at_berlin,
    toDate('2026-02-28') AS day,
    toUInt64(18446744073709551615) AS big,
    toInt128('-170141183460469231731687303715884105728') AS huge,
    3.25 AS f,
    ['a', 'b'] AS arr,
    (1, 'x') AS tup,
    map('k', toDecimal64('1.5', 4)) AS m,
    toUUID('01234567-89ab-cdef-0123-456789abcdef') AS id,
    true AS flag,
    'ünïcode ✓' AS s
"""


@pytest.fixture(scope="module")
def sink(tansu, tmp_path_factory):
    from schemas.topics import Topics

    prefix = "qe."
    from meterline.kafka_admin import create_topics

    asyncio.run(create_topics(tansu.bootstrap, Topics(prefix)))
    process = SinkProcess(
        bootstrap=tansu.bootstrap,
        topic_prefix=prefix,
        data_dir=tmp_path_factory.mktemp("qe") / "chdb",
        group_id="qe-sink",
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_results_round_trip_with_the_same_types_as_a_direct_client(sink, chdb_client):
    remote = sink.client.query(TYPED)
    direct = chdb_client.query(TYPED)
    assert remote.column_names == tuple(direct.column_names)
    assert remote.result_rows == [tuple(r) for r in direct.result_rows]
    for got, want in zip(remote.result_rows[0], direct.result_rows[0], strict=True):
        assert type(got) is type(want)
        if hasattr(want, "tzinfo"):
            assert got.tzinfo == want.tzinfo
    assert remote.result_rows[0][0] == Decimal("123456789.000000000001")


def test_parameters_and_stored_usage_are_queryable(sink, tansu):
    events = enriched_events(40, seed=99)
    asyncio.run(produce_records(tansu.bootstrap, "qe.meterline.usage.enriched",
                                [(b"k", encode_batch(events))], compression="gzip"))  # fmt: skip
    assert sink.wait_until("SELECT count() FROM {db}.usage_events FINAL", 40, 60) == 40
    result = sink.query(
        "SELECT sum(cost) FROM {db}.usage_events FINAL WHERE occurred_at >= {since:DateTime64(3)}"
        " AND customer = {c:String}",
        {"since": events[0].occurred_at, "c": events[0].customer},
    )
    wanted = sum(
        e.cost for e in events
        if e.customer == events[0].customer and e.occurred_at >= events[0].occurred_at
    )  # fmt: skip
    assert result.result_rows == [(wanted,)]
    stats = sink.stats()
    assert stats["rows_stored"] >= 40 and "lag_total" in stats


@pytest.mark.parametrize(
    "sql",
    ["INSERT INTO meterline.usage_events (event_id) VALUES ('x')",
     "DROP TABLE meterline.usage_events",
     "SELECT 1; DROP TABLE meterline.usage_events",
     "ALTER TABLE meterline.usage_events DELETE WHERE 1"],
)  # fmt: skip
def test_writes_are_refused(sink, sql):
    with pytest.raises(QueryRefused):
        sink.client.query(sql)
    assert sink.query("SELECT count() FROM system.tables WHERE name = 'usage_events'").result_rows


def test_readonly_setting_guards_what_the_statement_check_lets_through(sink):
    # Table functions are refused by the statement rules; readonly=1 is the second fence.
    with pytest.raises(QueryRefused, match=r"table function file\(\)"):
        sink.client.query("SELECT * FROM file('x.csv', 'CSV', 'a String')")
    assert sink.query("SELECT getSetting('readonly')").result_rows == [(1,)]
    # After refusals the writer still writes: the session was not left read-only.
    assert sink.running()


def test_token_is_required(sink):
    owner = read_owner(sink.data_dir)
    assert owner is not None and owner.pid == sink.pid
    assert (sink.data_dir / "meterline-owner.json").stat().st_mode & 0o777 == 0o600
    response = httpx.post(f"{owner.url}/query", json={"sql": "SELECT 1"})
    assert response.status_code == 401
    wrong = RemoteQueryClient(owner.url, "not-the-token")
    with pytest.raises(QueryError, match="401"):
        wrong.query("SELECT 1")
    wrong.close()
    assert httpx.get(f"{owner.url}/health").json() == {"status": "ok"}


def test_open_query_client_finds_the_owner(sink, monkeypatch):
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", f"chdb://{sink.data_dir}")
    client = open_query_client(SinkSettings())
    try:
        assert isinstance(client, RemoteQueryClient)
        assert client.query("SELECT 41 + 1").result_rows == [(42,)]
    finally:
        client.close()


def test_meterline_sql_goes_through_the_owner(sink, monkeypatch):
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", f"chdb://{sink.data_dir}")
    runner = CliRunner()
    result = runner.invoke(cli, ["sql", "SELECT toDecimal64('1.50', 2) AS x", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == ["x", "1.50"]
    refused = runner.invoke(cli, ["sql", "DROP TABLE meterline.usage_events"])
    assert refused.exit_code == 1
    assert "only SELECT, WITH … SELECT, EXPLAIN and DESCRIBE TABLE run here" in refused.output
    assert "Traceback" not in refused.output


def test_without_a_live_owner_the_store_is_opened_directly(chdb_url, monkeypatch):
    data_dir = chdb_url[len("chdb://") :]
    # A file left by a killed owner: its pid no longer runs.
    write_owner(__import__("pathlib").Path(data_dir),
                OwnerInfo(pid=2**22 + 7, url="http://127.0.0.1:9", token="t"))  # fmt: skip
    monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", chdb_url)
    client = open_query_client(SinkSettings())
    assert isinstance(client, ReadOnlyClient)
    assert client.query("SELECT 7").result_rows == [(7,)]
    with pytest.raises(QueryRefused):
        client.query("DROP DATABASE default")
    os.unlink(os.path.join(data_dir, "meterline-owner.json"))
