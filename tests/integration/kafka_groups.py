"""Consumer-group offsets for tests (as ``kafka-consumer-groups --reset-offsets`` would)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["reset_group_offsets"]


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
