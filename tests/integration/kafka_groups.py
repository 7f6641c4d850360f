"""Consumer-group offsets for tests (as ``kafka-consumer-groups --reset-offsets`` would)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["committed_up_to_end", "reset_group_offsets", "wait_until_committed"]


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


async def committed_up_to_end(bootstrap: str, group_id: str, topics: list[str]) -> bool:
    """True when ``group_id`` has committed every partition of ``topics`` up to its end (every
    record written so far is processed and will not be replayed)."""
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
                return False
        return True
    finally:
        await consumer.stop()


async def wait_until_committed(
    bootstrap: str, group_id: str, topics: list[str], timeout: float = 30.0
) -> None:
    """Poll :func:`committed_up_to_end` until it holds; ``TimeoutError`` after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not await committed_up_to_end(bootstrap, group_id, topics):
            await asyncio.sleep(0.2)
