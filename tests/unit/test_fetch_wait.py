"""The fetch-wait cap reaches into private Faust and aiokafka names; these tests fail loudly
when a new version renames them (then update ``stream.fetch_wait``)."""

from __future__ import annotations

import inspect

import pytest
from aiokafka import AIOKafkaConsumer

from stream.fetch_wait import (
    CONSUMER_ATTRIBUTE,
    FACTORY,
    FetchWaitPatchError,
    _consumer_thread_class,
    limit_fetch_wait,
)


def test_faust_still_builds_the_worker_consumer_in_the_patched_method() -> None:
    factory = getattr(_consumer_thread_class(), FACTORY, None)
    assert callable(factory), f"faust renamed AIOKafkaConsumerThread.{FACTORY}"
    assert list(inspect.signature(factory).parameters)[:2] == ["self", "transport"]


async def test_aiokafka_consumer_still_keeps_the_patched_attribute() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=1234)
    assert getattr(consumer, CONSUMER_ATTRIBUTE, None) == 1234, (
        f"aiokafka renamed AIOKafkaConsumer.{CONSUMER_ATTRIBUTE}"
    )


async def test_the_cap_applies_to_consumers_made_after_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    made: list[AIOKafkaConsumer] = []

    def faust_factory(self: object, transport: object) -> AIOKafkaConsumer:
        made.append(AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=1500))
        return made[-1]

    thread_class = _consumer_thread_class()
    monkeypatch.setattr(thread_class, FACTORY, faust_factory)
    limit_fetch_wait(100)
    limit_fetch_wait(120)  # a second call changes the cap, it does not wrap twice
    consumer = getattr(thread_class, FACTORY)(object(), object())
    assert consumer is made[-1]
    assert getattr(consumer, CONSUMER_ATTRIBUTE) == 120


def test_a_missing_factory_fails_loudly(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delattr(_consumer_thread_class(), FACTORY)
    with pytest.raises(FetchWaitPatchError, match=FACTORY):
        limit_fetch_wait(100)


async def test_a_missing_consumer_attribute_fails_loudly(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    thread_class = _consumer_thread_class()
    monkeypatch.setattr(thread_class, FACTORY, lambda self, transport: object())
    limit_fetch_wait(100)
    with pytest.raises(FetchWaitPatchError, match=CONSUMER_ATTRIBUTE):
        getattr(thread_class, FACTORY)(object(), object())
