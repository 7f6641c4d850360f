"""``meterline bench stream``: enriched events/s of stream workers next to the raw aiokafka
consume rate of the same broker, measured in the same run.

One worker: publish ``events`` good events as batch records of ``batch`` events; read the raw
topic back with a bare aiokafka consumer (the ceiling); start one worker (a child process, like
production) and time its output from the first to the last enriched record, which is the
sustained rate without the group join and partition takeover.

The raw consume is read in ``RAW_PASSES`` passes, all but one before the workers and one after
them, each with a fresh consumer timed from its start (connected) to its last record; the
baseline is their median. One pass lasts well under a second, so on a machine shared with other
work a single pass swung twofold from run to run while the workers' seconds-long measurement
averaged the load out.

``workers`` > 1: the same records go to a scratch topic for the raw consume; then all workers
start and join the group, and only once the group is stable with every worker in it are the
records published to the raw topic (otherwise the first worker up would do all the work before
the others join). Each enriched record names its worker (``WORKER_HEADER``), which gives each
worker's events and rate (from its first to its last record) next to the total.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from meterline.bench.data import keyed_batch_records
from meterline.bench.producer import make_events
from meterline.bench.profile import profile_top
from meterline.budget_admin import build_policy, put_policies
from meterline.kafka_admin import create_topics, wait_group_stable
from meterline.kafka_records import produce_records
from meterline.local.stream import StreamWorker
from schemas.topics import USAGE_RAW, Topics
from stream.config import StreamSettings
from stream.output_marks import WORKER_HEADER

__all__ = ["run_stream_bench"]


@dataclass
class _Output:
    """Enriched output per worker: events, and the times of its first and last record."""

    events: int = 0
    first: float = 0.0
    last: float = 0.0
    records: int = 0

    def rate(self) -> float:
        # Sustained: from the first record to the last, minus the first record's events.
        span = self.last - self.first
        return self.events * (1 - 1 / max(self.records, 1)) / span if span > 0 else 0.0


async def _consume(
    bootstrap: str,
    topic: str,
    expected_records: int,
    timeout: float,
    by_worker: dict[bytes, _Output] | None = None,
    on_started: Callable[[], None] | None = None,
) -> tuple[float, float, int]:
    """Read ``topic`` from the start until ``expected_records`` arrived; returns the times
    (monotonic) of the first and last record and how many arrived. With ``by_worker``, also
    counts each record's events under its ``WORKER_HEADER``; ``on_started`` is called once the
    consumer has started (connected), before the first fetch."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    if on_started is not None:
        on_started()
    first = last = 0.0
    seen = 0
    try:
        deadline = time.monotonic() + timeout
        while seen < expected_records and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            now = time.monotonic()
            got = sum(len(records) for records in batch.values())
            if by_worker is not None:
                _tally(batch, now, by_worker)
            if got and not seen:
                first = now
            if got:
                last = now
            seen += got
    finally:
        await consumer.stop()
    return first, last, seen


RAW_PASSES = 3
"""Raw consume passes per run; the baseline is their median."""


@dataclass
class _Raw:
    """The raw aiokafka consume of the records, pass by pass."""

    rates: list[float]
    cpu_s: float

    @property
    def rate(self) -> float:
        # A pass that did not read every record makes the run's baseline 0 (no ratio).
        return statistics.median(self.rates) if self.rates and min(self.rates) > 0 else 0.0


async def _raw_pass(
    bootstrap: str, topic: str, records: int, events: int, timeout: float, raw: _Raw
) -> None:
    """One pass over ``topic`` with a fresh consumer, timed from the moment it has started
    (connected) to its last record, like the workers, which are timed once they are up."""
    started: list[float] = []
    cpu = time.process_time()
    _first, last, seen = await _consume(
        bootstrap, topic, records, timeout, on_started=lambda: started.append(time.monotonic())
    )
    raw.cpu_s += time.process_time() - cpu
    elapsed = last - started[0] if started else 0.0
    raw.rates.append(events / elapsed if seen == records and elapsed > 0 else 0.0)


def _raw_figures(raw: _Raw) -> dict:
    return {
        "raw_consume_per_s": round(raw.rate, 1),
        "raw_consume_passes_per_s": [round(r, 1) for r in raw.rates],
    }


def _tally(batch: dict, now: float, by_worker: dict[bytes, _Output]) -> None:
    for records in batch.values():
        for record in records:
            worker = dict(record.headers or ()).get(WORKER_HEADER, b"?")
            out = by_worker.setdefault(worker, _Output(first=now))
            out.events += record.value.count(b'"event_id"')
            out.records += 1
            out.last = now


async def run_stream_bench(
    bootstrap: str,
    events: int = 200_000,
    batch: int = 100,
    timeout: float = 300.0,
    say: Callable[[str], None] = lambda _m: None,
    profile: Path | None = None,
    workers: int = 1,
    partitions: int | None = None,
    budgets: bool = False,
) -> dict:
    """Run the benchmark; with ``profile`` the (first) worker runs under cProfile, its stats
    are written there and the top entries are added to the result (``profile_top``). The usage
    topics get ``partitions`` (default: the contract's 4, or ``workers`` when more). With
    ``budgets`` every key has a budget policy far from its limit, so every enriched record is
    also charged (the budget agents share the worker)."""
    if workers > 1:
        return await _run_workers(
            bootstrap, events, batch, timeout, say, workers, partitions, budgets
        )
    topics = Topics(f"bench{uuid.uuid4().hex[:6]}.")
    await create_topics(bootstrap, topics, usage_partitions=partitions)
    prepared = make_events(events)
    if budgets:
        await _put_budgets(bootstrap, topics, prepared)
    records = keyed_batch_records(prepared, batch)
    say(f"publishing {events} events in {len(records)} records")
    await produce_records(bootstrap, topics.usage_raw, records)

    say("raw aiokafka consume")
    raw = _Raw([], 0.0)
    for _ in range(RAW_PASSES - 1):
        await _raw_pass(bootstrap, topics.usage_raw, len(records), events, timeout, raw)

    with tempfile.TemporaryDirectory() as tmp:
        worker = StreamWorker(
            bootstrap=bootstrap,
            topic_prefix=topics.prefix,
            data_dir=Path(tmp) / "data",
            log_path=Path(tmp) / "worker.log",
            extra_env=_partitions_env(partitions),
            launcher=["-m", "meterline.bench.cpu_profile", str(profile)] if profile else (),
        )
        say("starting one stream worker")
        spawned = time.monotonic()
        with worker:
            ready, cpu_at_ready = time.monotonic(), _cpu_seconds(worker.pid)
            say("measuring enriched output")
            first, last, seen = await _consume(
                bootstrap, topics.usage_enriched, len(records), timeout
            )
            worker_cpu = _cpu_seconds(worker.pid) - cpu_at_ready
    say("raw aiokafka consume again")
    await _raw_pass(bootstrap, topics.usage_raw, len(records), events, timeout, raw)
    raw_rate = raw.rate
    # Sustained: from the first enriched record to the last, minus the first record's events.
    sustained_events = (seen - 1) * events / len(records) if seen > 1 else 0
    rate = sustained_events / (last - first) if last > first else 0.0
    result = {
        "bench": "stream",
        "budgets": budgets,
        "events": events,
        "batch_events": batch,
        "records": len(records),
        "events_per_s": round(rate, 1),
        **_raw_figures(raw),
        "ratio": round(rate / raw_rate, 3) if raw_rate else 0.0,
        "enriched_records": seen,
        "all_enriched": seen == len(records),
        "worker_ready_s": round(ready - spawned, 2),
        "first_output_after_ready_s": round(first - ready, 2) if seen else None,
        **_cpu_figures(events, worker_cpu, raw.cpu_s / len(raw.rates)),
    }
    if profile is not None:
        result["profile_top"] = profile_top(profile)
    return result


async def _put_budgets(bootstrap: str, topics: Topics, events: list) -> None:
    """A key policy per key of ``events``, its limit far above what the run spends."""
    keys = sorted({event.api_key_id for event in events})
    await put_policies(bootstrap, topics, [
        build_policy(policy_id=f"bench-{key}", scope="key", subject=key, limit="1000000000",
                     window="24h", thresholds="50,80", action="alert")
        for key in keys
    ])  # fmt: skip


def _partitions_env(partitions: int | None) -> dict[str, str]:
    return {} if partitions is None else {"METERLINE_USAGE_PARTITIONS": str(partitions)}


async def _run_workers(
    bootstrap: str,
    events: int,
    batch: int,
    timeout: float,
    say: Callable[[str], None],
    workers: int,
    partitions: int | None,
    budgets: bool,
) -> dict:
    partitions = partitions or max(USAGE_RAW.partitions, workers)
    topics = Topics(f"bench{uuid.uuid4().hex[:6]}.")
    await create_topics(bootstrap, topics, usage_partitions=partitions)
    scratch = f"{topics.prefix}bench.scratch"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(scratch, partitions, 1)])
    finally:
        await admin.close()
    prepared = make_events(events)
    if budgets:
        await _put_budgets(bootstrap, topics, prepared)
    records = keyed_batch_records(prepared, batch)
    say(f"publishing {events} events in {len(records)} records to a scratch topic")
    await produce_records(bootstrap, scratch, records)
    say("raw aiokafka consume")
    raw = _Raw([], 0.0)
    for _ in range(RAW_PASSES - 1):
        await _raw_pass(bootstrap, scratch, len(records), events, timeout, raw)

    by_worker: dict[bytes, _Output] = {}
    started_workers: list[StreamWorker] = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        say(f"starting {workers} stream workers on {partitions} partitions")
        spawned = time.monotonic()
        for n in range(workers):
            worker = StreamWorker(
                bootstrap=bootstrap,
                topic_prefix=topics.prefix,
                data_dir=Path(tmp) / f"data{n}",
                log_path=Path(tmp) / f"worker{n}.log",
                extra_env=_partitions_env(partitions),
            )
            started_workers.append(stack.enter_context(worker))
        group = f"{topics.prefix}{StreamSettings().stream_app_id}"
        await wait_group_stable(bootstrap, group, workers, timeout=120)
        ready = time.monotonic()
        cpu_at_ready = [_cpu_seconds(w.pid) for w in started_workers]
        say("group stable; publishing the raw records and measuring enriched output")
        publishing = asyncio.create_task(produce_records(bootstrap, topics.usage_raw, records))
        first, last, seen = await _consume(
            bootstrap, topics.usage_enriched, len(records), timeout, by_worker
        )
        await publishing
        worker_cpu = sum(_cpu_seconds(w.pid) for w in started_workers) - sum(cpu_at_ready)
    say("raw aiokafka consume again")
    await _raw_pass(bootstrap, scratch, len(records), events, timeout, raw)
    raw_rate = raw.rate
    total = _Output(sum(o.events for o in by_worker.values()), first, last, seen)
    rate = total.rate()
    per_worker = sorted(
        ({"events": o.events, "events_per_s": round(o.rate(), 1)} for o in by_worker.values()),
        key=lambda w: -w["events"],
    )
    return {
        "bench": "stream",
        "budgets": budgets,
        "workers": workers,
        "partitions": partitions,
        "events": events,
        "batch_events": batch,
        "records": len(records),
        "events_per_s": round(rate, 1),
        "per_worker": per_worker,
        "per_worker_mean_events_per_s": round(rate / workers, 1),
        **_raw_figures(raw),
        "ratio": round(rate / raw_rate, 3) if raw_rate else 0.0,
        "ratio_per_worker": round(rate / workers / raw_rate, 3) if raw_rate else 0.0,
        "enriched_records": seen,
        "all_enriched": seen == len(records),
        "workers_ready_s": round(ready - spawned, 2),
        **_cpu_figures(events, worker_cpu, raw.cpu_s / len(raw.rates)),
    }


def _cpu_seconds(pid: int | None) -> float:
    """CPU time (user + system) a process used so far; 0.0 where ``/proc`` cannot say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_figures(events: int, worker_cpu: float, raw_cpu: float) -> dict:
    """Events per CPU second of the workers and of the raw consumer: on a machine shared with
    other work these hold still while the wall-clock rates swing with the load."""
    worker_rate = events / worker_cpu if worker_cpu > 0 else 0.0
    raw_rate = events / raw_cpu if raw_cpu > 0 else 0.0
    return {
        "worker_cpu_s": round(worker_cpu, 2),
        "events_per_cpu_s": round(worker_rate, 1),
        "raw_consume_per_cpu_s": round(raw_rate, 1),
        "cpu_ratio": round(worker_rate / raw_rate, 3) if raw_rate else 0.0,
    }
