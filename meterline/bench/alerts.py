"""``meterline bench alerts``: budget alert and enforcement latency under background load.

A stream worker runs the budget agents; a background producer keeps a steady load of enriched
events (100 per record, on keys and customers that have budget policies far from their limits,
so every record goes through the budget path). Each trial then produces one event that takes a
fresh key over its 1 USD ``block`` policy and measures the time until

* the 100 % alert is on ``meterline.budgets.alerts`` (``alert_*``), and
* an in-process ``BudgetGuard`` refuses the key (``guard_*``).

Two paths:

* ``enriched`` (``"path": "enriched->alerts"``): events are produced to
  ``meterline.usage.enriched`` directly; the enrichment agent is not part of the measurement.
* ``raw`` (``"path": "raw->alerts"``): raw usage events are produced to ``meterline.usage.raw``
  and go through the real enrichment (validate, dedupe, price) first, one more hop. The crossing
  event carries a settled ``provider_cost``. No key bindings exist here, so the background
  charges key policies only.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from meterline.budget_admin import build_policy, put_policies
from meterline.kafka_admin import create_topics
from meterline.local.stream import StreamWorker
from producers.budget_guard import BudgetGuard
from producers.config import GuardSettings
from producers.events import usage_event
from schemas.budgets import BudgetAlert
from schemas.codec import encode_one
from schemas.topics import Topics
from schemas.usage import CostSource, EnrichedUsage, TokenCounts
from stream.config import StreamSettings

__all__ = ["BenchPath", "run_alerts_bench"]

BenchPath = Literal["enriched", "raw"]

_BATCH = 100
_BACKGROUND_KEYS = 40
_BACKGROUND_CUSTOMERS = 10
_PLACEHOLDER = "EVENTID-" + "0" * 24


def _event(key: str, cost: str, owner: str = "", event_id: str | None = None) -> EnrichedUsage:
    now = datetime.now(UTC)
    return EnrichedUsage(
        event_id=event_id or uuid.uuid4().hex,
        occurred_at=now,
        gateway="bench",
        api_key_id=key,
        provider="openai",
        model="gpt-4o-mini",
        tokens=TokenCounts(input=800, output=200),
        owner_customer=owner,
        cost=Decimal(cost),
        computed_cost=Decimal(cost),
        cost_source=CostSource.PRICE_BOOK,
        enriched_at=now,
    )


def _raw_event(key: str, provider_cost: str | None = None, event_id: str | None = None) -> bytes:
    return encode_one(
        usage_event(
            api_key_id=key,
            provider="openai",
            model="gpt-4o-mini",
            customer="bench",
            input_tokens=800,
            output_tokens=200,
            provider_cost=provider_cost,
            gateway="bench",
            event_id=event_id,
        )
    )


def _background_template(path: BenchPath, k: int) -> bytes:
    if path == "raw":
        return _raw_event(f"bg-{k}", event_id=_PLACEHOLDER)
    owner = f"bg-cust-{k % _BACKGROUND_CUSTOMERS}"
    return encode_one(_event(f"bg-{k}", "0.001", owner, _PLACEHOLDER))


def _crossing_event(path: BenchPath, key: str) -> bytes:
    """One event that takes ``key`` over its 1 USD policy."""
    return _raw_event(key, provider_cost="1.5") if path == "raw" else encode_one(_event(key, "1.5"))


class _Background:
    """Steady load: ``rate`` events/s in records of ``_BATCH`` events (``path`` picks the
    topic's event type)."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, rate: int, path: BenchPath) -> None:
        self.producer, self.topic, self.rate = producer, topic, rate
        self.sent = 0
        self._templates = [_background_template(path, k) for k in range(_BACKGROUND_KEYS)]

    def _record(self, key_index: int) -> bytes:
        template = self._templates[key_index]
        events = [
            template.replace(_PLACEHOLDER.encode(), uuid.uuid4().hex.encode().ljust(32, b"0"))
            for _ in range(_BATCH)
        ]
        return b"[" + b",".join(events) + b"]"

    async def run(self, stop: asyncio.Event) -> None:
        started = time.perf_counter()
        records = 0
        while not stop.is_set():
            due = int((time.perf_counter() - started) * self.rate / _BATCH)
            while records < due:
                key_index = records % _BACKGROUND_KEYS
                await self.producer.send(
                    self.topic, self._record(key_index), key=f"bg-{key_index}".encode()
                )
                records += 1
                self.sent += _BATCH
            await asyncio.sleep(0.005)


async def _follow_alerts(
    bootstrap: str, topic: str, arrived: dict[str, float], stop: asyncio.Event
) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        while not stop.is_set():
            batches = await consumer.getmany(tp, timeout_ms=50)
            now = time.perf_counter()
            for message in batches.get(tp, []):
                alert = BudgetAlert.model_validate_json(message.value)
                if alert.threshold == 100:
                    arrived.setdefault(alert.policy_id, now)

    finally:
        await consumer.stop()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1)


async def _measure(
    bootstrap: str,
    topics: Topics,
    trials: int,
    rate: int,
    warmup_s: float,
    path: BenchPath,
    progress: Callable[[str], None],
) -> dict:
    guard = await BudgetGuard(
        GuardSettings(kafka_bootstrap=bootstrap, topic_prefix=topics.prefix)
    ).start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    stop = asyncio.Event()
    arrived: dict[str, float] = {}
    topic = topics.usage_raw if path == "raw" else topics.usage_enriched
    background = _Background(producer, topic, rate, path)
    tasks = [
        asyncio.create_task(background.run(stop)),
        asyncio.create_task(_follow_alerts(bootstrap, topics.budget_alerts, arrived, stop)),
    ]
    alert_ms: list[float] = []
    guard_ms: list[float] = []
    try:
        progress(f"background load {rate} events/s, warming up {warmup_s:.0f}s")
        await asyncio.sleep(warmup_s)
        measured_from, sent_from = time.perf_counter(), background.sent
        for trial in range(trials):
            key = f"trial-{trial}"
            policy_id = f"bench-{key}"
            crossing = _crossing_event(path, key)
            t0 = time.perf_counter()
            await producer.send(topic, b"[" + crossing + b"]", key=key.encode())
            async with asyncio.timeout(30):
                while guard.check(key).allowed:
                    await asyncio.sleep(0.001)
                guard_ms.append((time.perf_counter() - t0) * 1000)
                while policy_id not in arrived:
                    await asyncio.sleep(0.001)
            alert_ms.append((arrived[policy_id] - t0) * 1000)
            progress(f"trial {trial + 1}/{trials}: alert {alert_ms[-1]:.0f} ms, "
                     f"guard {guard_ms[-1]:.0f} ms")  # fmt: skip
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - measured_from
        background_rate = (background.sent - sent_from) / elapsed
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()
        await guard.stop()
    return {
        "bench": "alerts",
        "path": f"{path}->alerts",
        "trials": trials,
        "alert_p50_ms": _percentile(alert_ms, 0.50),
        "alert_p99_ms": _percentile(alert_ms, 0.99),
        "guard_p50_ms": _percentile(guard_ms, 0.50),
        "guard_p99_ms": _percentile(guard_ms, 0.99),
        "background_events_per_s": round(background_rate),
        "target_p99_ms": 1000,
    }


def run_alerts_bench(
    bootstrap: str,
    *,
    trials: int = 30,
    rate: int = 6000,
    warmup_s: float = 5.0,
    fetch_wait_ms: int | None = None,
    path: BenchPath = "enriched",
    progress: Callable[[str], None] = lambda _: None,
) -> dict:
    """Run the benchmark against ``bootstrap`` (topics under a fresh prefix) and return the
    figures; the worker it starts is stopped on the way out, also on failure.

    ``fetch_wait_ms`` sets the worker's fetch long-poll cap (``stream.fetch_wait``); ``None``
    keeps the worker's setting (``METERLINE_STREAM_FETCH_MAX_WAIT_MS``, 100 ms by default).
    ``path`` says where the events enter: ``enriched`` or ``raw`` (through the enrichment)."""
    topics = Topics(f"benchalerts{uuid.uuid4().hex[:6]}.")
    asyncio.run(create_topics(bootstrap, topics))

    async def policies() -> None:
        specs = [("key", f"trial-{i}", "1") for i in range(trials)]
        specs += [("key", f"bg-{k}", "1000000000") for k in range(_BACKGROUND_KEYS)]
        specs += [("customer", f"bg-cust-{c}", "1000000000") for c in range(_BACKGROUND_CUSTOMERS)]
        await put_policies(bootstrap, topics, [
            build_policy(policy_id=f"bench-{subject}", scope=scope, subject=subject, limit=limit,
                         window="1h", thresholds="")
            for scope, subject, limit in specs
        ])  # fmt: skip

    asyncio.run(policies())
    with tempfile.TemporaryDirectory(prefix="meterline-bench-alerts-") as tmp:
        progress("starting a stream worker")
        worker = StreamWorker(
            bootstrap=bootstrap,
            topic_prefix=topics.prefix,
            data_dir=Path(tmp) / "data",
            log_path=Path(tmp) / "worker.log",
            extra_env=(
                {"METERLINE_STREAM_FETCH_MAX_WAIT_MS": str(fetch_wait_ms)} if fetch_wait_ms else {}
            ),
        )
        with worker:
            result = asyncio.run(
                _measure(bootstrap, topics, trials, rate, warmup_s, path, progress)
            )
    result["stream_fetch_max_wait_ms"] = fetch_wait_ms or StreamSettings().stream_fetch_max_wait_ms
    return result
