"""OpenAI SDK helper on recorded payloads: Chat Completions, its usage chunk, Responses."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseCompletedEvent

from producers.integrations import CallContext, UsageMappingError, openai_usage_event
from schemas.usage import Status

CTX = CallContext(
    api_key_id="key-7f3a",
    customer="acme",
    feature="assistant",
    tags=["env:prod"],
    latency_ms=812,
    event_id="0192f3a0-0000-7000-8000-000000000001",
    occurred_at=datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
)

# Recorded from the Chat Completions API (gpt-4o family with a cached prompt and o-series
# reasoning); ids shortened.
CHAT_COMPLETION = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "o4-mini-2025-04-16",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 256,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": None,
}

# The last chunk of a stream with stream_options={"include_usage": true}: no choices, usage set.
CHAT_USAGE_CHUNK = {
    "id": "chatcmpl-B9MHqf2kQ0dxlX3hjMzGz2nZxvq1m",
    "object": "chat.completion.chunk",
    "created": 1741570300,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 87,
        "total_tokens": 1287,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    },
}

RESPONSE = {
    "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
    "object": "response",
    "created_at": 1741476777,
    "status": "completed",
    "model": "o3-2025-04-16",
    "output": [],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 5000,
        "input_tokens_details": {"cached_tokens": 4096, "cache_write_tokens": 512},
        "output_tokens": 1400,
        "output_tokens_details": {"reasoning_tokens": 1024},
        "total_tokens": 6400,
    },
}


@pytest.mark.parametrize("as_object", [False, True], ids=["dict", "sdk-object"])
def test_chat_completion_maps_cached_and_reasoning_tokens(as_object: bool) -> None:
    payload = ChatCompletion.model_validate(CHAT_COMPLETION) if as_object else CHAT_COMPLETION
    event = openai_usage_event(payload, CTX)
    assert event.tokens.input == 2006 - 1920
    assert event.tokens.cache_read == 1920
    assert event.tokens.cache_write == 0
    assert event.tokens.output == 300
    assert event.tokens.reasoning == 256
    assert event.tokens.prompt_total == 2006
    assert event.model == "o4-mini-2025-04-16"
    assert event.provider == "openai"
    assert event.request_id == CHAT_COMPLETION["id"]
    assert event.streamed is False
    assert event.status == Status.SUCCESS


def test_chat_cache_writes_come_out_of_the_prompt() -> None:
    payload = copy.deepcopy(CHAT_COMPLETION)
    payload["usage"]["prompt_tokens_details"]["cache_write_tokens"] = 50
    event = openai_usage_event(payload, CTX)
    assert (event.tokens.input, event.tokens.cache_read, event.tokens.cache_write) == (36, 1920, 50)
    assert event.tokens.prompt_total == 2006


def test_context_lands_on_the_event() -> None:
    event = openai_usage_event(CHAT_COMPLETION, CTX, provider="azure")
    assert event.tags == ["customer:acme", "feature:assistant", "env:prod"]
    assert event.api_key_id == "key-7f3a"
    assert event.event_id == CTX.event_id
    assert event.occurred_at == CTX.occurred_at
    assert event.latency_ms == 812
    assert event.gateway == "sdk"
    assert event.provider == "azure"


@pytest.mark.parametrize("as_object", [False, True], ids=["dict", "sdk-object"])
def test_stream_usage_chunk_is_a_streamed_event(as_object: bool) -> None:
    chunk = ChatCompletionChunk.model_validate(CHAT_USAGE_CHUNK) if as_object else CHAT_USAGE_CHUNK
    event = openai_usage_event(chunk, CTX)
    assert event.streamed is True
    assert (event.tokens.input, event.tokens.cache_read, event.tokens.output) == (176, 1024, 87)


def test_stream_chunk_without_usage_is_a_clear_error() -> None:
    chunk = {**CHAT_USAGE_CHUNK, "usage": None}
    with pytest.raises(UsageMappingError, match="include_usage"):
        openai_usage_event(chunk, CTX)


@pytest.mark.parametrize("as_object", [False, True], ids=["dict", "sdk-object"])
def test_responses_api_maps_its_own_field_names(as_object: bool) -> None:
    payload = Response.model_validate(RESPONSE) if as_object else RESPONSE
    event = openai_usage_event(payload, CTX)
    assert event.tokens.input == 5000 - 4096 - 512
    assert event.tokens.cache_read == 4096
    assert event.tokens.cache_write == 512
    assert event.tokens.output == 1400
    assert event.tokens.reasoning == 1024
    assert event.model == "o3-2025-04-16"
    assert event.request_id == RESPONSE["id"]
    assert event.streamed is False


def test_responses_completed_stream_event_unwraps_the_response() -> None:
    raw = {"type": "response.completed", "sequence_number": 42, "response": RESPONSE}
    event = openai_usage_event(ResponseCompletedEvent.model_validate(raw), CTX)
    assert event.streamed is True
    assert event.tokens.reasoning == 1024


@pytest.mark.parametrize(
    ("status", "expected"),
    [("failed", Status.ERROR), ("cancelled", Status.CANCELLED), ("incomplete", Status.SUCCESS)],
)
def test_responses_status_is_carried(status: str, expected: Status) -> None:
    assert openai_usage_event({**RESPONSE, "status": status}, CTX).status == expected


def test_more_cached_than_prompt_tokens_is_refused() -> None:
    bad = copy.deepcopy(CHAT_COMPLETION)
    bad["usage"]["prompt_tokens_details"]["cached_tokens"] = 5000
    with pytest.raises(UsageMappingError, match="smaller than its cached part"):
        openai_usage_event(bad, CTX)


def test_reasoning_above_output_is_refused() -> None:
    bad = copy.deepcopy(CHAT_COMPLETION)
    bad["usage"]["completion_tokens_details"]["reasoning_tokens"] = 301
    with pytest.raises(UsageMappingError, match="reasoning"):
        openai_usage_event(bad, CTX)


def test_non_integer_tokens_are_refused() -> None:
    bad = copy.deepcopy(CHAT_COMPLETION)
    bad["usage"]["prompt_tokens"] = "2006"
    with pytest.raises(UsageMappingError, match="prompt_tokens"):
        openai_usage_event(bad, CTX)


@given(
    uncached=st.integers(0, 10**6),
    cached=st.integers(0, 10**6),
    reasoning=st.integers(0, 10**5),
    visible=st.integers(0, 10**5),
)
def test_chat_buckets_always_add_up_to_the_provider_totals(
    uncached: int, cached: int, reasoning: int, visible: int
) -> None:
    usage = {
        "prompt_tokens": uncached + cached,
        "completion_tokens": reasoning + visible,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    event = openai_usage_event({"model": "gpt-4o", "id": "c", "usage": usage}, CTX)
    assert event.tokens.prompt_total == uncached + cached
    assert event.tokens.total == uncached + cached + reasoning + visible
    assert event.tokens.input == uncached
