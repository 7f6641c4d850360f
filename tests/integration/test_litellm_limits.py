"""A LiteLLM proxy PROCESS enforcing Meterline limits through the default ``LimitGuard`` with a
real Valkey: the 601st call of a minute and the call that would cross a cap get HTTP 429 naming
the limit, and the fake provider never sees a refused call."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import openai
import valkey

from meterline.budget_admin import put_policy
from meterline.kafka_admin import create_topics
from meterline.limit_admin import put_limit
from producers.limits.backends import ValkeyBackend
from producers.limits.rules import Admitted, Ask, RateAsk
from schemas.budgets import BudgetPolicy, BudgetScope, BudgetWindow
from schemas.limits import LimitPolicy
from schemas.topics import Topics
from tests.integration._fake_openai import STREAM_USAGE, FakeOpenAI
from tests.integration.litellm_proxy_process import LiteLLMProxy
from tests.integration.test_litellm_proxy import CONFIG, MESSAGES

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:.*ReadOnly.*qualifier:UserWarning"),
]


def admitted(outcome: object) -> bool:
    return isinstance(outcome, Admitted)


REPO = Path(__file__).resolve().parents[2]
CAP_USD = Decimal("0.002")
MAX_CALL_COST = Decimal("0.0005")
# gpt-4o-mini in LiteLLM's price map for the fake provider's USAGE (176 + 1024 cached in, 300 out)
REAL_COST = Decimal("0.0002832")


class Stack:
    def __init__(self, proxy: LiteLLMProxy, provider: FakeOpenAI, topics: Topics, url: str):
        self.proxy, self.provider, self.topics, self.valkey_url = proxy, provider, topics, url

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.proxy.base_url}/v1", api_key=key, max_retries=0)


@pytest.fixture(scope="module")
def stack(tansu, valkey_server, tmp_path_factory) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    now = datetime.now(UTC)

    async def configure() -> None:
        await create_topics(tansu.bootstrap, topics)
        await put_limit(
            tansu.bootstrap,
            topics,
            LimitPolicy(scope=BudgetScope.KEY, subject="rpm-prod", rpm=600, updated_at=now),
        )
        await put_limit(
            tansu.bootstrap,
            topics,
            LimitPolicy(
                scope=BudgetScope.KEY,
                subject="stream-prod",
                tpm=100_000,
                max_parallel=1,
                updated_at=now,
            ),
        )
        await put_policy(tansu.bootstrap, topics, BudgetPolicy(
            policy_id="cap-prod-month", scope=BudgetScope.KEY, subject="cap-prod",
            limit=CAP_USD, window=BudgetWindow.MONTH, max_call_cost=MAX_CALL_COST,
            updated_at=now))  # fmt: skip

    asyncio.run(configure())
    workdir = tmp_path_factory.mktemp("litellm-limits")
    with FakeOpenAI() as provider:
        config = workdir / "config.yaml"
        master_key = f"sk-{secrets.token_hex(32)}"
        config.write_text(
            CONFIG.format(api_base=provider.base_url, broken="broken-model", master_key=master_key)
        )
        env = {
            "METERLINE_KAFKA_BOOTSTRAP": tansu.bootstrap,
            "METERLINE_TOPIC_PREFIX": topics.prefix,
            "METERLINE_SPOOL_DIR": str(workdir / "spool"),
            "METERLINE_LINGER_MS": "1",
            "METERLINE_LITELLM_KEY_IDENTITY": "alias",
            "METERLINE_LIMITS_URL": valkey_server.url,
            "PYTHONPATH": str(REPO),
        }
        with LiteLLMProxy(config, log_path=workdir / "proxy.log", env=env, cwd=REPO) as proxy:
            yield Stack(proxy, provider, topics, valkey_server.url)


def call(stack: Stack, key: str) -> None:
    stack.client(key).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=100,
        extra_body={"metadata": {"tags": ["customer:acme", "feature:limits"]}},
    )  # fmt: skip


def test_601st_call_of_a_minute_gets_429_naming_rpm(stack: Stack) -> None:
    # 590 calls of this minute were admitted by other gateways sharing the Valkey (the same
    # Lua decision a gateway runs); this proxy then admits 10 more and refuses the 601st.
    other = ValkeyBackend(stack.valkey_url, prefix=stack.topics.prefix)
    limit = RateAsk(key="key:rpm-prod", subject="key rpm-prod", rpm=600)
    for i in range(590):
        assert admitted(other.reserve(Ask(f"other-gateway-{i}", 0, (limit,))))
    other.close()
    before = len(stack.provider.calls)
    for _ in range(10):
        call(stack, "sk-rpm-test")
    assert len(stack.provider.calls) == before + 10
    with pytest.raises(openai.RateLimitError) as refused:
        call(stack, "sk-rpm-test")
    assert refused.value.status_code == 429
    text = str(refused.value)
    assert "rpm" in text and "key rpm-prod" in text and "600 per minute" in text
    assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60
    assert len(stack.provider.calls) == before + 10


def test_call_that_would_cross_the_cap_gets_429_naming_budget(stack: Stack) -> None:
    before = len(stack.provider.calls)
    admitted = 0
    with pytest.raises(openai.RateLimitError) as refused:
        for _ in range(20):
            call(stack, "sk-cap-test")
            admitted += 1
    text = str(refused.value)
    assert "budget" in text and "key cap-prod" in text and "cap-prod-month" in text
    assert int(refused.value.response.headers["retry-after"]) >= 1
    # Every admitted call reached the provider, the refused one did not, and what was
    # admitted stays within the cap (each call reserved 0.0005 and settled its real cost).
    assert len(stack.provider.calls) == before + admitted
    assert admitted * REAL_COST <= CAP_USD
    # Not refused early: even with no earlier call settled yet, 3 reservations of 0.0005 fit.
    assert admitted >= 3


def test_streamed_call_settles_its_final_usage_and_frees_its_slot(stack: Stack) -> None:
    client = valkey.Valkey.from_url(stack.valkey_url)
    tokens_key = f"{stack.topics.prefix}ml:r:key:stream-prod:tok"
    for _ in range(2):  # max_parallel 1: the second call needs the first one's slot back
        stream = stack.client("sk-stream-test").chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=2000, stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        for _chunk in stream:
            pass
        # Reserved: the prompt estimate + 2000; settled: the stream's real total.
        deadline = time.monotonic() + 20
        while client.zcard(f"{stack.topics.prefix}ml:r:key:stream-prod:par"):
            assert time.monotonic() < deadline, "the streamed call never settled"
            time.sleep(0.05)
    total = int(client.hget(tokens_key, "_sum"))
    assert total == 2 * STREAM_USAGE["total_tokens"]
    client.close()
