"""Reading what producers published to the raw topic, with a plain aiokafka consumer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from schemas.codec import decode_batch
from schemas.usage import UsageEvent


async def read_raw_events(
    bootstrap: str,
    topic: str,
    *,
    at_least: int,
    where: Callable[[UsageEvent], bool] = lambda event: True,
    timeout: float = 30.0,
    settle: float = 0.5,
) -> list[tuple[str, UsageEvent]]:
    """``(record key, event)`` pairs from the start of ``topic`` for events matching ``where``:
    waits for ``at_least`` of them, then ``settle`` seconds more so that an unexpected extra
    event is seen too."""
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
        settle_until: float | None = None
        while time.monotonic() < deadline:
            if settle_until is None and len(found) >= at_least:
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                break
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    for event in decode_batch(UsageEvent, record.value):
                        if where(event):
                            found.append((key, event))
        return found
    finally:
        await consumer.stop()


def read_raw_events_sync(
    bootstrap: str, topic: str, **kwargs: object
) -> list[tuple[str, UsageEvent]]:
    return asyncio.run(read_raw_events(bootstrap, topic, **kwargs))  # type: ignore[arg-type]
