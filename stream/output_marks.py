"""How far a raw partition's output already reached the enriched topic.

The agent writes the enriched output of raw partition ``p`` to enriched partition ``p``, each
record carrying the raw offset it came from in the ``SOURCE_OFFSET_HEADER`` header. After a crash
the worker re-reads raw records whose offsets were never committed; the last record of enriched
partition ``p`` tells which of those already produced their output, so they are not emitted twice.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["SOURCE_OFFSET_HEADER", "OutputMarks"]

SOURCE_OFFSET_HEADER = "meterline-source-offset"


class OutputMarks:
    """Per partition, the highest raw offset whose output is on the enriched topic (-1: none).

    ``load(p)`` reads it from the broker (the last record of enriched partition ``p``); call it
    when the worker takes over partition ``p`` and before it emits anything for it.
    """

    def __init__(self, bootstrap: str, enriched_topic: str, timeout_s: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.topic = enriched_topic
        self.timeout_ms = int(timeout_s * 1000)
        self._marks: dict[int, int] = {}

    def get(self, partition: int) -> int:
        return self._marks.get(partition, -1)

    def forget(self, partition: int) -> None:
        self._marks.pop(partition, None)

    async def load(self, partitions: list[int]) -> dict[int, int]:
        """Read and remember the marks of ``partitions`` (one short-lived consumer for all).
        Raises ``TimeoutError`` when the broker does not return a partition's last record in
        time: the agent then fails rather than guess."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            client_id="meterline-stream-marks",
        )
        await consumer.start()
        try:
            marks = {p: await self._read(consumer, p) for p in partitions}
        finally:
            await consumer.stop()
        self._marks.update(marks)
        return marks

    async def _read(self, consumer: AIOKafkaConsumer, partition: int) -> int:
        tp = TopicPartition(self.topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if end == 0:
            return -1
        consumer.seek(tp, end - 1)
        records = (await consumer.getmany(tp, timeout_ms=self.timeout_ms)).get(tp, [])
        if not records:
            raise TimeoutError(
                f"could not read the last record of {self.topic}[{partition}] "
                f"within {self.timeout_ms} ms"
            )
        for name, value in records[-1].headers or ():
            if name == SOURCE_OFFSET_HEADER:
                return int(value)
        return -1
