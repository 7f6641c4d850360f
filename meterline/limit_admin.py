"""Rate limit administration over the compacted ``meterline.limits`` topic (``meterline limits``
is a thin layer over these functions)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from meterline.budget_admin import PolicyInputError, _send
from schemas.budgets import BudgetScope
from schemas.codec import encode_one
from schemas.limits import LimitPolicy
from schemas.topics import Topics

__all__ = ["build_limit", "delete_limit", "list_limits", "put_limit"]


def build_limit(
    *,
    scope: str,
    subject: str,
    rpm: int | None = None,
    tpm: int | None = None,
    max_parallel: int | None = None,
    lease_s: float | None = None,
    now: datetime | None = None,
) -> LimitPolicy:
    """A validated ``LimitPolicy``; raises ``PolicyInputError`` with a readable reason."""
    try:
        return LimitPolicy(
            scope=BudgetScope(scope),
            subject=subject,
            rpm=rpm,
            tpm=tpm,
            max_parallel=max_parallel,
            lease_s=lease_s,
            updated_at=now or datetime.now(UTC),
        )
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'limit'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PolicyInputError(reasons) from exc
    except ValueError as exc:
        raise PolicyInputError(str(exc)) from exc


async def put_limit(bootstrap: str, topics: Topics, limit: LimitPolicy) -> None:
    """Write (create or replace) a subject's limits; gateways apply it within a moment."""
    await _send(bootstrap, topics.limits, [(limit.limit_id, encode_one(limit))])


async def delete_limit(bootstrap: str, topics: Topics, limit_key: str) -> None:
    """Write a tombstone for ``scope:subject``."""
    await _send(bootstrap, topics.limits, [(limit_key, None)])


async def list_limits(bootstrap: str, topics: Topics) -> list[LimitPolicy]:
    """The current limits: the compacted topic read to its end, latest value per subject."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
        tp = TopicPartition(topics.limits, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        latest: dict[str, bytes | None] = {}
        while await consumer.position(tp) < end:
            batches = await consumer.getmany(tp, timeout_ms=500)
            for message in batches.get(tp, []):
                latest[(message.key or b"").decode()] = message.value
        return [
            LimitPolicy.model_validate_json(value)
            for _, value in sorted(latest.items())
            if value is not None
        ]
    finally:
        await consumer.stop()
