"""The call context every SDK helper takes, and building the event from it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from producers.events import usage_event
from schemas.usage import Status, TokenCounts, UsageEvent

__all__ = ["CallContext", "build_event"]


@dataclass(frozen=True)
class CallContext:
    """What the app knows about a call that the provider's response does not say.

    ``api_key_id`` is the identity budgets follow (an id or a hash, never a secret);
    ``customer``/``feature`` become the ``customer:``/``feature:`` tags in front of ``tags``.
    Leave ``event_id`` empty to get a fresh UUIDv7; pass the same one when re-recording a call.
    """

    api_key_id: str
    customer: str | None = None
    feature: str | None = None
    tags: Iterable[str] = field(default_factory=tuple)
    gateway: str = "sdk"
    latency_ms: int = 0
    event_id: str | None = None
    occurred_at: datetime | None = None
    provider_cost: Decimal | None = None


def build_event(
    ctx: CallContext,
    *,
    provider: str,
    model: str,
    request_id: str,
    tokens: TokenCounts,
    streamed: bool,
    status: Status = Status.SUCCESS,
) -> UsageEvent:
    return usage_event(
        api_key_id=ctx.api_key_id,
        provider=provider,
        model=model,
        customer=ctx.customer,
        feature=ctx.feature,
        tags=tuple(ctx.tags),
        input_tokens=tokens.input,
        output_tokens=tokens.output,
        cache_read_tokens=tokens.cache_read,
        cache_write_tokens=tokens.cache_write,
        reasoning_tokens=tokens.reasoning,
        status=status,
        streamed=streamed,
        latency_ms=ctx.latency_ms,
        provider_cost=ctx.provider_cost,
        gateway=ctx.gateway,
        request_id=request_id,
        event_id=ctx.event_id,
        occurred_at=ctx.occurred_at,
    )
