"""Two sinks in one consumer group (server mode runs several): partitions move between them
mid-stream, and every event is still stored exactly once in the base table and the rollup."""

from __future__ import annotations

import asyncio
import time

import pytest

from meterline.bench.data import enriched_events, keyed_batch_records
from meterline.kafka_records import produce_records
from sinks.config import SinkSettings
from sinks.migrations import migrate
from sinks.store import ClickHouseStore
from sinks.writer import SinkWriter

pytestmark = pytest.mark.integration

EVENTS = 12_000


def test_partitions_moving_between_sinks_store_each_event_once(
    tansu, topics, chdb_url, chdb_client, ch_database
):
    migrate(chdb_client, ch_database)
    events = enriched_events(EVENTS, seed=77)
    records = keyed_batch_records(events, per_record=200)
    settings = SinkSettings(
        clickhouse_url=chdb_url,
        clickhouse_database=ch_database,
        kafka_bootstrap=tansu.bootstrap,
        topic_prefix=topics.prefix,
        sink_group_id=f"{topics.prefix}sinks",
        sink_batch_rows=1_000,
        sink_batch_seconds=0.2,
    )

    def stored() -> int:
        return chdb_client.query(f"SELECT count() FROM {ch_database}.usage_events").result_rows[0][
            0
        ]

    async def scenario() -> None:
        first, second = (SinkWriter(settings, ClickHouseStore(chdb_client, ch_database))
                         for _ in range(2))  # fmt: skip
        stop_first, stop_second = asyncio.Event(), asyncio.Event()
        await produce_records(
            tansu.bootstrap, topics.usage_enriched, records[: len(records) // 2], compression="gzip"
        )
        task_first = asyncio.create_task(first.run(stop_first))
        try:
            deadline = time.monotonic() + 60
            while first.stats.rows_stored == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            # A second member joins while the first is writing: partitions are split.
            task_second = asyncio.create_task(second.run(stop_second))
            deadline = time.monotonic() + 60
            enriched = topics.usage_enriched
            while time.monotonic() < deadline and not any(
                t == enriched for t, _ in second.assigned()
            ):
                await asyncio.sleep(0.05)
            await produce_records(
                tansu.bootstrap,
                topics.usage_enriched,
                records[len(records) // 2 :],
                compression="gzip",
            )
            deadline = time.monotonic() + 90
            while (
                first.stats.rows_stored + second.stats.rows_stored < EVENTS
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(0.1)
            assert second.stats.batches > 0, "the second sink never got a partition"
        finally:
            stop_first.set()
            stop_second.set()
            await asyncio.gather(task_first, task_second, return_exceptions=True)

    asyncio.run(scenario())
    cost = sum(e.cost for e in events)
    assert stored() == EVENTS  # physical rows: not one duplicate, even before merges
    rollup = chdb_client.query(
        f"SELECT sum(requests), sum(cost) FROM {ch_database}.usage_daily"
    ).result_rows
    assert rollup == [(EVENTS, cost)]
