"""Scale-out past four workers: four stream workers on eight partitions and two sinks store
every event once with exact money, also after one worker is SIGKILLed mid-run.

The killed worker's partitions usually have no committed offset yet, and Faust delivers records
while it is still seeking them: without ``stream.rewind`` (uncommitted partitions from their start)
and ``stream.continuity`` (no offset skipped) records were lost in most runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meterline.kafka_admin import create_topics, wait_group_stable
from meterline.kafka_records import produce_records
from meterline.local.stream import StreamWorker
from schemas.codec import encode_batch, encode_one
from schemas.topics import Topics
from sinks.config import SinkSettings
from sinks.migrations import migrate
from sinks.store import ClickHouseStore
from sinks.writer import SinkWriter
from stream.dedupe import SeenIndex
from stream.enrich import Enricher
from stream.price_file import build_price_book
from stream.validation import SourcePosition
from tests.integration.raw_records import raw_batch_records, read_records, usage_batches

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 8
WORKERS = 4


def _expected_costs(batches) -> dict[str, Decimal]:
    """Each event's cost as the model path prices it (pure, in this process)."""
    enricher = Enricher(build_price_book(None), Decimal(5), 1 << 20)
    seen = SeenIndex(timedelta(hours=1))
    costs: dict[str, Decimal] = {}
    for offset, batch in enumerate(batches):
        outcome = enricher.process(
            encode_batch(batch),
            key=batch[0].api_key_id,
            position=SourcePosition("raw", 0, offset),
            seen=seen,
            bindings=lambda _key: None,
            now=datetime.now(UTC),
        )
        costs.update({row.event.event_id: row.priced.cost for row in outcome.enriched})
    return costs


def test_four_workers_eight_partitions_two_sinks_survive_a_sigkill(
    tansu, tmp_path, chdb_url, chdb_client, ch_database
):
    topics = Topics(f"s{uuid.uuid4().hex[:10]}.")
    asyncio.run(create_topics(tansu.bootstrap, topics, usage_partitions=PARTITIONS))
    migrate(chdb_client, ch_database)
    rng = random.Random(17)
    first = usage_batches(120, 100, rng, keys=32)
    second = usage_batches(60, 100, rng, keys=32)
    first_records, bad_first = raw_batch_records(first, rng, bad_share=0.1)
    second_records, bad_second = raw_batch_records(second, rng, bad_share=0.1)
    # Gateway retries of whole batches and of single events, sent after the kill.
    retries = [(b[0].api_key_id.encode(), encode_batch(b)) for b in first[:8]]
    retries += [(e.api_key_id.encode(), encode_one(e)) for b in first[40:48] for e in b[:2]]
    costs = _expected_costs(first + second)
    assert len(costs) == 18_000

    settings = SinkSettings(
        clickhouse_url=chdb_url,
        clickhouse_database=ch_database,
        kafka_bootstrap=tansu.bootstrap,
        topic_prefix=topics.prefix,
        sink_group_id=f"{topics.prefix}sinks",
        sink_batch_rows=2_000,
        sink_batch_seconds=0.2,
    )
    env = {"METERLINE_USAGE_PARTITIONS": str(PARTITIONS)}
    workers = [
        StreamWorker(
            bootstrap=tansu.bootstrap,
            topic_prefix=topics.prefix,
            data_dir=tmp_path / f"data{n}",
            log_path=tmp_path / f"worker{n}.log",
            extra_env=env,
        )
        for n in range(WORKERS)
    ]

    def stored(sql: str):
        return chdb_client.query(sql.format(db=ch_database)).result_rows

    async def scenario() -> None:
        sinks = [SinkWriter(settings, ClickHouseStore(chdb_client, ch_database)) for _ in "ab"]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(sink.run(stop)) for sink in sinks]
        try:
            await asyncio.gather(*(asyncio.to_thread(w.start, 90.0) for w in workers))
            group = f"{topics.prefix}meterline-stream"
            await wait_group_stable(tansu.bootstrap, group, WORKERS, timeout=120)
            await produce_records(tansu.bootstrap, topics.usage_raw, first_records)
            await read_records(
                tansu.bootstrap, topics.usage_enriched, done=lambda rs: len(rs) >= 20, timeout=90
            )
            workers[1].kill()  # mid-run: its partitions' offsets are (almost surely) uncommitted
            await produce_records(tansu.bootstrap, topics.usage_raw, retries + second_records)
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                if stored("SELECT count() FROM {db}.usage_events")[0][0] >= len(costs):
                    break
                await asyncio.sleep(0.5)
            assert all(sink.stats.batches > 0 for sink in sinks), "a sink never stored a batch"
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run(scenario())
    finally:
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.kill()

    assert stored("SELECT count() FROM {db}.usage_events")[0][0] == len(costs)  # no duplicates
    rows = dict(stored("SELECT event_id, cost FROM {db}.usage_events"))
    assert rows.keys() == costs.keys(), f"missing {len(costs.keys() - rows.keys())} events"
    assert rows == costs  # every event's cost exactly as the model path prices it
    total = sum(costs.values())
    by_customer = stored("SELECT customer, sum(cost) FROM {db}.usage_events GROUP BY customer")
    assert sum(c for _, c in by_customer) == total
    dead = stored("SELECT DISTINCT event_id FROM {db}.dead_letters")
    assert {d for (d,) in dead} == set(bad_first + bad_second)
    for n, worker in enumerate(workers):
        assert "Traceback" not in worker.log_path.read_text(), f"worker {n}:\n{worker.log_tail()}"
