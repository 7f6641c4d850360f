from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from meterline.local.ports import free_port
from producers.budget_guard import BudgetGuard
from producers.config import GuardSettings
from producers.guard_sync import SyncBudgetGuard
from schemas.budgets import (
    BudgetState,
)
from schemas.codec import encode_one
from tests.integration.budget_helpers import exceeded_state

pytestmark = pytest.mark.integration


async def publish(bootstrap: str, topic: str, state: BudgetState) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, encode_one(state), key=state.policy_id.encode())
    finally:
        await producer.stop()


async def test_guard_loads_state_before_serving_and_follows_changes(tansu, topics) -> None:
    await publish(tansu.bootstrap, topics.budget_state, exceeded_state("k-old"))
    guard = BudgetGuard(GuardSettings(kafka_bootstrap=tansu.bootstrap, topic_prefix=topics.prefix))
    await guard.start()
    try:
        assert guard.available
        assert not guard.check("k-old").allowed
        assert guard.check("k-new").allowed
        await publish(tansu.bootstrap, topics.budget_state, exceeded_state("k-new"))
        async with asyncio.timeout(10):
            while guard.check("k-new").allowed:
                await asyncio.sleep(0.01)
    finally:
        await guard.stop()


@pytest.mark.parametrize(("mode", "allowed"), [("open", True), ("closed", False)])
def test_unreachable_broker_follows_the_fail_mode(mode: str, allowed: bool) -> None:
    settings = GuardSettings(
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        guard_fail_mode=mode,
        guard_start_timeout_s=1,
        guard_stale_after_s=1,
    )
    with SyncBudgetGuard(settings) as guard:
        assert not guard.available
        decision = guard.check("any-key")
        assert decision.allowed is allowed
        if not allowed:
            assert "unavailable" in decision.reason


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_broker_lost_after_loading_follows_the_fail_mode(mode: str, tmp_path) -> None:
    from meterline.kafka_admin import create_topics
    from meterline.local import TansuBroker
    from schemas.topics import Topics

    topics = Topics("outage.")
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    try:
        await create_topics(broker.bootstrap, topics)
        await publish(broker.bootstrap, topics.budget_state, exceeded_state("k-blocked"))
        settings = GuardSettings(
            kafka_bootstrap=broker.bootstrap,
            topic_prefix=topics.prefix,
            guard_fail_mode=mode,
            guard_stale_after_s=2,
        )
        guard = await BudgetGuard(settings).start()
        try:
            assert guard.available and guard.check("k-free").allowed
            broker.stop()
            async with asyncio.timeout(20):
                while guard.available:
                    await asyncio.sleep(0.1)
            # What it knew still blocks; the rest depends on the mode.
            assert not guard.check("k-blocked").allowed
            assert guard.check("k-free").allowed is (mode == "open")
        finally:
            await guard.stop()
    finally:
        broker.stop()


def test_litellm_hook_can_load_the_guard_factory(tansu, topics, monkeypatch) -> None:
    from producers.integrations.guard import load_guard

    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", tansu.bootstrap)
    monkeypatch.setenv("METERLINE_TOPIC_PREFIX", topics.prefix)
    asyncio.run(publish(tansu.bootstrap, topics.budget_state, exceeded_state("k-capped")))
    guard = load_guard("producers.guard_sync:started_guard")
    assert isinstance(guard, SyncBudgetGuard)
    try:
        assert not guard.check("k-capped").allowed
        assert guard.check("k-other").allowed
    finally:
        guard.close()
