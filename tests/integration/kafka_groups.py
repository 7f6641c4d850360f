"""Consumer-group offsets for tests (as ``kafka-consumer-groups --reset-offsets`` would)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = [
    "committed_up_to_end",
    "reset_group_offsets",
    "stream_settled",
    "wait_until_committed",
]


async def reset_group_offsets(
    bootstrap: str, group_id: str, topics: list[str], offset: int = 0
) -> None:
    """Commit ``offset`` for every partition of ``topics`` in ``group_id`` (the group must have
    no live members), as ``kafka-consumer-groups --reset-offsets --to-earliest`` would."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata partitions_for_topic reads
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.commit({tp: offset for tp in partitions})
    finally:
        await consumer.stop()


async def committed_up_to_end(
    bootstrap: str, group_id: str, topics: list[str]
) -> dict[TopicPartition, int] | None:
    """The end offsets of ``topics`` when ``group_id`` has committed every partition up to
    them (every record written so far is processed and will not be replayed), else None."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            if ends[tp] and (await consumer.committed(tp) or 0) < ends[tp]:
                return None
        return ends
    finally:
        await consumer.stop()


async def wait_until_committed(
    bootstrap: str, group_id: str, topics: list[str], timeout: float = 60.0
) -> None:
    """Poll until ``group_id`` has committed ``topics`` up to their end twice in a row with the
    same ends (so output of the last records, flushed before their commit, is processed too
    when it lands on one of ``topics``); ``TimeoutError`` after ``timeout``."""
    async with asyncio.timeout(timeout):
        previous = None
        while True:
            ends = await committed_up_to_end(bootstrap, group_id, topics)
            if ends is not None and ends == previous:
                return
            previous = ends
            await asyncio.sleep(0.2)


def stream_settled(
    bootstrap: str, prefix: str, sources: list[str]
) -> Callable[[], Awaitable[None]]:
    """A barrier: the stream workers (app id ``meterline-stream`` under ``prefix``) processed
    and committed everything on ``sources``, so all their output is on its topics."""
    return lambda: wait_until_committed(bootstrap, f"{prefix}meterline-stream", sources)
