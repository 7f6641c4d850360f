"""Idempotent topic creation from the contract in ``schemas.topics``."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas.topics import Topics

__all__ = ["TOPIC_EXISTS", "create_topics"]

TOPIC_EXISTS = 36


async def create_topics(
    bootstrap: str, topics: Topics, *, only: list[str] | None = None
) -> dict[str, str]:
    """Create every contract topic under ``topics.prefix`` that does not exist yet.

    Returns ``{name: "created" | "exists"}``. Raises ``RuntimeError`` naming the topic on any
    other broker error.
    """
    wanted = [(name, spec) for name, spec in topics.specs() if only is None or spec.name in only]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="meterline-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        result = {name: "exists" for name, _ in wanted if name in existing}
        new = [
            NewTopic(name, spec.partitions, 1, topic_configs=spec.configs())
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
        return result
    finally:
        await admin.close()
