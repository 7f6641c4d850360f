"""Publishing prepared records, for benchmarks, the demo's tooling and tests."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

__all__ = ["produce_records"]


async def produce_records(
    bootstrap: str,
    topic: str,
    records: list[tuple[bytes | None, bytes | None]] | list[tuple[bytes, bytes]],
    *,
    partition: int | None = None,
    compression: str | None = None,
) -> None:
    """Publish ``(key, value)`` records in order (to ``partition`` when given, else by key)
    and wait until the broker acknowledged all of them; ``compression`` is the producer's
    ``compression_type`` (None: uncompressed)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        max_request_size=8 * 1024 * 1024,
        linger_ms=5,
        compression_type=compression,
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, partition=partition)
            for key, value in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
