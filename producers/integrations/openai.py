"""OpenAI SDK helper: a Chat Completions or Responses result (object or dict) → ``UsageEvent``.

Works on what the ``openai`` package returns and on the same JSON as dicts, so it needs no
import of ``openai``. For a stream, pass the chunk that carries ``usage`` (Chat Completions with
``stream_options={"include_usage": True}``: the last chunk) or the ``response.completed`` event
(Responses), and the event is marked ``streamed``.
"""

from __future__ import annotations

from typing import Any

from producers.integrations._event import CallContext, build_event
from producers.integrations._fields import field
from producers.integrations._tokens import openai_chat_tokens, openai_responses_tokens
from producers.integrations.errors import UsageMappingError
from schemas.usage import Status, UsageEvent

__all__ = ["openai_usage_event"]

_STREAM_OBJECTS = {"chat.completion.chunk"}
_RESPONSE_STATUS = {
    "failed": Status.ERROR,
    "cancelled": Status.CANCELLED,
}


def openai_usage_event(
    result: Any, ctx: CallContext, *, provider: str = "openai", streamed: bool | None = None
) -> UsageEvent:
    """One event for an OpenAI call.

    ``result`` is a ``ChatCompletion``, the usage-bearing ``ChatCompletionChunk`` of a stream, a
    Responses ``Response``, or a ``response.completed``/``response.failed`` stream event (its
    ``response`` is used). ``streamed`` defaults to True for chunks and stream events.
    Raises ``UsageMappingError`` when the result has no usage or inconsistent counts.
    """
    is_stream_event = field(result, "type", "").startswith("response.")
    if is_stream_event:
        result = field(result, "response")
    usage = field(result, "usage")
    if usage is None:
        raise UsageMappingError(
            "OpenAI result carries no usage; for a Chat Completions stream pass "
            "stream_options={'include_usage': True} and hand over the last chunk"
        )
    obj = field(result, "object", "")
    if obj == "response" or field(usage, "input_tokens") is not None:
        tokens = openai_responses_tokens(usage)
        status = _RESPONSE_STATUS.get(field(result, "status", ""), Status.SUCCESS)
    else:
        tokens = openai_chat_tokens(usage)
        status = Status.SUCCESS
    if streamed is None:
        streamed = is_stream_event or obj in _STREAM_OBJECTS
    return build_event(
        ctx,
        provider=provider,
        model=_required(result, "model"),
        request_id=field(result, "id", ""),
        tokens=tokens,
        streamed=streamed,
        status=status,
    )


def _required(result: Any, name: str) -> str:
    value = field(result, name)
    if not value:
        raise UsageMappingError(f"OpenAI result has no {name!r}")
    return str(value)
