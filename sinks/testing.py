"""Run the sink as a child process with its own chDB directory, for tests, benches and demos.

``SinkProcess(...).start()`` returns once the sink migrated its schema and its query endpoint
listens; ``query(sql)`` asks it over that endpoint (the test process keeps its own chDB dir);
``kill()`` ends it with SIGKILL as a crash would, ``stop()`` with SIGTERM (last batch stored
and committed), and ``start()`` again restarts it on the same directory. Only the process this
object started is ever signalled.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.codec import encode_batch
from schemas.usage import CostSource, EnrichedUsage, TokenCounts
from sinks.owner import read_owner
from sinks.query_client import RemoteQueryClient, RemoteResult
from sinks.service import READY_LINE

__all__ = [
    "SinkNotReady",
    "SinkProcess",
    "batch_records",
    "enriched_events",
    "produce_records",
    "reset_group_offsets",
]


class SinkNotReady(RuntimeError):
    pass


class SinkProcess:
    def __init__(
        self,
        *,
        bootstrap: str,
        topic_prefix: str,
        data_dir: Path,
        log_path: Path | None = None,
        database: str = "meterline",
        group_id: str = "meterline-sink",
        batch_rows: int = 10_000,
        batch_seconds: float = 0.5,
        extra_env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.cwd = cwd
        self.log_path = log_path or self.data_dir.parent / f"{self.data_dir.name}-sink.log"
        self.env = {
            **os.environ,
            "METERLINE_KAFKA_BOOTSTRAP": bootstrap,
            "METERLINE_TOPIC_PREFIX": topic_prefix,
            "METERLINE_CLICKHOUSE_URL": f"chdb://{self.data_dir.resolve()}",
            "METERLINE_CLICKHOUSE_DATABASE": database,
            "METERLINE_SINK_GROUP_ID": group_id,
            "METERLINE_SINK_BATCH_ROWS": str(batch_rows),
            "METERLINE_SINK_BATCH_SECONDS": str(batch_seconds),
            "METERLINE_SINK_STATS_INTERVAL_S": "2",
            **(extra_env or {}),
        }
        self.database = database
        self._process: subprocess.Popen[bytes] | None = None
        self._client: RemoteQueryClient | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> SinkProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "sinks"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise SinkNotReady(
                        f"sink exited with {self._process.returncode}; log:\n{self.log_tail()}"
                    )
                with open(self.log_path, "rb") as log:
                    log.seek(offset)
                    ready = READY_LINE.encode() in log.read()
                owner = read_owner(self.data_dir)
                if ready and owner is not None and owner.pid == self._process.pid:
                    self._client = RemoteQueryClient(owner.url, owner.token)
                    return self
                time.sleep(0.05)
            raise SinkNotReady(f"sink not ready in {timeout}s; log:\n{self.log_tail()}")
        except BaseException:
            self.kill()
            raise

    @property
    def client(self) -> RemoteQueryClient:
        if self._client is None:
            raise SinkNotReady("the sink is not running (start() it first)")
        return self._client

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> RemoteResult:
        """Read-only SQL through the sink's endpoint; ``{db}`` in ``sql`` is its database."""
        return self.client.query(sql.replace("{db}", self.database), parameters)

    def stats(self) -> dict:
        return self.client.stats()

    def wait_until(self, sql: str, expected: Any, timeout: float = 60.0) -> Any:
        """Poll ``sql`` (first column of the first row) until it equals ``expected``; returns
        the last value seen (which differs from ``expected`` on timeout)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.query(sql).result_rows[0][0]
            if value == expected:
                return value
            time.sleep(0.2)
        return value

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def stop(self, timeout: float = 20.0) -> None:
        self._close_client()
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed, the owner file is left stale."""
        self._close_client()
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def __enter__(self) -> SinkProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def enriched_events(
    count: int, *, seed: int = 11, keys: int = 40, start: datetime | None = None
) -> list[EnrichedUsage]:
    """``count`` varied, valid enriched events (unique ids, 12-decimal costs, many days)."""
    rng = random.Random(seed)
    start = start or datetime(2026, 10, 1, tzinfo=UTC)
    models = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5")]
    out = []
    for i in range(count):
        provider, model = models[i % len(models)]
        key = i % keys
        cost = Decimal(rng.randrange(1, 10**9)) / Decimal(10**12)
        provider_cost = cost if i % 4 == 0 else None
        output = rng.randrange(0, 800)
        out.append(
            EnrichedUsage(
                event_id=f"ev-{seed}-{i:08d}",
                occurred_at=start + timedelta(seconds=i * 37 % (40 * 86400)),
                gateway="gw-test",
                api_key_id=f"key-{key}",
                request_id=f"req-{i}",
                provider=provider,
                model=model,
                tokens=TokenCounts(input=rng.randrange(0, 4000), output=output,
                                   cache_read=rng.randrange(0, 100), reasoning=output // 3),
                tags=[f"customer:cust-{key % 7}", f"feature:f{i % 3}"],
                customer=f"cust-{key % 7}",
                feature=f"f{i % 3}",
                team_id=f"team-{key % 5}",
                owner_customer=f"cust-{key % 7}",
                cost=cost,
                computed_cost=cost,
                cost_source=CostSource.PROVIDER if provider_cost else CostSource.PRICE_BOOK,
                provider_cost=provider_cost,
                price_ref="test",
                enriched_at=start,
            )
        )  # fmt: skip
    return out


def batch_records(events: list[EnrichedUsage], per_record: int = 500) -> list[tuple[bytes, bytes]]:
    """(key, value) records as the stream writes them: a JSON array per api_key_id."""
    by_key: dict[str, list[EnrichedUsage]] = {}
    for event in events:
        by_key.setdefault(event.api_key_id, []).append(event)
    records = []
    for key, group in by_key.items():
        for i in range(0, len(group), per_record):
            records.append((key.encode(), encode_batch(group[i : i + per_record])))
    return records


async def produce_records(
    bootstrap: str,
    topic: str,
    records: list[tuple[bytes, bytes]],
    compression: str | None = "gzip",
) -> None:
    """Send ``records`` (key, value) and wait until the broker acknowledged all of them;
    ``compression`` is the producer's ``compression_type`` (None: uncompressed)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, max_request_size=8 * 1024 * 1024, linger_ms=5,
        compression_type=compression,
    )  # fmt: skip
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def reset_group_offsets(
    bootstrap: str, group_id: str, topics: list[str], offset: int = 0
) -> None:
    """Commit ``offset`` for every partition of ``topics`` in ``group_id`` (the group must have
    no live members), as ``kafka-consumer-groups --reset-offsets --to-earliest`` would."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata partitions_for_topic reads
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.commit({tp: offset for tp in partitions})
    finally:
        await consumer.stop()
