"""Run a stream worker as a child process, for tests, benchmarks and the local stack."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

ConsumerRecord = Any
"""aiokafka's ``ConsumerRecord`` (imported lazily: tests use these helpers, workers do not)."""

__all__ = [
    "StreamWorker",
    "WorkerNotReady",
    "batch_records",
    "produce_records",
    "read_records",
    "usage_batches",
]

READY_LINE = "[^Worker]: Ready"


class WorkerNotReady(RuntimeError):
    pass


class StreamWorker:
    """``python -m stream worker`` with ``METERLINE_*`` settings in its environment.

    ``start()`` returns once the worker logged that it is ready (partitions assigned, tables
    recovered). ``stop()`` ends it gracefully, ``kill()`` with SIGKILL as a crash would; both only
    touch the process this object started.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        topic_prefix: str,
        data_dir: Path,
        log_path: Path,
        extra_env: dict[str, str] | None = None,
        loglevel: str = "info",
        launcher: Sequence[str] = (),
    ) -> None:
        self.env = {
            **os.environ,
            "METERLINE_KAFKA_BOOTSTRAP": bootstrap,
            "METERLINE_TOPIC_PREFIX": topic_prefix,
            "METERLINE_STREAM_DATA_DIR": str(data_dir),
            **(extra_env or {}),
        }
        self.log_path = log_path
        self.loglevel = loglevel
        self.launcher = list(launcher)
        """Interpreter arguments before ``-m stream`` (a profiler, say)."""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 60.0) -> StreamWorker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = ["-m", "stream", "worker", "--without-web", "-l", self.loglevel]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, *self.launcher, *command],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise WorkerNotReady(
                        f"stream worker exited with {self._process.returncode}; "
                        f"log:\n{self.log_tail()}"
                    )
                with open(self.log_path, "rb") as log:
                    log.seek(offset)
                    if READY_LINE.encode() in log.read():
                        return self
                time.sleep(0.1)
            raise WorkerNotReady(f"stream worker not ready in {timeout}s; log:\n{self.log_tail()}")
        except BaseException:
            self.kill()
            raise

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
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
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def __enter__(self) -> StreamWorker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def produce_records(
    bootstrap: str,
    topic: str,
    records: list[tuple[bytes | None, bytes | None]],
    partition: int | None = None,
) -> None:
    """Publish ``(key, value)`` records in order (to ``partition`` when given, else by key)
    and wait until the broker has them all."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, partition=partition)
            for key, value in records
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()


async def read_records(
    bootstrap: str,
    topic: str,
    *,
    done: Callable[[list[ConsumerRecord]], bool],
    timeout: float = 60.0,
    settle: float = 0.0,
) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the start, read until ``done(records)`` holds (then for
    ``settle`` more seconds, to catch records that should not be there) or ``timeout``."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
            if settle_until is None and done(records):
                settle_until = time.monotonic() + settle
            if settle_until is not None and time.monotonic() >= settle_until:
                break
    finally:
        await consumer.stop()
    return records


def usage_batches(count: int, size: int, rng: random.Random, keys: int = 8) -> list[list[Any]]:
    """``count`` batches of ``size`` valid events, one key per batch (round robin over
    ``keys``), a third of them for a model no price source knows."""
    from producers.events import usage_event

    return [
        [
            usage_event(
                api_key_id=f"key-{n % keys}",
                provider="openai",
                model=rng.choice(["gpt-4o", "gpt-4o-mini", "unknown-model"]),
                customer=f"c{rng.randrange(20)}",
                input_tokens=rng.randrange(1, 5000),
                output_tokens=rng.randrange(0, 900),
            )
            for _ in range(size)
        ]
        for n in range(count)
    ]


def batch_records(
    batches: list[list[Any]], rng: random.Random, *, bad_share: float = 0.0
) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """Raw records (key, JSON array) of ``batches``; about ``bad_share`` of them get one extra
    invalid event (a naive timestamp). Returns the records and the bad events' ids."""
    from schemas.codec import encode_one

    records = []
    bad_ids: list[str] = []
    for batch in batches:
        elements = [encode_one(e) for e in batch]
        if rng.random() < bad_share:
            broken = orjson.loads(elements[0])
            broken["occurred_at"] = "2025-01-01T00:00:00"
            broken["event_id"] = f"bad-{len(bad_ids)}"
            bad_ids.append(broken["event_id"])
            elements.append(orjson.dumps(broken))
        records.append((batch[0].api_key_id.encode(), b"[" + b",".join(elements) + b"]"))
    return records, bad_ids
