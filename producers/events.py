"""Building ``UsageEvent``s at the gateway: ids and the tag convention."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from schemas.usage import Status, TokenCounts, UsageEvent

__all__ = ["new_event_id", "usage_event"]


def new_event_id(now_ms: int | None = None) -> str:
    """A UUIDv7 (time-ordered, random tail) as a string: the event's idempotency key.

    Make it once per call and reuse it on every retry of that call.
    """
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def usage_event(
    *,
    api_key_id: str,
    provider: str,
    model: str,
    customer: str | None = None,
    feature: str | None = None,
    tags: Iterable[str] = (),
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    reasoning_tokens: int = 0,
    status: Status | str = Status.SUCCESS,
    streamed: bool = False,
    latency_ms: int = 0,
    provider_cost: Decimal | str | None = None,
    gateway: str = "gateway",
    request_id: str = "",
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> UsageEvent:
    """A validated event from the tag convention: ``customer`` and ``feature`` become the
    ``customer:<id>`` and ``feature:<name>`` tags in front of any other ``tags``.

    Token buckets follow :class:`schemas.TokenCounts`: ``input_tokens`` excludes cached tokens and
    ``reasoning_tokens`` is part of ``output_tokens``.
    """
    all_tags = []
    if customer:
        all_tags.append(f"customer:{customer}")
    if feature:
        all_tags.append(f"feature:{feature}")
    all_tags.extend(tags)
    return UsageEvent(
        event_id=event_id or new_event_id(),
        occurred_at=occurred_at or datetime.now(UTC),
        gateway=gateway,
        api_key_id=api_key_id,
        request_id=request_id,
        provider=provider,
        model=model,
        tokens=TokenCounts(
            input=input_tokens,
            output=output_tokens,
            cache_read=cache_read_tokens,
            cache_write=cache_write_tokens,
            reasoning=reasoning_tokens,
        ),
        tags=all_tags,
        status=Status(status),
        streamed=streamed,
        latency_ms=latency_ms,
        provider_cost=Decimal(provider_cost) if isinstance(provider_cost, str) else provider_cost,
    )
