"""``meterline bench stream``: enriched events/s of one stream worker next to the raw aiokafka
consume rate of the same broker, measured in the same run.

Steps: publish ``events`` good events as batch records of ``batch`` events; read the raw topic
back with a bare aiokafka consumer (the ceiling); start one worker (a child process, like
production) and time its output from the first to the last enriched record, which is the
sustained rate without the group join and partition takeover.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from meterline.bench.producer import make_events
from meterline.bench.profile import profile_top
from meterline.kafka_admin import create_topics
from schemas.codec import encode_batch
from schemas.topics import Topics
from stream.testing import StreamWorker

__all__ = ["run_stream_bench"]


def _records(events: int, batch: int) -> list[tuple[bytes, bytes]]:
    prepared = make_events(events)
    by_key: dict[str, list] = {}
    for event in prepared:
        by_key.setdefault(event.api_key_id, []).append(event)
    records = []
    for key, key_events in by_key.items():
        for start in range(0, len(key_events), batch):
            records.append((key.encode(), encode_batch(key_events[start : start + batch])))
    return records


async def _publish(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1024 * 1024
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k) for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _consume(
    bootstrap: str, topic: str, expected_records: int, timeout: float
) -> tuple[float, float, int]:
    """Read ``topic`` from the start until ``expected_records`` arrived; returns the times
    (monotonic) of the first and last record and how many arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    first = last = 0.0
    seen = 0
    try:
        deadline = time.monotonic() + timeout
        while seen < expected_records and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            now = time.monotonic()
            got = sum(len(records) for records in batch.values())
            if got and not seen:
                first = now
            if got:
                last = now
            seen += got
    finally:
        await consumer.stop()
    return first, last, seen


async def run_stream_bench(
    bootstrap: str,
    events: int = 200_000,
    batch: int = 100,
    timeout: float = 300.0,
    say: Callable[[str], None] = lambda _m: None,
    profile: Path | None = None,
) -> dict:
    """Run the benchmark; with ``profile`` the worker runs under cProfile, its stats are
    written there and the top entries are added to the result (``profile_top``)."""
    topics = Topics(f"bench{uuid.uuid4().hex[:6]}.")
    await create_topics(bootstrap, topics)
    records = _records(events, batch)
    say(f"publishing {events} events in {len(records)} records")
    await _publish(bootstrap, topics.usage_raw, records)

    say("raw aiokafka consume")
    started = time.monotonic()
    _first, raw_last, raw_seen = await _consume(bootstrap, topics.usage_raw, len(records), timeout)
    raw_elapsed = raw_last - started
    raw_rate = events / raw_elapsed if raw_seen == len(records) and raw_elapsed > 0 else 0.0

    with tempfile.TemporaryDirectory() as tmp:
        worker = StreamWorker(
            bootstrap=bootstrap,
            topic_prefix=topics.prefix,
            data_dir=Path(tmp) / "data",
            log_path=Path(tmp) / "worker.log",
            launcher=["-m", "meterline.bench.cpu_profile", str(profile)] if profile else (),
        )
        say("starting one stream worker")
        spawned = time.monotonic()
        with worker:
            ready = time.monotonic()
            say("measuring enriched output")
            first, last, seen = await _consume(
                bootstrap, topics.usage_enriched, len(records), timeout
            )
    # Sustained: from the first enriched record to the last, minus the first record's events.
    sustained_events = (seen - 1) * events / len(records) if seen > 1 else 0
    rate = sustained_events / (last - first) if last > first else 0.0
    result = {
        "bench": "stream",
        "events": events,
        "batch_events": batch,
        "records": len(records),
        "events_per_s": round(rate, 1),
        "raw_consume_per_s": round(raw_rate, 1),
        "ratio": round(rate / raw_rate, 3) if raw_rate else 0.0,
        "enriched_records": seen,
        "all_enriched": seen == len(records),
        "worker_ready_s": round(ready - spawned, 2),
        "first_output_after_ready_s": round(first - ready, 2) if seen else None,
    }
    if profile is not None:
        result["profile_top"] = profile_top(profile)
    return result
