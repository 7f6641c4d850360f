"""How far a raw partition's output already reached the enriched topic.

The agent writes the enriched output of raw partition ``p`` to enriched partition ``p``, each
record carrying ``"<raw offset>:<chunk>"`` in the ``SOURCE_OFFSET_HEADER`` header (a raw record
yields one enriched record, chunk 0, unless its output exceeds the record size bound). After a crash
the worker re-reads raw records whose offsets were never committed; the last record of enriched
partition ``p`` tells which of those already produced their output, so they are not emitted twice.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = [
    "NO_MARK",
    "SOURCE_OFFSET_HEADER",
    "WORKER_HEADER",
    "Mark",
    "OutputMarks",
    "format_mark",
    "parse_mark",
]

SOURCE_OFFSET_HEADER = "meterline-source-offset"
WORKER_HEADER = "meterline-worker"
"""``host:pid`` of the worker that wrote an enriched record (for operators and the benchmark's
per-worker rates)."""


Mark = tuple[int, int]
"""``(raw offset, chunk)`` of the last enriched record; ``(-1, -1)`` when there is none."""
NO_MARK: Mark = (-1, -1)


def format_mark(offset: int, chunk: int) -> bytes:
    return f"{offset}:{chunk}".encode()


def parse_mark(value: bytes) -> Mark:
    offset, _, chunk = value.decode().partition(":")
    return int(offset), int(chunk or 0)


class OutputMarks:
    """Per partition, the ``(raw offset, chunk)`` of the last output on the enriched topic.

    ``read(ps)`` reads them from the broker (the last record of each enriched partition) and
    ``remember(marks)`` keeps them; do both when the worker takes partitions over and before it
    emits anything for them. They are two steps so a caller can drop marks that went stale
    while it awaited the broker.
    """

    def __init__(self, bootstrap: str, enriched_topic: str, timeout_s: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.topic = enriched_topic
        self.timeout_ms = int(timeout_s * 1000)
        self._marks: dict[int, Mark] = {}

    def get(self, partition: int) -> Mark:
        return self._marks.get(partition, NO_MARK)

    def forget(self, partition: int) -> None:
        self._marks.pop(partition, None)

    def remember(self, marks: dict[int, Mark]) -> None:
        self._marks.update(marks)

    async def read(self, partitions: list[int]) -> dict[int, Mark]:
        """The marks of ``partitions`` on the broker now (one short-lived consumer for all).
        Raises ``TimeoutError`` when the broker does not return a partition's last record in
        time: the worker then fails rather than guess."""
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
        return marks

    async def _read(self, consumer: AIOKafkaConsumer, partition: int) -> Mark:
        tp = TopicPartition(self.topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if end == 0:
            return NO_MARK
        consumer.seek(tp, end - 1)
        records = (await consumer.getmany(tp, timeout_ms=self.timeout_ms)).get(tp, [])
        if not records:
            raise TimeoutError(
                f"could not read the last record of {self.topic}[{partition}] "
                f"within {self.timeout_ms} ms"
            )
        for name, value in records[-1].headers or ():
            if name == SOURCE_OFFSET_HEADER:
                return parse_mark(value)
        return NO_MARK
