"""Raw-topic test data and reading a topic back: raw usage batches (some with a bad event),
and every record of a topic until a condition holds."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
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
    settled: Callable[[], Awaitable[None]] | None = None,
) -> list[ConsumerRecord[Any, Any]]:
    """Every record of ``topic`` from the start, read until ``done(records)`` holds or
    ``timeout``. With ``settled`` (a barrier such as ``kafka_groups.stream_settled``), once
    ``done`` holds it waits for the barrier and then reads on to the topic's end, so records
    that should not be there are seen too.

    Each record is returned once: the consumer reads a partition from its start again whenever
    its assignment changes (a metadata answer that briefly lacks a partition, under load), and
    a record read twice at the same offset is one record, not a duplicate on the topic."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    read: set[tuple[int, int]] = set()
    try:
        deadline = time.monotonic() + timeout
        ends: dict[TopicPartition, int] | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                for record in partition_records:
                    if (record.partition, record.offset) not in read:
                        read.add((record.partition, record.offset))
                        records.append(record)
            if ends is None and done(records):
                if settled is None:
                    break
                await settled()
                ends = await consumer.end_offsets(list(consumer.assignment()))
            if ends is not None:
                positions = [await consumer.position(tp) for tp in ends]
                if all(pos >= end for pos, end in zip(positions, ends.values(), strict=True)):
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
