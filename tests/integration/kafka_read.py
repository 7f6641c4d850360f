"""Reading a topic back in tests: every message of a batch-record topic, until a count or a quiet
period."""

from __future__ import annotations

import time
from typing import TypeVar

from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel

from schemas.codec import decode_batch

M = TypeVar("M", bound=BaseModel)


async def read_all(
    bootstrap: str, topic: str, model: type[M], *, expect: int | None = None, timeout: float = 30
) -> list[M]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[M] = []
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            if batch:
                quiet_since = time.monotonic()
            for messages in batch.values():
                for message in messages:
                    found.extend(decode_batch(model, message.value))
            if expect is not None and len(found) >= expect:
                break
            if expect is None and found and time.monotonic() - quiet_since > 1.5:
                break
    finally:
        await consumer.stop()
    return found
