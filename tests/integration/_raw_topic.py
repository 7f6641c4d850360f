"""Reading what producers published to the raw topic, with a plain aiokafka consumer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.codec import decode_batch
from schemas.usage import UsageEvent


async def read_raw_events(
    bootstrap: str,
    topic: str,
    *,
    at_least: int,
    where: Callable[[UsageEvent], bool] = lambda event: True,
    timeout: float = 30.0,
    marker: Callable[[UsageEvent], bool] | None = None,
) -> list[tuple[str, UsageEvent]]:
    """``(record key, event)`` pairs from the start of ``topic`` for events matching ``where``:
    waits for ``at_least`` of them, then reads on to the topic's end so that an unexpected extra
    event is seen too (the caller flushed its producer first). A producer in another process
    cannot be asked to flush: have it record one more event after the ones under test, on the
    same key (so the same partition, in order), and pass ``marker`` to recognise it; the read
    then also waits for that event (it is not returned)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[tuple[str, UsageEvent]] = []
    try:
        deadline = time.monotonic() + timeout
        marked = marker is None
        ends: dict[TopicPartition, int] | None = None
        while time.monotonic() < deadline:
            if len(found) >= at_least and marked:
                ends = ends or await consumer.end_offsets(list(consumer.assignment()))
                positions = [await consumer.position(tp) for tp in ends]
                if all(p >= e for p, e in zip(positions, ends.values(), strict=True)):
                    break
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    for event in decode_batch(UsageEvent, record.value):
                        if marker is not None and marker(event):
                            marked = True
                        elif where(event):
                            found.append((key, event))
        return found
    finally:
        await consumer.stop()


def read_raw_events_sync(
    bootstrap: str, topic: str, **kwargs: object
) -> list[tuple[str, UsageEvent]]:
    return asyncio.run(read_raw_events(bootstrap, topic, **kwargs))  # type: ignore[arg-type]
