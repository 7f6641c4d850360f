"""A LiteLLM proxy PROCESS loading ``producers.integrations.litellm.callback`` from its
config.yaml, in front of a fake OpenAI provider, called by the ``openai`` client with
``extra_body`` metadata tags. Events are read back from the real Tansu raw topic; budgets are
enforced by the real BudgetGuard following the state topic."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

# Set before anything imports LiteLLM: no price map download.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import openai
from aiokafka import AIOKafkaProducer

from meterline.kafka_admin import create_topics
from schemas.budgets import (
    BudgetState,
)
from schemas.codec import encode_one
from schemas.topics import Topics
from schemas.usage import Status, UsageEvent
from tests.integration._fake_openai import BROKEN_MODEL, STREAM_USAGE, USAGE, FakeOpenAI
from tests.integration._raw_topic import read_raw_events
from tests.integration.budget_helpers import exceeded_state
from tests.integration.litellm_proxy_process import LiteLLMProxy

pytestmark = [
    pytest.mark.integration,
    # LiteLLM's lazily built TypedDicts make pydantic warn about ReadOnly; not ours to fix.
    pytest.mark.filterwarnings("ignore:.*ReadOnly.*qualifier:UserWarning"),
]

REPO = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]

CONFIG = """
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {api_base}
      api_key: sk-provider-not-real
  - model_name: {broken}
    litellm_params:
      model: openai/{broken}
      api_base: {api_base}
      api_key: sk-provider-not-real
litellm_settings:
  callbacks: producers.integrations.litellm.callback
  num_retries: 0
general_settings:
  master_key: {master_key}
  custom_auth: tests.integration.litellm_proxy_support.user_api_key_auth
"""


class Stack:
    def __init__(self, proxy: LiteLLMProxy, provider: FakeOpenAI, topics: Topics, bootstrap: str):
        self.proxy = proxy
        self.provider = provider
        self.topics = topics
        self.bootstrap = bootstrap

    def client(self, key: str = "sk-acme-test") -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.proxy.base_url}/v1", api_key=key, max_retries=0)

    def events(self, feature: str, at_least: int) -> list[tuple[str, UsageEvent]]:
        """The events of ``feature`` once ``at_least`` arrived, with any extra one: a marker
        call on the same key after them is on the topic, and the topic is read to its end."""
        marker = f"feature:{_feature()}"
        self.client().chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            extra_body={"metadata": {"tags": ["customer:acme", marker]}},
        )
        return asyncio.run(
            read_raw_events(
                self.bootstrap,
                self.topics.usage_raw,
                at_least=at_least,
                where=lambda e: f"feature:{feature}" in e.tags,
                timeout=30,
                marker=lambda e: marker in e.tags,
            )
        )


def over_cap(key_id: str) -> BudgetState:
    return exceeded_state(key_id, spend="50.25", limit="50")


@pytest.fixture(scope="module")
def stack(tansu, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    """One proxy for the module: it takes several seconds to start."""
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    asyncio.run(create_topics(tansu.bootstrap, topics))
    publish_state(
        tansu.bootstrap,
        topics.budget_state,
        over_cap("runaway-prod"),
    )
    workdir = tmp_path_factory.mktemp("litellm-proxy")
    with FakeOpenAI() as provider:
        config = workdir / "config.yaml"
        config.write_text(
            CONFIG.format(
                api_base=provider.base_url,
                broken=BROKEN_MODEL,
                master_key=f"sk-{secrets.token_hex(32)}",
            )
        )
        env = {
            "METERLINE_KAFKA_BOOTSTRAP": tansu.bootstrap,
            "METERLINE_TOPIC_PREFIX": topics.prefix,
            "METERLINE_SPOOL_DIR": str(workdir / "spool"),
            "METERLINE_LINGER_MS": "1",
            "METERLINE_LITELLM_KEY_IDENTITY": "alias",
            "METERLINE_LITELLM_GATEWAY": "litellm-test",
            "PYTHONPATH": str(REPO),
        }
        proxy = LiteLLMProxy(config, log_path=workdir / "proxy.log", env=env, cwd=REPO)
        with proxy:
            yield Stack(proxy, provider, topics, tansu.bootstrap)


def publish_state(bootstrap: str, topic: str, state: BudgetState) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, encode_one(state), key=state.policy_id.encode())
        finally:
            await producer.stop()

    asyncio.run(send())


def _feature() -> str:
    return f"f{uuid.uuid4().hex[:8]}"


def test_call_arrives_as_one_event_with_tags_tokens_and_cost(stack: Stack) -> None:
    feature = _feature()
    raw = stack.client().chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        extra_body={"metadata": {"tags": ["customer:acme", f"feature:{feature}"]}},
    )
    completion = raw.parse()
    found = stack.events(feature, at_least=1)
    assert len(found) == 1, found
    key, event = found[0]
    assert key == event.api_key_id == "acme-prod"
    assert event.tags[:2] == ["customer:acme", f"feature:{feature}"]
    assert "team:team-support" in event.tags
    assert not any(t.lower().startswith("user-agent") for t in event.tags)
    cached = USAGE["prompt_tokens_details"]["cached_tokens"]
    assert event.tokens.input == USAGE["prompt_tokens"] - cached
    assert event.tokens.cache_read == cached
    assert event.tokens.output == USAGE["completion_tokens"]
    assert event.tokens.reasoning == USAGE["completion_tokens_details"]["reasoning_tokens"]
    assert event.status == Status.SUCCESS
    assert event.streamed is False
    assert event.gateway == "litellm-test"
    assert event.provider == "openai"
    assert event.model == "gpt-4o-mini"
    assert event.request_id == completion.id
    header_cost = Decimal(raw.headers["x-litellm-response-cost"]).quantize(Decimal("1e-12"))
    assert event.provider_cost == header_cost > 0


def test_streaming_call_carries_its_usage(stack: Stack) -> None:
    feature = _feature()
    stream = stack.client().chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"metadata": {"tags": ["customer:acme", f"feature:{feature}"]}},
    )
    usage = None
    for chunk in stream:
        usage = chunk.usage or usage
    assert usage is not None and usage.completion_tokens == STREAM_USAGE["completion_tokens"]
    found = stack.events(feature, at_least=1)
    assert len(found) == 1, found
    event = found[0][1]
    assert event.streamed is True
    cached = STREAM_USAGE["prompt_tokens_details"]["cached_tokens"]
    assert event.tokens.cache_read == cached
    assert event.tokens.input == STREAM_USAGE["prompt_tokens"] - cached
    assert event.tokens.output == STREAM_USAGE["completion_tokens"]
    assert event.provider_cost is not None and event.provider_cost > 0


def test_failed_call_is_recorded_as_error(stack: Stack) -> None:
    feature = _feature()
    with pytest.raises(openai.BadRequestError):
        stack.client().chat.completions.create(
            model=BROKEN_MODEL,
            messages=MESSAGES,
            extra_body={"metadata": {"tags": ["customer:acme", f"feature:{feature}"]}},
        )
    found = stack.events(feature, at_least=1)
    assert len(found) == 1, found
    event = found[0][1]
    assert event.status == Status.ERROR
    assert event.api_key_id == "acme-prod"
    assert event.tokens.total == 0
    assert event.model == BROKEN_MODEL


def test_blocked_key_gets_429_and_the_provider_is_not_called(stack: Stack) -> None:
    feature = _feature()
    calls_before = len(stack.provider.calls)
    with pytest.raises(openai.RateLimitError) as refused:
        stack.client("sk-runaway-test").chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            extra_body={"metadata": {"tags": ["customer:acme", f"feature:{feature}"]}},
        )
    assert refused.value.status_code == 429
    message = str(refused.value)
    assert "runaway-prod" in message
    assert "cap-runaway-prod" in message
    assert "exceeded" in message and "50.25" in message
    assert 0 < int(refused.value.response.headers["retry-after"]) <= 2 * 3600
    assert len(stack.provider.calls) == calls_before

    # The same proxy still serves a key that is not blocked.
    stack.client().chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        extra_body={"metadata": {"tags": ["customer:acme", f"feature:{feature}"]}},
    )
    assert len(stack.provider.calls) == calls_before + 1
    # The refusal is not usage: LiteLLM reports it as a failed call, the callback drops it.
    found = stack.events(feature, at_least=1)
    assert [(key, e.status) for key, e in found] == [("acme-prod", Status.SUCCESS)], found


def test_key_is_refused_once_its_budget_state_says_exceeded(stack: Stack) -> None:
    """The guard follows the state topic live: a key served a moment ago is refused once the
    stream publishes that its cap is crossed, without restarting the proxy."""
    feature = _feature()
    client = stack.client("sk-late-test")
    body = {"metadata": {"tags": ["customer:acme", f"feature:{feature}"]}}
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_body=body)
    publish_state(
        stack.bootstrap,
        stack.topics.budget_state,
        over_cap("late-prod"),
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_body=body)
        except openai.RateLimitError as refused:
            assert "cap-late-prod" in str(refused)
            break
        assert time.monotonic() < deadline, "the key was still served 20 s after its cap"
        time.sleep(0.2)
