"""``compacted.CompactedFollower`` against the real broker: it loads a topic to its end before
``loaded``, then follows it; the latest value per key wins, a tombstone deletes, a bad value is
the caller's choice and never stops it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest

from compacted import CompactedFollower, Invalid, InvalidValue, Update
from meterline.kafka_admin import create_topics
from meterline.kafka_records import produce_records
from schemas.topics import KEYS, LIMITS, Topics

pytestmark = pytest.mark.integration


def decode(value: bytes) -> int:
    return int(value)  # ValueError on anything but an integer


async def publish(bootstrap: str, topic: str, *records: tuple[str, bytes | None]) -> None:
    await produce_records(
        bootstrap, topic, [(key.encode(), value) for key, value in records], partition=0
    )


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_loads_to_the_end_then_follows_latest_value_and_tombstones(tansu, topics) -> None:
    topic = topics.keys
    await publish(
        tansu.bootstrap,
        topic,
        ("a", b"1"),
        ("b", b"2"),
        ("a", b"3"),  # the latest value wins
        ("c", b"4"),
        ("c", None),  # deleted before the follower started
    )
    updates: list[Update[int]] = []
    follower = CompactedFollower(tansu.bootstrap, {topic: decode}, on_update=updates.append)
    follower.start()
    try:
        async with asyncio.timeout(20):
            await follower.loaded.wait()
        # Loaded means everything written before the start is applied.
        assert dict(follower.values(topic)) == {"a": 3, "b": 2}
        assert list(follower.end_offsets) == [(topic, 0)]

        await publish(tansu.bootstrap, topic, ("b", b"20"), ("d", b"5"))
        await until(lambda: follower.values(topic).get("d") == 5)
        assert dict(follower.values(topic)) == {"a": 3, "b": 20, "d": 5}

        await publish(tansu.bootstrap, topic, ("a", None), ("never-there", None))
        await until(lambda: "a" not in follower.values(topic))
        assert dict(follower.values(topic)) == {"b": 20, "d": 5}
        # Every change reported in order, with what it replaced; a tombstone for a key that was
        # never there changes nothing.
        assert [(u.key, u.old, u.new) for u in updates] == [
            ("a", None, 1),
            ("b", None, 2),
            ("a", 1, 3),
            ("c", None, 4),
            ("c", 4, None),
            ("b", 2, 20),
            ("d", None, 5),
            ("a", 3, None),
        ]
    finally:
        await follower.stop()


@pytest.mark.parametrize(
    ("mode", "after_bad"), [(InvalidValue.SKIP, {"k": 1}), (InvalidValue.DELETE, {})]
)
async def test_a_bad_value_is_reported_and_the_follower_goes_on(
    tansu, topics, mode: InvalidValue, after_bad: dict[str, int]
) -> None:
    topic = topics.budget_state
    await publish(tansu.bootstrap, topic, ("k", b"1"), ("k", b"not a number"))
    invalid: list[Invalid] = []
    follower = CompactedFollower(
        tansu.bootstrap, {topic: decode}, on_invalid=invalid.append, invalid=mode
    ).start()
    try:
        async with asyncio.timeout(20):
            await follower.loaded.wait()
        assert dict(follower.values(topic)) == after_bad
        assert [(i.topic, i.key) for i in invalid] == [(topic, "k")]
        assert isinstance(invalid[0].error, ValueError)

        await publish(tansu.bootstrap, topic, ("k", b"7"))
        await until(lambda: follower.values(topic).get("k") == 7)
    finally:
        await follower.stop()


async def test_on_batch_runs_after_a_poll_and_on_loaded_once(tansu, topics) -> None:
    topic = topics.keys
    await publish(tansu.bootstrap, topic, ("a", b"1"))
    events: list[str] = []

    async def on_batch(updates: list[Update[int]]) -> None:
        events.append("batch " + ",".join(f"{u.key}={u.new}" for u in updates))

    async def on_loaded() -> None:
        events.append("loaded")

    follower = CompactedFollower(
        tansu.bootstrap, {topic: decode}, on_batch=on_batch, on_loaded=on_loaded
    ).start()
    try:
        async with asyncio.timeout(20):
            await follower.loaded.wait()
        await publish(tansu.bootstrap, topic, ("b", b"2"))
        await until(lambda: "batch b=2" in events)
        assert events == ["batch a=1", "loaded", "batch b=2"]
    finally:
        await follower.stop()


async def test_a_required_topic_is_waited_for_and_an_optional_one_left_out(
    tansu, caplog: pytest.LogCaptureFixture
) -> None:
    names = Topics(f"t{uuid.uuid4().hex[:10]}.")
    missing: list[str] = []
    optional = CompactedFollower(
        tansu.bootstrap, {names.limits: decode}, optional=True, on_missing=missing.append
    )
    async with asyncio.timeout(20):
        await optional.run()  # returns: nothing to follow
    assert optional.loaded.is_set() and missing == [names.limits]

    required = CompactedFollower(tansu.bootstrap, {names.limits: decode}).start()
    try:
        # It found no topic and says it retries; the topic created now is then followed.
        await until(lambda: "cannot follow" in caplog.text)
        assert not required.loaded.is_set()
        await create_topics(tansu.bootstrap, names, only=[LIMITS.name])
        await publish(tansu.bootstrap, names.limits, ("x", b"9"))
        await until(lambda: required.values(names.limits).get("x") == 9, timeout=30)
        assert required.loaded.is_set()
    finally:
        await required.stop()


async def test_follows_on_after_the_broker_is_lost_and_back(tmp_path) -> None:
    from meterline.local import TansuBroker

    names = Topics("lost.")
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    follower = CompactedFollower(broker.bootstrap, {names.keys: decode}, probe_interval_s=0.2)
    try:
        await create_topics(broker.bootstrap, names, only=[KEYS.name])
        follower.start()
        async with asyncio.timeout(20):
            await follower.loaded.wait()
        broker.stop()
        # Its probes go unanswered: last_contact stops moving.
        await until(lambda: time.monotonic() - follower.last_contact > 2, timeout=30)
        # Back on the same port (empty: memory storage), the topic recreated and written.
        broker = TansuBroker(port=broker.port, log_path=tmp_path / "tansu2.log").start()
        await create_topics(broker.bootstrap, names, only=[KEYS.name])
        await publish(broker.bootstrap, names.keys, ("a", b"1"))
        await until(lambda: follower.values(names.keys).get("a") == 1, timeout=60)
        await until(lambda: time.monotonic() - follower.last_contact < 1, timeout=10)
    finally:
        await follower.stop()
        broker.stop()
