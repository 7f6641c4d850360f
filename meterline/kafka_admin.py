"""Idempotent topic creation from the contract in ``schemas.topics``."""

from __future__ import annotations

import asyncio
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.topics import USAGE_ENRICHED, USAGE_RAW, Topics, TopicSpec

__all__ = [
    "TOPIC_EXISTS",
    "TooFewPartitions",
    "create_topics",
    "partitions_of",
    "wait_group_stable",
]

TOPIC_EXISTS = 36
USAGE_TOPICS = (USAGE_RAW.name, USAGE_ENRICHED.name)
"""The topics whose partition count is chosen at creation (``usage_partitions``)."""


class TooFewPartitions(RuntimeError):
    """Existing usage topics have fewer partitions than asked; the message says how to grow
    them and what that does to key order."""

    def __init__(self, counts: dict[str, int], wanted: int) -> None:
        self.counts, self.wanted = counts, wanted
        names = ", ".join(f"{name} has {count}" for name, count in counts.items())
        super().__init__(
            f"{names} partitions; {wanted} asked. Partitions are only ever added, never "
            f"removed, and topic creation does not add them. To grow: stop the producers and "
            f"let the stream drain (consumer lag 0), add partitions to the raw AND the "
            f"enriched topic with your Kafka tooling (kafka-topics.sh --alter --topic NAME "
            f"--partitions {wanted}, or your provider's console), then restart every stream "
            f"worker with METERLINE_USAGE_PARTITIONS={wanted}. Key order: a key's records map to "
            f"hash(key) mod partitions, so after the change most api_key_ids move to another "
            f"partition; order per key holds among records written before the change and among "
            f"those written after, not across it, and a gateway retry of an event from before "
            f"may be processed on a new partition by another worker (the sink still stores it "
            f"once; budget windows may count it twice). Or keep {max(counts.values())} and run "
            f"at most that many workers."
        )


def _spec_partitions(spec: TopicSpec, usage_partitions: int | None) -> int:
    if usage_partitions is not None and spec.name in USAGE_TOPICS:
        return usage_partitions
    return spec.partitions


async def partitions_of(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Partition count of each existing topic of ``names``."""
    if not names:
        return {}
    described = await admin.describe_topics(names)
    return {t["topic"]: len(t["partitions"]) for t in described if t.get("error_code", 0) == 0}


async def create_topics(
    bootstrap: str,
    topics: Topics,
    *,
    only: list[str] | None = None,
    usage_partitions: int | None = None,
) -> dict[str, str]:
    """Create every contract topic under ``topics.prefix`` that does not exist yet, the usage
    topics (raw and enriched) with ``usage_partitions`` (default: the contract's count).

    Returns ``{name: "created" | "exists"}``. Raises :class:`TooFewPartitions` when an existing
    usage topic has fewer partitions than ``usage_partitions`` (the rest are created first),
    ``RuntimeError`` naming the topic on any other broker error.
    """
    wanted = [(name, spec) for name, spec in topics.specs() if only is None or spec.name in only]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="meterline-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        result = {name: "exists" for name, _ in wanted if name in existing}
        new = [
            NewTopic(
                name, _spec_partitions(spec, usage_partitions), 1, topic_configs=spec.configs()
            )
            for name, spec in wanted
            if name not in existing
        ]
        if new:
            response = await admin.create_topics(new)
            for name, code, message in response.topic_errors:
                if code == 0:
                    result[name] = "created"
                elif code == TOPIC_EXISTS:
                    result[name] = "exists"
                else:
                    raise RuntimeError(f"could not create topic {name}: error {code} {message}")
        if usage_partitions is not None:
            usage = [name for name, spec in wanted if spec.name in USAGE_TOPICS]
            counts = await partitions_of(admin, [n for n in usage if result.get(n) == "exists"])
            short = {name: count for name, count in counts.items() if count < usage_partitions}
            if short:
                raise TooFewPartitions(short, usage_partitions)
        return result
    finally:
        await admin.close()


async def wait_group_stable(bootstrap: str, group: str, members: int, timeout: float) -> None:
    """Wait (bounded) until consumer group ``group`` is Stable with ``members`` members."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        state: tuple = ()
        while time.monotonic() < deadline:
            for response in await admin.describe_consumer_groups([group]):
                for described in response.to_object()["groups"]:
                    state = (described["state"], len(described["members"]))
            if state == ("Stable", members):
                return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"group {group} not stable with {members} members: {state}")
    finally:
        await admin.close()
