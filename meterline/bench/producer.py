"""``meterline bench producer``: the cost of ``record()`` and the sustained rate to the broker."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path

from meterline.kafka_admin import create_topics
from producers.config import ProducerSettings
from producers.events import usage_event
from producers.producer import UsageProducer
from schemas.topics import USAGE_RAW, Topics
from schemas.usage import UsageEvent

__all__ = ["make_events", "run_producer_bench"]


def make_events(count: int, keys: int = 50, seed: int = 7) -> list[UsageEvent]:
    rng = random.Random(seed)
    models = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5")]
    events = []
    for i in range(count):
        provider, model = models[i % len(models)]
        events.append(
            usage_event(
                api_key_id=f"key-{i % keys}",
                provider=provider,
                model=model,
                customer=f"cust-{rng.randrange(200)}",
                feature=rng.choice(["chat", "search", "summarize"]),
                input_tokens=rng.randrange(50, 4000),
                output_tokens=rng.randrange(10, 800),
                gateway="bench",
            )
        )
    return events


def _percentile(sorted_values: list[int], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))] / 1000


async def run_producer_bench(bootstrap: str, events: int = 200_000, chunk: int = 2_000) -> dict:
    topics = Topics(f"bench{uuid.uuid4().hex[:6]}.")
    await create_topics(bootstrap, topics, only=[USAGE_RAW.name])
    prepared = make_events(events)
    with tempfile.TemporaryDirectory() as spool:
        settings = ProducerSettings(
            kafka_bootstrap=bootstrap,
            topic_prefix=topics.prefix,
            spool_dir=Path(spool),
            queue_max=max(events, 100_000),
        )
        producer = UsageProducer(settings)
        await producer.start()
        latencies: list[int] = []
        clock = time.perf_counter_ns
        started = time.perf_counter()
        # The gateway records between other work; yield to the loop every `chunk` calls so the
        # background sender runs as it would in a real server.
        for offset in range(0, events, chunk):
            for event in prepared[offset : offset + chunk]:
                t0 = clock()
                producer.record(event)
                latencies.append(clock() - t0)
            await asyncio.sleep(0)
        delivered = await producer.flush(timeout=300)
        elapsed = time.perf_counter() - started
        stats = producer.stats
        await producer.stop()
    latencies.sort()
    return {
        "bench": "producer",
        "events": events,
        "record_p50_us": round(_percentile(latencies, 0.50), 3),
        "record_p99_us": round(_percentile(latencies, 0.99), 3),
        "record_max_us": round(latencies[-1] / 1000, 3),
        "events_per_s": round(stats.sent / elapsed, 1),
        "elapsed_s": round(elapsed, 3),
        "sent": stats.sent,
        "spooled": stats.spooled,
        "all_delivered": delivered and stats.sent == events,
    }
