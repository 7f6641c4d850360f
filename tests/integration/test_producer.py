from __future__ import annotations

import asyncio

import pytest

from meterline.kafka_admin import create_topics
from meterline.local import TansuBroker
from producers import (
    ProducerNotStarted,
    ProducerSettings,
    Spool,
    SpoolLocked,
    UsageProducer,
    usage_event,
)
from schemas import Topics, UsageEvent
from tests.integration.kafka_read import read_all

pytestmark = pytest.mark.integration


def make(n: int, keys: int = 10) -> list[UsageEvent]:
    return [
        usage_event(
            api_key_id=f"key-{i % keys}",
            provider="openai",
            model="gpt-4o",
            customer="acme",
            feature="chat",
            input_tokens=i % 500,
            output_tokens=7,
        )
        for i in range(n)
    ]


def settings(bootstrap: str, topics: Topics, spool, **extra) -> ProducerSettings:
    return ProducerSettings(
        kafka_bootstrap=bootstrap,
        topic_prefix=topics.prefix,
        spool_dir=spool,
        send_timeout_ms=1500,
        replay_backoff_max_s=0.5,
        **extra,
    )


async def test_events_arrive_as_keyed_batch_records(tansu, topics, tmp_path) -> None:
    events = make(1_000)
    async with UsageProducer(settings(tansu.bootstrap, topics, tmp_path / "spool")) as producer:
        for event in events:
            assert producer.record(event)
        assert await producer.flush(30)
        stats = producer.stats
    assert (stats.recorded, stats.sent, stats.spooled, stats.dropped) == (1000, 1000, 0, 0)
    arrived = await read_all(tansu.bootstrap, topics.usage_raw, UsageEvent, expect=1000)
    assert sorted(e.event_id for e in arrived) == sorted(e.event_id for e in events)
    assert arrived[0] in events


async def test_broker_outage_spools_and_replays_every_event(tmp_path) -> None:
    topics = Topics("outage.")
    broker = TansuBroker(log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        await create_topics(broker.bootstrap, topics)
        producer = UsageProducer(settings(broker.bootstrap, topics, tmp_path / "spool"))
        await producer.start()
        try:
            broker.stop()
            events = make(10_000)
            for i, event in enumerate(events):
                producer.record(event)
                if i % 500 == 0:
                    await asyncio.sleep(0)  # yield: the sender task runs between bursts
            for _ in range(100):
                if producer.spool_pending and producer.stats.queued == 0:
                    break
                await asyncio.sleep(0.1)
            assert producer.spool_pending, (
                "events should wait in the spool while the broker is down"
            )

            broker.start()  # memory storage: the restarted broker is empty
            await create_topics(broker.bootstrap, topics)
            assert await producer.flush(60), producer.stats
            stats = producer.stats
        finally:
            await producer.stop()
        assert stats.sent == 10_000 and stats.replayed > 0
        arrived = await read_all(broker.bootstrap, topics.usage_raw, UsageEvent, expect=10_000)
        assert {e.event_id for e in arrived} == {e.event_id for e in events}
    finally:
        broker.stop()


async def test_crash_after_spooling_loses_nothing(tansu, topics, tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    events = make(300)
    # A gateway spooled these and died before sending: only the spool file survives.
    spool = Spool(spool_dir)
    spool.open()
    spool.append([e.api_key_id.encode() + b"\t" + e.model_dump_json().encode() for e in events])
    with open(spool.segments()[0], "ab") as torn:
        torn.write(b'key-1\t{"event_id": "half-writ')  # the crash tore the last line
    spool.close()

    async with UsageProducer(settings(tansu.bootstrap, topics, spool_dir)) as producer:
        assert await producer.flush(30)
        assert producer.stats.replayed == 300
    assert not Spool(spool_dir).segments()
    arrived = await read_all(tansu.bootstrap, topics.usage_raw, UsageEvent, expect=300)
    assert {e.event_id for e in arrived} == {e.event_id for e in events}


async def test_full_queue_policy(tansu, topics, tmp_path) -> None:
    dropping = UsageProducer(
        settings(tansu.bootstrap, topics, tmp_path / "a", queue_max=5, overflow="drop")
    )
    await dropping.start()
    try:
        accepted = [dropping.record(e) for e in make(8)]
    finally:
        await dropping.stop()
    assert accepted == [True] * 5 + [False] * 3
    assert dropping.stats.dropped == 3

    spooling = UsageProducer(settings(tansu.bootstrap, topics, tmp_path / "b", queue_max=5))
    await spooling.start()
    try:
        assert all(spooling.record(e) for e in make(8))
        assert spooling.stats.spooled == 3
        assert await spooling.flush(30)
        assert spooling.stats.sent == 8
    finally:
        await spooling.stop()


async def test_record_before_start_fails_loudly(tmp_path) -> None:
    producer = UsageProducer(ProducerSettings(spool_dir=tmp_path))
    with pytest.raises(ProducerNotStarted):
        producer.record(make(1)[0])


async def test_spool_directory_is_exclusive(tmp_path) -> None:
    first = Spool(tmp_path)
    first.open()
    try:
        with pytest.raises(SpoolLocked):
            Spool(tmp_path).open()
    finally:
        first.close()


async def test_topics_create_is_idempotent(tansu) -> None:
    topics = Topics("idem.")
    first = await create_topics(tansu.bootstrap, topics)
    second = await create_topics(tansu.bootstrap, topics)
    assert set(first.values()) == {"created"}
    assert set(second.values()) == {"exists"}
    assert set(first) == set(second)


async def test_sync_facade_records_from_threads(tansu, topics, tmp_path) -> None:
    import threading

    from producers import SyncUsageProducer

    events = make(400)
    producer = SyncUsageProducer(settings(tansu.bootstrap, topics, tmp_path / "spool"))

    def gateway_thread(chunk: list[UsageEvent]) -> None:
        for event in chunk:
            producer.record(event)

    def run() -> None:
        with producer:
            threads = [
                threading.Thread(target=gateway_thread, args=(events[i::4],)) for i in range(4)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert producer.flush(30)

    await asyncio.to_thread(run)
    assert producer.stats.sent == 400
    arrived = await read_all(tansu.bootstrap, topics.usage_raw, UsageEvent, expect=400)
    assert {e.event_id for e in arrived} == {e.event_id for e in events}
