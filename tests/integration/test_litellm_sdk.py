"""The LiteLLM SDK with ``mock_response`` (no network) and the Meterline callback registered:
each call arrives on the real Tansu raw topic as one event."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

from producers.config import ProducerSettings
from producers.integrations.config import LiteLLMSettings
from producers.integrations.litellm import MeterlineCallback
from producers.sync import SyncUsageProducer
from schemas.topics import Topics
from schemas.usage import Status
from tests.integration._raw_topic import read_raw_events

pytestmark = [
    pytest.mark.integration,
    # LiteLLM's lazily built TypedDicts make pydantic warn about ReadOnly; not ours to fix.
    pytest.mark.filterwarnings("ignore:.*ReadOnly.*qualifier:UserWarning"),
]

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
TAGS = ["customer:acme", "feature:assistant"]
# A recorded o-series completion with a cached prompt and reasoning tokens.
COMPLETION = {
    "id": "chatcmpl-sdk-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1024},
        "completion_tokens_details": {"reasoning_tokens": 256},
    },
}


@pytest.fixture
def metered(tansu, topics: Topics, tmp_path: Path) -> Iterator[MeterlineCallback]:  # type: ignore[no-untyped-def]
    settings = ProducerSettings(
        kafka_bootstrap=tansu.bootstrap, topic_prefix=topics.prefix, spool_dir=tmp_path / "spool"
    )
    saved = litellm.callbacks
    with SyncUsageProducer(settings) as producer:
        callback = MeterlineCallback(
            producer=producer, settings=LiteLLMSettings(anonymous_key_id="sdk-app")
        )
        litellm.callbacks = [callback]
        try:
            yield callback
        finally:
            # LiteLLM copies registered loggers into its own lists (one per class); drop ours so
            # the next test's callback is the one called.
            litellm.logging_callback_manager.remove_callback_from_all_lists(callback)
            litellm.callbacks = saved


async def test_each_sdk_call_becomes_one_event(metered, tansu, topics: Topics) -> None:  # type: ignore[no-untyped-def]
    response = await litellm.acompletion(
        model="gpt-4o-mini", messages=MESSAGES, mock_response=COMPLETION, metadata={"tags": TAGS}
    )
    stream = await litellm.acompletion(
        model="gpt-4o-mini",
        messages=MESSAGES,
        mock_response="Paris is the capital of France.",
        stream=True,
        stream_options={"include_usage": True},
        metadata={"tags": ["customer:globex", "feature:search"]},
    )
    streamed_usage = None
    async for chunk in stream:
        streamed_usage = getattr(chunk, "usage", None) or streamed_usage
    with pytest.raises(litellm.RateLimitError):
        await litellm.acompletion(
            model="gpt-4o-mini",
            messages=MESSAGES,
            mock_response="litellm.RateLimitError",
            metadata={"tags": ["customer:initech"]},
        )

    assert metered.flush(15)
    found = await read_raw_events(tansu.bootstrap, topics.usage_raw, at_least=3)
    by_customer = {event.tag_values("customer")[0]: (key, event) for key, event in found}
    assert len(found) == 3, found
    assert metered.unmetered == 0

    key, plain = by_customer["acme"]
    assert key == plain.api_key_id == "sdk-app"
    assert plain.tags == TAGS
    assert plain.status == Status.SUCCESS
    assert plain.streamed is False
    assert (plain.tokens.input, plain.tokens.cache_read) == (1200 - 1024, 1024)
    assert (plain.tokens.output, plain.tokens.reasoning) == (300, 256)
    assert plain.provider == "openai"
    assert plain.model == "gpt-4o-mini"
    assert plain.request_id == response.id
    expected_cost = Decimal(str(response._hidden_params["response_cost"])).quantize(
        Decimal("1e-12")
    )
    assert plain.provider_cost == expected_cost > 0

    _, streamed = by_customer["globex"]
    assert streamed.streamed is True
    assert streamed_usage is not None
    assert streamed.tokens.prompt_total == streamed_usage.prompt_tokens
    assert streamed.tokens.output == streamed_usage.completion_tokens > 0
    assert streamed.tags == ["customer:globex", "feature:search"]

    _, failed = by_customer["initech"]
    assert failed.status == Status.ERROR
    assert failed.tokens.total == 0


def test_sync_sdk_call_is_metered_too(metered, tansu, topics: Topics) -> None:  # type: ignore[no-untyped-def]
    litellm.completion(
        model="gpt-4o-mini", messages=MESSAGES, mock_response=COMPLETION, metadata={"tags": TAGS}
    )
    deadline = time.monotonic() + 10
    found = []
    while time.monotonic() < deadline and not found:
        # LiteLLM runs sync success callbacks on a thread after returning.
        metered.flush(5)
        found = asyncio.run(
            read_raw_events(tansu.bootstrap, topics.usage_raw, at_least=1, timeout=2)
        )
    assert len(found) == 1, (metered.producer().stats, metered.unmetered)
    assert found[0][1].tokens.cache_read == 1024


def test_proxy_workers_take_separate_spool_slots(tansu, topics: Topics, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from producers.integrations.litellm import _start_producer

    settings = ProducerSettings(
        kafka_bootstrap=tansu.bootstrap, topic_prefix=topics.prefix, spool_dir=tmp_path / "spool"
    )
    first = _start_producer(settings)
    second = _start_producer(settings)
    try:
        assert first._producer.settings.spool_dir == tmp_path / "spool"
        assert second._producer.settings.spool_dir == tmp_path / "spool" / "worker-1"
    finally:
        second.close()
        first.close()
    # A restarted worker gets the first slot back, and with it what an earlier one spooled.
    again = _start_producer(settings)
    try:
        assert again._producer.settings.spool_dir == tmp_path / "spool"
    finally:
        again.close()
