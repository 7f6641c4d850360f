"""``make demo``: the story end to end on the local stack, with what exists so far.

Today: start a Tansu broker, create the topics, record a burst of simulated gateway traffic
through the real ``UsageProducer``, read the raw topic back and print what arrived per customer.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import click
from aiokafka import AIOKafkaConsumer

from meterline.bench.producer import make_events
from meterline.kafka_admin import create_topics
from meterline.local import TansuBroker
from producers.config import ProducerSettings
from producers.producer import UsageProducer
from schemas.codec import decode_batch
from schemas.topics import Topics
from schemas.usage import UNATTRIBUTED, UsageEvent

__all__ = ["run_demo"]


async def _story(bootstrap: str, events: int, say) -> dict:  # type: ignore[no-untyped-def]
    topics = Topics()
    created = await create_topics(bootstrap, topics)
    say(f"topics: {len(created)} ready on {bootstrap}")
    produced = make_events(events)
    with tempfile.TemporaryDirectory() as spool:
        producer = UsageProducer(ProducerSettings(kafka_bootstrap=bootstrap, spool_dir=Path(spool)))
        await producer.start()
        for event in produced:
            producer.record(event)
        await producer.flush(60)
        stats = producer.stats
        await producer.stop()
    say(f"gateway: recorded {stats.recorded} events, {stats.sent} acknowledged by the broker")

    consumer = AIOKafkaConsumer(
        topics.usage_raw, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    arrived: list[UsageEvent] = []
    records = 0
    deadline = time.monotonic() + 30
    try:
        while len(arrived) < stats.sent and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    records += 1
                    arrived.extend(decode_batch(UsageEvent, message.value))
    finally:
        await consumer.stop()
    per_customer = Counter((e.tag_values("customer") or [UNATTRIBUTED])[0] for e in arrived)
    return {
        "recorded": stats.recorded,
        "sent": stats.sent,
        "records_on_topic": records,
        "events_on_topic": len(arrived),
        "distinct_event_ids": len({e.event_id for e in arrived}),
        "top_customers_by_calls": per_customer.most_common(5),
    }


def run_demo(as_json: bool = False, events: int = 5_000) -> dict:
    def say(line: str) -> None:
        if not as_json:
            click.echo(line)

    say("Meterline demo — starting a local Tansu broker")
    with TansuBroker() as broker:
        outcome = asyncio.run(_story(broker.bootstrap, events, say))
    if as_json:
        click.echo(json.dumps(outcome))
    else:
        click.echo(
            f"raw topic: {outcome['events_on_topic']} events in {outcome['records_on_topic']} "
            f"batch records, {outcome['distinct_event_ids']} distinct event ids"
        )
        click.echo(
            "calls per customer (top 5): "
            + ", ".join(f"{c}={n}" for c, n in outcome["top_customers_by_calls"])
        )
        click.echo("Pricing, storage, budgets and reports arrive with the next issues.")
    return outcome
