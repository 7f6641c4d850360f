"""``meterline bench sink``: sustained rows/s of the sink (Kafka → decode → dedupe → insert →
commit) next to a raw clickhouse-connect insert of the same rows into the same schema.

``raw_insert_rows_per_s`` is ``Client.insert`` of prepared row lists (the plain way);
``sink_format_insert_rows_per_s`` is the sink's own insert path (its encoder and format,
``raw_insert``) without Kafka, decoding or dedupe, so ``ratio_vs_sink_format`` is the sink's
overhead over its own insert.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from meterline.bench.data import enriched_events, keyed_batch_records
from meterline.kafka_admin import create_topics
from meterline.kafka_records import produce_records
from schemas.topics import Topics
from sinks.clickhouse import Client, connect
from sinks.config import SinkSettings
from sinks.migrations import migrate
from sinks.rows import USAGE, usage_row
from sinks.service import tune_gc
from sinks.store import ClickHouseStore
from sinks.writer import SinkWriter

__all__ = ["run_sink_bench"]


def _raw_insert_rate(client: Client, db: str, rows: list[list[Any]], batch_rows: int) -> float:
    """clickhouse-connect's ``Client.insert`` of prepared rows (Native format)."""
    started = time.perf_counter()
    for i in range(0, len(rows), batch_rows):
        client.insert(f"{db}.usage_events", rows[i : i + batch_rows],
                      column_names=list(USAGE.columns))  # fmt: skip
    return len(rows) / (time.perf_counter() - started)


def _sink_format_insert_rate(
    client: Client, db: str, rows: list[list[Any]], batch_rows: int
) -> float:
    """The sink's own insert path (its encoder via ``raw_insert``) of prepared rows."""
    encoder = USAGE.encoder
    started = time.perf_counter()
    for i in range(0, len(rows), batch_rows):
        client.raw_insert(f"{db}.usage_events", list(USAGE.columns),
                          encoder.encode(rows[i : i + batch_rows]), fmt=encoder.fmt,
                          settings={"date_time_input_format": "best_effort"})  # fmt: skip
    return len(rows) / (time.perf_counter() - started)


async def _sink_rate(
    settings: SinkSettings, client: Client, events: int, timeout: float
) -> dict[str, Any]:
    writer = SinkWriter(settings, ClickHouseStore(client, settings.clickhouse_database))
    stop = asyncio.Event()
    task = asyncio.create_task(writer.run(stop))
    deadline = time.monotonic() + timeout
    try:
        while writer.stats.rows_stored < events:
            if task.done():
                task.result()
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"sink stored {writer.stats.rows_stored}/{events} in {timeout}s")
            await asyncio.sleep(0.005)
        finished = time.monotonic()
    finally:
        stop.set()
        await task
    first = writer.stats.first_consumed_at or finished
    return {
        "rows_per_s": events / (finished - first),
        "batches": writer.stats.batches,
        "elapsed_s": finished - first,
    }


def run_sink_bench(
    bootstrap: str,
    events: int = 100_000,
    batch_rows: int = 10_000,
    progress: Callable[[str], None] = lambda _: None,
    compression: str | None = None,
) -> dict:
    """Produce ``events`` enriched events (``compression``: the topic's producer compression;
    None, as the stream worker writes ``usage.enriched``), then measure the raw inserts and the
    sink on the same rows. Returns the JSON object ``meterline bench sink`` prints."""
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    topics = Topics(prefix)
    progress(f"generating {events} enriched events")
    prepared = enriched_events(events)
    rows = [usage_row(e) for e in prepared]
    records = keyed_batch_records(prepared)
    asyncio.run(create_topics(bootstrap, topics))
    progress(f"producing {len(records)} batch records")
    asyncio.run(produce_records(bootstrap, topics.usage_enriched, records, compression=compression))
    tune_gc(batch_rows)  # as the sink process does; applies to the raw inserts alike
    with tempfile.TemporaryDirectory(prefix="meterline-bench-") as data_dir:
        url = f"chdb://{data_dir}"
        client = connect(url)
        try:
            for db in ("bench_raw", "bench_sink_format", "bench_sink"):
                migrate(client, db)
            progress("raw clickhouse-connect insert")
            raw = _raw_insert_rate(client, "bench_raw", rows, batch_rows)
            sink_format = _sink_format_insert_rate(client, "bench_sink_format", rows, batch_rows)
            settings = SinkSettings(
                clickhouse_url=url,
                clickhouse_database="bench_sink",
                kafka_bootstrap=bootstrap,
                topic_prefix=prefix,
                sink_group_id=f"bench-{uuid.uuid4().hex[:6]}",
                sink_batch_rows=batch_rows,
            )
            progress("sink: consume, decode, dedupe, insert, commit")
            sink = asyncio.run(_sink_rate(settings, client, events, timeout=600))
            stored = client.query("SELECT count() FROM bench_sink.usage_events FINAL")
            stored_rows = stored.result_rows[0][0]
        finally:
            client.close()
    return {
        "bench": "sink",
        "events": events,
        "batch_rows": batch_rows,
        "input_compression": compression or "none",
        "rows_per_s": round(sink["rows_per_s"], 1),
        "raw_insert_rows_per_s": round(raw, 1),
        "ratio": round(sink["rows_per_s"] / raw, 3),
        "sink_format": USAGE.encoder.fmt,
        "sink_format_insert_rows_per_s": round(sink_format, 1),
        "ratio_vs_sink_format": round(sink["rows_per_s"] / sink_format, 3),
        "sink_elapsed_s": round(sink["elapsed_s"], 3),
        "sink_batches": sink["batches"],
        "all_stored": stored_rows == events,
    }
