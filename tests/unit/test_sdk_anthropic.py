"""Anthropic SDK helper on recorded Messages payloads and stream events."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from producers.integrations import (
    CallContext,
    UsageMappingError,
    anthropic_stream_usage_event,
    anthropic_usage_event,
)

CTX = CallContext(api_key_id="key-anthropic-1", customer="globex", feature="summarize")

# Recorded from the Messages API with prompt caching (ids shortened).
MESSAGE = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "Here is the summary..."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 21,
        "cache_creation_input_tokens": 188086,
        "cache_read_input_tokens": 0,
        "output_tokens": 393,
        "service_tier": "standard",
    },
}

CACHE_HIT_MESSAGE = {
    **MESSAGE,
    "id": "msg_01BdZ3G7Q3Yb6kH2n1Lq8x9P",
    "usage": {
        "input_tokens": 17,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 188086,
        "output_tokens": 412,
    },
}

STREAM_EVENTS = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_014p7gG3wDgGV9EUtLvnow3U",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-7-sonnet-20250219",
            "content": [],
            "stop_reason": None,
            "usage": {
                "input_tokens": 472,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 2048,
                "output_tokens": 2,
            },
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 89},
    },
    {"type": "message_stop"},
]


def _as_objects(value):  # type: ignore[no-untyped-def]
    """The payload as attribute objects, as the SDK hands them out."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _as_objects(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_as_objects(v) for v in value]
    return value


@pytest.mark.parametrize("as_object", [False, True], ids=["dict", "object"])
def test_cache_write_is_its_own_bucket(as_object: bool) -> None:
    event = anthropic_usage_event(_as_objects(MESSAGE) if as_object else MESSAGE, CTX)
    assert event.tokens.input == 21
    assert event.tokens.cache_write == 188086
    assert event.tokens.cache_read == 0
    assert event.tokens.output == 393
    assert event.tokens.reasoning == 0
    assert event.provider == "anthropic"
    assert event.model == "claude-sonnet-4-20250514"
    assert event.request_id == MESSAGE["id"]
    assert event.tags == ["customer:globex", "feature:summarize"]
    assert event.streamed is False


def test_cache_read_is_its_own_bucket() -> None:
    event = anthropic_usage_event(CACHE_HIT_MESSAGE, CTX)
    assert (event.tokens.input, event.tokens.cache_read, event.tokens.cache_write) == (
        17,
        188086,
        0,
    )
    assert event.tokens.prompt_total == 17 + 188086


@pytest.mark.parametrize("as_object", [False, True], ids=["dict", "object"])
def test_stream_takes_prompt_usage_from_start_and_final_output_from_delta(as_object: bool) -> None:
    events = _as_objects(STREAM_EVENTS) if as_object else STREAM_EVENTS
    event = anthropic_stream_usage_event(events, CTX)
    assert event.streamed is True
    assert event.tokens.input == 472
    assert event.tokens.cache_read == 2048
    assert event.tokens.output == 89
    assert event.model == "claude-3-7-sonnet-20250219"
    assert event.request_id == "msg_014p7gG3wDgGV9EUtLvnow3U"


def test_final_message_of_a_stream_can_be_marked_streamed() -> None:
    assert anthropic_usage_event(MESSAGE, CTX, streamed=True).streamed is True


def test_stream_without_message_start_is_an_error() -> None:
    with pytest.raises(UsageMappingError, match="message_start"):
        anthropic_stream_usage_event(STREAM_EVENTS[1:], CTX)


def test_message_without_usage_is_an_error() -> None:
    with pytest.raises(UsageMappingError):
        anthropic_usage_event({**MESSAGE, "usage": None}, CTX)


def test_negative_tokens_are_refused() -> None:
    bad = {**MESSAGE, "usage": {**MESSAGE["usage"], "output_tokens": -1}}
    with pytest.raises(UsageMappingError, match="negative"):
        anthropic_usage_event(bad, CTX)
