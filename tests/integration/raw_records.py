"""Raw-topic test data and reading a topic back: raw usage batches (some with a bad event),
and every record of a topic until a condition holds."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from producers.events import usage_event
from schemas.codec import encode_one

__all__ = ["raw_batch_records", "read_records", "usage_batches"]


async def read_records(
    bootstrap: str,
    topic: str,
    *,
    done: Callable[[list[ConsumerRecord[Any, Any]]], bool],
    timeout: float = 60.0,
    settle: float = 0.0,
) -> list[ConsumerRecord[Any, Any]]:
    """Every record of ``topic`` from the start, read until ``done(records)`` holds (then for
    ``settle`` more seconds, to catch records that should not be there) or ``timeout``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
            if settle_until is None and done(records):
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                break
    finally:
        await consumer.stop()
    return records


def usage_batches(count: int, size: int, rng: random.Random, keys: int = 8) -> list[list[Any]]:
    """``count`` batches of ``size`` valid events, one key per batch (round robin over
    ``keys``), a third of them for a model no price source knows."""
    return [
        [
            usage_event(
                api_key_id=f"key-{n % keys}",
                provider="openai",
                model=rng.choice(["gpt-4o", "gpt-4o-mini", "unknown-model"]),
                customer=f"c{rng.randrange(20)}",
                input_tokens=rng.randrange(1, 5000),
                output_tokens=rng.randrange(0, 900),
            )
            for _ in range(size)
        ]
        for n in range(count)
    ]


def raw_batch_records(
    batches: list[list[Any]], rng: random.Random, *, bad_share: float = 0.0
) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """Raw records (key, JSON array) of ``batches``; about ``bad_share`` of them get one extra
    invalid event (a naive timestamp). Returns the records and the bad events' ids."""
    records = []
    bad_ids: list[str] = []
    for batch in batches:
        elements = [encode_one(e) for e in batch]
        if rng.random() < bad_share:
            broken = orjson.loads(elements[0])
            broken["occurred_at"] = "2025-01-01T00:00:00"
            broken["event_id"] = f"bad-{len(bad_ids)}"
            bad_ids.append(broken["event_id"])
            elements.append(orjson.dumps(broken))
        records.append((batch[0].api_key_id.encode(), b"[" + b",".join(elements) + b"]"))
    return records, bad_ids
