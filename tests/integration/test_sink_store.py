"""Storing batches in chDB: migrations, idempotent retries, replays, refused rows, FINAL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from meterline.bench.data import enriched_events
from schemas.codec import encode_batch, encode_one
from schemas.usage import EnrichedUsage
from sinks.buffer import BatchBuffer
from sinks.ddl import USAGE_EVENT_COLUMNS
from sinks.migrations import MIGRATIONS, applied_versions, migrate
from sinks.rows import USAGE, Item, Origin, decode_record, usage_row
from sinks.stats import SinkStats
from sinks.store import ClickHouseStore, RetryPolicy
from sinks.writer import store_batch

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.fixture
def db(chdb_client, ch_database):
    migrate(chdb_client, ch_database)
    return ch_database


def _batch(events, per_record, topic="enriched", partition=0, first_offset=0):
    buffer = BatchBuffer(max_rows=10**9, max_seconds=60)
    for n, i in enumerate(range(0, len(events), per_record)):
        got = decode_record(USAGE, topic, partition, first_offset + n,
                            encode_batch(events[i : i + per_record]), NOW)  # fmt: skip
        buffer.add(topic, partition, first_offset + n, 0.0, usage=got.items,
                   dead_letters=got.dead_letters)  # fmt: skip
    return buffer.drain()


def _totals(client, db):
    base = client.query(f"SELECT count(), sum(cost) FROM {db}.usage_events FINAL").result_rows[0]
    raw = client.query(f"SELECT count() FROM {db}.usage_events").result_rows[0][0]
    rollup = client.query(
        f"SELECT sum(requests), sum(cost), sum(input_tokens) FROM {db}.usage_daily"
    ).result_rows[0]
    return base, raw, rollup


def test_migrate_is_idempotent_and_keeps_the_usage_contract(chdb_client, ch_database):
    assert [m.version for m in migrate(chdb_client, ch_database)] == [m.version for m in MIGRATIONS]
    assert migrate(chdb_client, ch_database) == []
    assert applied_versions(chdb_client, ch_database) == {m.version for m in MIGRATIONS}
    columns = chdb_client.query(
        "SELECT name FROM system.columns WHERE database = {db:String} "
        "AND table = 'usage_events' ORDER BY position",
        parameters={"db": ch_database},
    ).result_rows
    names = [c[0] for c in columns]
    assert names[: len(USAGE_EVENT_COLUMNS)] == list(USAGE_EVENT_COLUMNS)
    tables = {r[0] for r in chdb_client.query(f"SHOW TABLES FROM {ch_database}").result_rows}
    assert {"usage_events", "dead_letters", "budget_alerts", "usage_daily", "usage_daily_mv",
            "schema_migrations"} <= tables  # fmt: skip


def test_values_round_trip_exactly(chdb_client, db):
    events = enriched_events(50)
    store_batch(ClickHouseStore(chdb_client, db), _batch(events, 10), NOW, SinkStats(0))
    rows = chdb_client.query(
        f"SELECT event_id, occurred_at, cost, provider_cost, tags FROM {db}.usage_events FINAL "
        "ORDER BY event_id"
    ).result_rows
    by_id = {e.event_id: e for e in events}
    assert len(rows) == 50
    for event_id, occurred_at, cost, provider_cost, tags in rows:
        event = by_id[event_id]
        assert occurred_at.replace(tzinfo=UTC) == event.occurred_at
        assert isinstance(cost, Decimal) and cost == event.cost
        assert provider_cost == event.provider_cost
        assert tags == event.tags


def test_retried_insert_counts_once_in_base_and_rollup(chdb_client, db):
    events = enriched_events(3000)
    batch = _batch(events, 500)
    store = ClickHouseStore(chdb_client, db)
    items = batch.usage
    assert store.insert(USAGE, items, batch.ranges()) == []
    # The same insert again, as after a timeout with an unknown outcome: the dedup token
    # makes it a no-op, in the rollup the materialized view feeds too (no FINAL needed there).
    assert store.insert(USAGE, items, batch.ranges()) == []
    base, raw, rollup = _totals(chdb_client, db)
    expected = sum(e.cost for e in events)
    assert base == (3000, expected) and raw == 3000
    assert rollup == (3000, expected, sum(e.tokens.input for e in events))


def test_replay_with_other_batch_boundaries_skips_stored_events(chdb_client, db):
    events = enriched_events(4000)
    store = ClickHouseStore(chdb_client, db)
    stats = SinkStats(0)
    store_batch(store, _batch(events[:2500], 500), NOW, stats)
    # Replay from the beginning, cut differently (offset reset, crash before commit).
    store_batch(store, _batch(events, 300), NOW, stats)
    base, raw, rollup = _totals(chdb_client, db)
    expected = sum(e.cost for e in events)
    assert base == (4000, expected) and raw == 4000
    assert rollup[:2] == (4000, expected)
    assert stats.rows_stored == 4000 and stats.duplicates_skipped == 2500


def test_row_the_database_refuses_becomes_a_dead_letter_and_the_rest_is_stored(chdb_client, db):
    events = enriched_events(1000)
    elements = [orjson.loads(encode_one(e)) for e in events]
    elements[417]["occurred_at"] = "2999-01-01T00:00:00Z"  # valid JSON, refused by the table
    value = orjson.dumps(elements)
    got = decode_record(USAGE, "enriched", 0, 0, value, NOW)
    assert len(got.items) == 1000  # the schema accepts it; ClickHouse will not
    buffer = BatchBuffer(10**9, 60)
    buffer.add("enriched", 0, 0, 0.0, usage=got.items)
    stats = SinkStats(0)
    store_batch(ClickHouseStore(chdb_client, db), buffer.drain(), NOW, stats)
    base, _, rollup = _totals(chdb_client, db)
    good = [e for i, e in enumerate(events) if i != 417]
    assert base == (999, sum(e.cost for e in good))
    assert rollup[:2] == base
    letters = chdb_client.query(
        f"SELECT event_id, error_kind, reason, index_in_record, raw FROM {db}.dead_letters FINAL"
    ).result_rows
    [(event_id, kind, reason, index, raw)] = letters
    assert (event_id, kind, index) == (events[417].event_id, "sink_rejected", 417)
    assert "occurred_at_sane" in reason and "469" in reason
    assert orjson.loads(raw)["occurred_at"] == "2999-01-01T00:00:00Z"
    assert stats.rows_rejected == 1 and stats.rows_stored == 999


def test_unmerged_duplicates_count_once_with_final(chdb_client, db):
    """Reports read ``usage_events FINAL``: a duplicate row that reached the table by a path
    around the writer (e.g. a manual re-import) is invisible there before any merge."""
    event = enriched_events(1)[0]
    batch = _batch([event], 1)
    store = ClickHouseStore(chdb_client, db)
    store.insert(USAGE, batch.usage, "import-a")
    store.insert(USAGE, batch.usage, "import-b")  # other token: a second physical row
    raw = chdb_client.query(f"SELECT count() FROM {db}.usage_events").result_rows[0][0]
    final = chdb_client.query(
        f"SELECT count(), sum(cost) FROM {db}.usage_events FINAL"
    ).result_rows[0]
    assert raw == 2
    assert final == (1, event.cost)


class _FlakyClient:
    """The real client, but its first ``failures`` inserts fail as a dropped connection would
    (after the first one actually stored its rows: the outcome a client cannot know)."""

    def __init__(self, client, failures):
        self._client = client
        self.failures = failures
        self.calls = 0

    def raw_insert(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            if self.calls == 1:
                self._client.raw_insert(*args, **kwargs)
            raise ConnectionError("connection reset by peer")
        return self._client.raw_insert(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_database_errors_are_retried_without_loss_or_double_count(chdb_client, db):
    events = enriched_events(800)
    flaky = _FlakyClient(chdb_client, failures=3)
    store = ClickHouseStore(flaky, db, RetryPolicy(first_s=0.01, max_s=0.02))
    store_batch(store, _batch(events, 100), NOW, SinkStats(0))
    base, raw, rollup = _totals(chdb_client, db)
    assert flaky.calls == 4
    assert base == (800, sum(e.cost for e in events)) and raw == 800
    assert rollup[:2] == base


def test_fast_and_model_path_rows_store_the_same_values(chdb_client, db):
    """Timestamps with offsets and fractions, money at 12 places: both decode paths' rows go
    through the Arrow insert and land as the same stored values (DateTime64(3): floored ms)."""
    elements = [orjson.loads(encode_one(e)) for e in enriched_events(2, seed=8)]
    elements[0]["occurred_at"] = "2026-10-31T23:30:00.123999-05:00"
    elements[1]["occurred_at"] = "2026-10-31T23:30:00.123999-05:00"
    elements[1]["event_id"] = elements[0]["event_id"] + "-model"
    elements[1]["cost"] = "1E-3"  # the model accepts it, both fast paths decline it
    got = [
        *decode_record(USAGE, "enriched", 0, 0, orjson.dumps(elements[:1]), NOW).items,
        *decode_record(USAGE, "enriched", 0, 1, orjson.dumps(elements[1:]), NOW).items,
    ]
    assert [type(i.row[1]) for i in got] == [str, datetime]  # one row from each path
    assert isinstance(got[1].message, EnrichedUsage)
    store = ClickHouseStore(chdb_client, db)
    assert store.insert(USAGE, got, "mixed") == []
    rows = chdb_client.query(
        f"SELECT occurred_at, cost, provider_cost, tags FROM {db}.usage_events ORDER BY event_id"
    ).result_rows
    expected_at = datetime(2026, 11, 1, 4, 30, 0, 123000)
    assert [r[0] for r in rows] == [expected_at, expected_at]
    assert [r[1:] for r in rows] == [
        (Decimal(e["cost"]), e.get("provider_cost") and Decimal(e["provider_cost"]), e["tags"])
        for e in elements
    ]
    assert rows[1][1] == Decimal("0.001")


def test_stored_id_lookup_never_splits_an_id(chdb_client, db):
    """Ids travel joined by newlines; an id holding one is looked up as a whole instead."""
    store = ClickHouseStore(chdb_client, db)
    event = enriched_events(1)[0]
    row = usage_row(event)
    odd = [*row]
    odd[0] = "a\nb"
    chdb_client.insert(f"{db}.usage_events", [row, odd], column_names=list(USAGE_EVENT_COLUMNS))
    items = [Item(None, [key], Origin("t", 0, 0, i)) for i, key in enumerate(
        ["a", "b", "a\nb", event.event_id, "missing"])]  # fmt: skip
    assert store.stored_keys(USAGE, items) == {"a\nb", event.event_id}
    assert store.stored_keys(USAGE, items[3:]) == {event.event_id}
