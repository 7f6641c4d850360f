"""Drain before stop: how far the stream and the sink are behind what the broker holds.

A consumer group is drained when, for every partition of the topics it reads, its committed
offset has reached the partition's end. The stream commits its input only after its output
was acknowledged, so "stream drained, then sink drained" (measured in that order) means every
event the broker accepted is in ClickHouse and every delta reached a budget state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["Backlog", "GroupInput", "backlog", "behind", "drain"]


@dataclass(frozen=True)
class GroupInput:
    """A consumer group and the topics it consumes."""

    name: str
    """What the progress line calls it (``stream``, ``sink``)."""
    group_id: str
    topics: tuple[str, ...]


def behind(ends: Mapping[TopicPartition, int], committed: Mapping[TopicPartition, int]) -> int:
    """Records not yet committed by the group (a partition it never committed counts whole)."""
    return sum(max(0, end - committed.get(tp, 0)) for tp, end in ends.items())


@dataclass(frozen=True)
class Backlog:
    per_group: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.per_group.values())

    def line(self) -> str:
        return ", ".join(f"{name} {n} behind" for name, n in self.per_group.items())


async def _committed(bootstrap: str, group_id: str, tps: list[TopicPartition]) -> dict:
    """The group's committed offsets, read without joining it (assign, not subscribe)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    try:
        await consumer.start()
        consumer.assign(tps)
        out = {}
        for tp in tps:
            offset = await consumer.committed(tp)
            if offset is not None and offset >= 0:
                out[tp] = offset
        return out
    finally:
        await consumer.stop()


async def backlog(bootstrap: str, groups: Sequence[GroupInput]) -> Backlog:
    """Records each group has yet to consume and commit, measured group after group in order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer.topics()  # fetches the metadata partitions_for_topic reads
        out: dict[str, int] = {}
        for group in groups:
            tps = [
                TopicPartition(topic, p)
                for topic in group.topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            committed = await _committed(bootstrap, group.group_id, tps) if tps else {}
            ends = await consumer.end_offsets(tps) if tps else {}
            out[group.name] = behind(ends, committed)
        return Backlog(out)
    finally:
        await consumer.stop()


def drain(
    measure: Callable[[], Backlog],
    *,
    timeout_s: float,
    say: Callable[[str], None],
    cancelled: Callable[[], bool] = lambda: False,
    interval_s: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Poll ``measure`` until nothing is behind (True), or until ``timeout_s`` passes or
    ``cancelled()`` (False). Says a progress line when the backlog changes."""
    deadline = clock() + timeout_s
    last = ""
    while not cancelled():
        current = measure()
        if current.total == 0:
            say("drained    stream and sink consumed everything on the broker")
            return True
        left = deadline - clock()
        if left <= 0:
            say(f"drain      gave up after {timeout_s:.0f} s: {current.line()}")
            return False
        line = current.line()
        if line != last:
            say(f"draining   {line} ({left:.0f} s left; Ctrl-C again to stop now)")
            last = line
        sleep(interval_s)
    say("drain      skipped: stopping now")
    return False
