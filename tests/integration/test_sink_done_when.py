"""Issue 4's "done when" on Tansu + chDB: 100,000 enriched events in → count and sum(cost) in
usage_events and in the rollup equal what was produced, exactly; the same after the sink is
SIGKILLed mid-stream and restarted, and after the group's offsets are reset and everything is
replayed with other batch boundaries."""

from __future__ import annotations

import asyncio
import time

import pytest

from meterline.bench.data import enriched_events, keyed_batch_records
from meterline.kafka_records import produce_records
from meterline.local.sink import SinkProcess
from tests.integration.kafka_groups import reset_group_offsets

pytestmark = pytest.mark.integration

EVENTS = 100_000
TOTALS = """
SELECT
    (SELECT count() FROM {db}.usage_events FINAL),
    (SELECT sum(cost) FROM {db}.usage_events FINAL),
    (SELECT count() FROM {db}.usage_events),
    (SELECT sum(requests) FROM {db}.usage_daily),
    (SELECT sum(cost) FROM {db}.usage_daily),
    (SELECT sum(computed_cost) FROM {db}.usage_daily),
    (SELECT sum(input_tokens + output_tokens + cache_read_tokens) FROM {db}.usage_daily)
"""


def _wait_stats(sink: SinkProcess, key: str, at_least: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stats = sink.stats()
        if stats[key] >= at_least or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def test_100k_events_exact_after_kill_restart_and_full_replay(tansu, topics, tmp_path):
    events = enriched_events(EVENTS, seed=4)
    cost = sum(e.cost for e in events)
    computed = sum(e.computed_cost for e in events)
    tokens = sum(e.tokens.input + e.tokens.output + e.tokens.cache_read for e in events)
    expected = (EVENTS, cost, EVENTS, EVENTS, cost, computed, tokens)
    records = keyed_batch_records(events, per_record=1000)
    half = len(records) // 2
    asyncio.run(
        produce_records(tansu.bootstrap, topics.usage_enriched, records[:half], compression="gzip")
    )

    sink = SinkProcess(
        bootstrap=tansu.bootstrap,
        topic_prefix=topics.prefix,
        data_dir=tmp_path / "chdb",
        group_id=f"{topics.prefix}sink",
        batch_rows=5_000,
        batch_seconds=0.3,
    )
    try:
        sink.start()
        # Crash while it is writing: some batches stored (maybe one not yet committed).
        stats = _wait_stats(sink, "rows_stored", 1, timeout=60)
        assert stats["rows_stored"] >= 1, sink.log_tail()
        sink.kill()
        asyncio.run(
            produce_records(
                tansu.bootstrap, topics.usage_enriched, records[half:], compression="gzip"
            )
        )

        sink.start()
        assert (
            sink.wait_until("SELECT count() FROM {db}.usage_events FINAL", EVENTS, timeout=90)
            == EVENTS
        ), sink.log_tail()
        assert sink.query(TOTALS).result_rows[0] == expected
        sink.stop()

        # Everything again from offset 0, cut into other batches.
        asyncio.run(
            reset_group_offsets(
                tansu.bootstrap,
                sink.env["METERLINE_SINK_GROUP_ID"],
                [topics.usage_enriched, topics.usage_dlq, topics.budget_alerts],
            )
        )
        sink.env["METERLINE_SINK_BATCH_ROWS"] = "3000"
        sink.start()
        stats = _wait_stats(sink, "duplicates_skipped", EVENTS, timeout=90)
        assert stats["duplicates_skipped"] == EVENTS, (stats, sink.log_tail())
        assert stats["rows_stored"] == 0
        assert sink.query(TOTALS).result_rows[0] == expected
        # Observable: nothing left behind on the enriched topic once the replay is stored.
        lag = {k: v for k, v in stats["lag"].items() if "usage.enriched" in k}
        assert len(lag) == 4 and sum(lag.values()) == 0, stats
    finally:
        sink.stop()
