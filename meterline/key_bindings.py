"""Key bindings on the compacted ``meterline.keys`` topic: bind, unbind, list.

The stream reads the topic as a Faust GlobalTable, so a change reaches every worker without a
restart. A binding never holds the key's secret, only its id.
"""

from __future__ import annotations

from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import ValidationError

from schemas.codec import encode_one
from schemas.keys import KeyBinding

__all__ = ["InvalidBinding", "bind_key", "list_bindings", "make_binding", "unbind_key"]


class InvalidBinding(ValueError):
    """A key id, team or customer the binding contract refuses (message says which)."""


def make_binding(api_key_id: str, team_id: str, owner_customer: str, now: datetime) -> KeyBinding:
    """A binding of a key to a (non-empty) team and an optional owner customer; raises
    ``InvalidBinding`` naming the field otherwise."""
    if not team_id:
        raise InvalidBinding("team_id: must not be empty")
    try:
        return KeyBinding(
            api_key_id=api_key_id, team_id=team_id, owner_customer=owner_customer, updated_at=now
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise InvalidBinding(f"{field}: {first['msg']}") from exc


async def _publish(bootstrap: str, topic: str, key: str, value: bytes | None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, key=key.encode(), value=value)
    finally:
        await producer.stop()


async def bind_key(bootstrap: str, topic: str, binding: KeyBinding) -> None:
    """Publish ``binding`` (replacing any earlier one for the key); returns once the broker has
    it. Raises aiokafka's ``KafkaError`` when the broker is unreachable."""
    await _publish(bootstrap, topic, binding.api_key_id, encode_one(binding))


async def unbind_key(bootstrap: str, topic: str, api_key_id: str) -> None:
    """Publish a tombstone: the key has no team or owner from now on."""
    await _publish(bootstrap, topic, api_key_id, None)


async def list_bindings(bootstrap: str, topic: str, timeout_s: float = 10.0) -> list[KeyBinding]:
    """Current bindings (latest value per key, tombstones removed), sorted by key id.

    Reads the topic from its start to its end at call time; records that are not valid
    bindings are skipped, as the stream skips them.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            raise LookupError(f"topic {topic} does not exist; run `meterline topics create`")
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        latest: dict[bytes, bytes | None] = {}
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=int(timeout_s * 1000))
            if not batch:
                raise TimeoutError(f"no records from {topic} within {timeout_s}s")
            for tp, records in batch.items():
                for record in records:
                    if record.key is not None:
                        latest[record.key] = record.value
                    if record.offset >= ends[tp] - 1:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    bindings = []
    for value in latest.values():
        if value is None:
            continue
        try:
            bindings.append(KeyBinding.model_validate_json(value))
        except ValidationError:
            continue
    return sorted(bindings, key=lambda b: b.api_key_id)
