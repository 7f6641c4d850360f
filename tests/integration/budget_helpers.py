"""Helpers of the budget integration tests: enriched batches in, alerts and states out."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.budgets import (
    BudgetAction,
    BudgetAlert,
    BudgetScope,
    BudgetState,
    BudgetStatus,
    BudgetUnit,
    BudgetWindow,
)
from schemas.codec import decode_batch, encode_batch
from schemas.dead_letters import DeadLetter
from schemas.usage import CostSource, EnrichedUsage, TokenCounts


def enriched(api_key_id: str, cost: str, *, owner: str = "", team: str = "") -> EnrichedUsage:
    now = datetime.now(UTC)
    return EnrichedUsage(
        event_id=str(uuid.uuid4()),
        occurred_at=now,
        gateway="test",
        api_key_id=api_key_id,
        provider="openai",
        model="gpt-4o",
        tokens=TokenCounts(input=100, output=20),
        owner_customer=owner,
        team_id=team,
        cost=Decimal(cost),
        computed_cost=Decimal(cost),
        cost_source=CostSource.PRICE_BOOK,
        enriched_at=now,
    )


async def produce_enriched(bootstrap: str, topic: str, events: list[EnrichedUsage]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, encode_batch(events), key=events[0].api_key_id.encode())
    finally:
        await producer.stop()


async def produce_raw(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def read_dead_letters(bootstrap: str, topic: str, *, until: int) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        letters: list[DeadLetter] = []
        async with asyncio.timeout(30):
            while len(letters) < until:
                batches = await consumer.getmany(tp, timeout_ms=200)
                for m in batches.get(tp, []):
                    letters += decode_batch(DeadLetter, m.value)
        return letters
    finally:
        await consumer.stop()


async def read_alerts(
    bootstrap: str,
    topic: str,
    *,
    until: int,
    timeout: float = 30.0,
    settled: Callable[[], Awaitable[None]] | None = None,
) -> list[BudgetAlert]:
    """Every alert on ``topic`` from the beginning, waiting until ``until`` arrived. With
    ``settled`` (a barrier such as ``kafka_groups.stream_settled``) it then waits for the
    barrier and reads on to the topic's end, to see duplicates that would follow."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        alerts: list[BudgetAlert] = []
        deadline = time.monotonic() + timeout
        end: int | None = None
        while time.monotonic() < deadline:
            batches = await consumer.getmany(tp, timeout_ms=200)
            alerts += [BudgetAlert.model_validate_json(m.value) for m in batches.get(tp, [])]
            if end is None and len(alerts) >= until:
                if settled is None:
                    break
                await settled()
                end = (await consumer.end_offsets([tp]))[tp]
            if end is not None and await consumer.position(tp) >= end:
                break
        return alerts
    finally:
        await consumer.stop()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def exceeded_state(key_id: str, spend: str = "2", limit: str = "1") -> BudgetState:
    """What the stream publishes when a key's hard cap (policy ``cap-<key>``) is crossed."""
    now = datetime.now(UTC)
    return BudgetState(
        policy_id=f"cap-{key_id}",
        scope=BudgetScope.KEY,
        subject=key_id,
        status=BudgetStatus.EXCEEDED,
        action=BudgetAction.BLOCK,
        unit=BudgetUnit.USD,
        window=BudgetWindow.ROLLING_24H,
        spend=Decimal(spend),
        limit=Decimal(limit),
        window_start=now - timedelta(hours=3),
        resets_at=now + timedelta(hours=2),
        updated_at=now,
    )
