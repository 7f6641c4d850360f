"""Writing and reading the compacted configuration topics (``schemas.config``).

Every change a Meterline tool makes carries who made it (``actor``), how (``origin``) and a
unique change id in record headers; the sink records it in ``config_history`` from there.
"""

from __future__ import annotations

import getpass
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.config import ACTOR_HEADER, CHANGE_ID_HEADER, ORIGIN_HEADER

__all__ = [
    "Change",
    "TopicRecord",
    "current_actor",
    "new_change_id",
    "publish_changes",
    "read_compacted",
]


def current_actor() -> str:
    """``user:<OS user>`` of this process (an API would pass ``token:<name>`` instead)."""
    try:
        return f"user:{getpass.getuser()}"
    except (KeyError, OSError):
        return "user:unknown"


def new_change_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Change:
    """One record to write: ``value`` None deletes ``key``."""

    key: str
    value: bytes | None
    change_id: str = ""
    """Empty: a new id. A restore passes the id the store already holds, so the sink sees
    a change it recorded and does not record it again."""


@dataclass(frozen=True)
class TopicRecord:
    """The latest record of one key on a compacted topic."""

    value: bytes | None
    change_id: str


async def publish_changes(
    bootstrap: str,
    topic: str,
    changes: Sequence[Change],
    *,
    actor: str | None = None,
    origin: str = "cli",
) -> list[str]:
    """Write ``changes`` in order to partition 0 of ``topic`` and wait until the broker has all
    of them (acks=all). Returns their change ids. Raises aiokafka's ``KafkaError`` when the
    broker is unreachable."""
    who = (actor or current_actor()).encode()
    how = origin.encode()
    ids = [change.change_id or new_change_id() for change in changes]
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", client_id="meterline-config-admin"
    )
    await producer.start()
    try:
        futures = []
        for change, cid in zip(changes, ids, strict=True):
            headers = [(CHANGE_ID_HEADER, cid.encode()), (ACTOR_HEADER, who), (ORIGIN_HEADER, how)]
            futures.append(
                await producer.send(
                    topic, change.value, key=change.key.encode(), partition=0, headers=headers
                )
            )
        for future in futures:
            await future
    finally:
        await producer.stop()
    return ids


async def read_compacted(
    bootstrap: str, topic: str, timeout_s: float = 10.0
) -> dict[str, TopicRecord]:
    """The latest record per key of ``topic`` (all partitions, read to their end at call time),
    tombstones included as ``value=None``. Raises ``LookupError`` when the topic is missing and
    ``TimeoutError`` when the broker stops answering mid-read."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer.topics()  # fetches the metadata partitions_for_topic reads
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            raise LookupError(f"topic {topic} does not exist; run `meterline topics create`")
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        latest: dict[str, TopicRecord] = {}
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=int(timeout_s * 1000))
            if not batch:
                raise TimeoutError(f"no records from {topic} within {timeout_s}s")
            for tp, records in batch.items():
                for record in records:
                    if record.key is not None:
                        change_id = dict(record.headers or ()).get(CHANGE_ID_HEADER, b"")
                        latest[record.key.decode("utf-8", "replace")] = TopicRecord(
                            record.value, change_id.decode("utf-8", "replace")
                        )
                    if record.offset >= ends[tp] - 1:
                        remaining.discard(tp)
        return latest
    finally:
        await consumer.stop()
