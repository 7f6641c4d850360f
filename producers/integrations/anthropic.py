"""Anthropic SDK helper: a Messages result (object or dict) or its stream events → ``UsageEvent``.

Needs no import of ``anthropic``. For a stream either pass ``stream.get_final_message()`` to
:func:`anthropic_usage_event`, or hand the raw stream events to
:func:`anthropic_stream_usage_event`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from producers.integrations._event import CallContext, build_event
from producers.integrations._fields import field
from producers.integrations._tokens import anthropic_tokens
from producers.integrations.errors import UsageMappingError
from schemas.usage import UsageEvent

__all__ = ["anthropic_stream_usage_event", "anthropic_usage_event"]

_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def anthropic_usage_event(
    message: Any, ctx: CallContext, *, provider: str = "anthropic", streamed: bool = False
) -> UsageEvent:
    """One event for a ``Message`` (or its dict). Raises ``UsageMappingError`` without usage."""
    usage = field(message, "usage")
    model = field(message, "model")
    if usage is None or not model:
        raise UsageMappingError("Anthropic message carries no usage or no model")
    return build_event(
        ctx,
        provider=provider,
        model=str(model),
        request_id=field(message, "id", ""),
        tokens=anthropic_tokens(usage),
        streamed=streamed,
    )


def anthropic_stream_usage_event(
    events: Iterable[Any], ctx: CallContext, *, provider: str = "anthropic"
) -> UsageEvent:
    """One event from the raw events of a Messages stream.

    ``message_start`` carries the message (model, id, prompt and cache usage);
    ``message_delta`` events carry cumulative usage, so the latest value of each field wins.
    """
    message: Any = None
    usage: dict[str, Any] = {}
    for event in events:
        kind = field(event, "type")
        if kind == "message_start":
            message = field(event, "message")
            _merge(usage, field(message, "usage"))
        elif kind == "message_delta":
            _merge(usage, field(event, "usage"))
    if message is None:
        raise UsageMappingError("Anthropic stream had no message_start event")
    final = {"id": field(message, "id", ""), "model": field(message, "model"), "usage": usage}
    return anthropic_usage_event(final, ctx, provider=provider, streamed=True)


def _merge(into: dict[str, Any], usage: Any) -> None:
    for name in _USAGE_FIELDS:
        value = field(usage, name)
        if value is not None:
            into[name] = value
