"""``UsageProducer``: the gateway's non-blocking usage recorder.

``record()`` appends to an in-memory queue and returns. A background task groups queued events by
``api_key_id`` into batch records and sends them (acks=all, keyed, compressed). When the broker
does not take a batch in time, its events go to the disk spool; while the spool holds anything,
new events are spooled behind it, and the spool is replayed oldest first once the broker answers,
so order per key is kept and nothing accepted is lost except what sits in memory at a hard crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque

import tenacity
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from producers.batching import BatchRecord, plan_records
from producers.config import ProducerSettings
from producers.errors import ProducerNotStarted
from producers.spool import Spool
from producers.stats import ProducerStats
from schemas.codec import encode_one
from schemas.topics import Topics
from schemas.usage import UsageEvent

__all__ = ["UsageProducer"]

log = logging.getLogger(__name__)

_DRAIN_MAX = 20_000


class UsageProducer:
    def __init__(self, settings: ProducerSettings | None = None, *, topic: str | None = None):
        self.settings = settings or ProducerSettings()
        self.topic = topic or Topics(self.settings.topic_prefix).usage_raw
        self._queue: deque[UsageEvent] = deque()
        self._stats = ProducerStats()
        self._spool = Spool(self.settings.spool_dir)
        self._spool_lock = threading.Lock()
        self._kafka: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._stopping = False
        self._busy = False

    # -- the gateway's side -------------------------------------------------------------------

    def record(self, event: UsageEvent) -> bool:
        """Queue ``event`` for sending without waiting for I/O.

        Returns False only when the queue is full and the overflow policy is ``drop``. With the
        default ``spool`` policy a full queue writes the event to the disk spool right here.
        """
        if not self._started:
            raise ProducerNotStarted("UsageProducer.record() before start() or after stop()")
        stats = self._stats
        if len(self._queue) >= self.settings.queue_max:
            if self.settings.overflow == "drop":
                stats.dropped += 1
                return False
            self._spool_lines([_spool_line(event)])
            stats.recorded += 1
            return True
        self._queue.append(event)
        stats.recorded += 1
        return True

    @property
    def stats(self) -> ProducerStats:
        self._stats.queued = len(self._queue)
        return ProducerStats(**self._stats.as_dict())

    @property
    def spool_pending(self) -> bool:
        return not self._spool.is_empty()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> UsageProducer:
        """Open the spool and start sending. An unreachable broker is not an error here: events
        are spooled until it answers."""
        if self._started:
            return self
        self._spool.open()
        self._started = True
        self._stopping = False
        await self._connect()
        self._task = asyncio.create_task(self._run(), name="meterline-producer")
        return self

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is sent or spooled; True when nothing is left in the
        spool either (all delivered)."""
        if not self._started:
            raise ProducerNotStarted("UsageProducer.flush() before start()")

        async def drained() -> None:
            while self._queue or self._busy or (self.spool_pending and self._kafka is not None):
                if self._task is not None and self._task.done():
                    break
                await asyncio.sleep(0.005)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drained(), timeout)
        return not self._queue and not self.spool_pending

    async def stop(self, timeout: float = 10.0) -> None:
        """Flush (sending what the broker takes within ``timeout``, spooling the rest), then
        close. Nothing accepted is lost: what was not sent stays in the spool for next start."""
        if not self._started:
            return
        await self.flush(timeout)
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._queue:
            lines = [_spool_line(e) for e in self._queue]
            self._queue.clear()
            self._spool_lines(lines)
        if self._kafka is not None:
            with contextlib.suppress(KafkaError, OSError):
                await self._kafka.stop()
            self._kafka = None
        self._spool.close()
        self._started = False

    async def __aenter__(self) -> UsageProducer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- background ---------------------------------------------------------------------------

    async def _connect(self) -> bool:
        s = self.settings
        kafka = AIOKafkaProducer(
            bootstrap_servers=s.kafka_bootstrap,
            client_id=s.client_id,
            acks="all",
            compression_type=None if s.compression == "none" else s.compression,
            linger_ms=0,
            max_batch_size=max(s.batch_max_bytes * 2, 1024 * 1024),
            max_request_size=max(s.batch_max_bytes * 2, 1024 * 1024),
            request_timeout_ms=s.send_timeout_ms,
        )
        try:
            await asyncio.wait_for(kafka.start(), s.send_timeout_ms / 1000)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("broker %s unreachable (%s); spooling events", s.kafka_bootstrap, exc)
            with contextlib.suppress(Exception):
                await kafka.stop()
            return False
        self._kafka = kafka
        return True

    async def _run(self) -> None:
        linger = self.settings.linger_ms / 1000
        # A step the broker did not take is retried (its events wait in the spool meanwhile)
        # after 0.1 s, doubling up to replay_backoff_max_s. Errors are not retried: they end
        # the task and stop() raises them.
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_result(lambda delivered: not delivered),
            wait=tenacity.wait_exponential(multiplier=0.1, max=self.settings.replay_backoff_max_s),
            stop=tenacity.stop_never,
        )
        while True:
            if not self._queue and self._spool.is_empty():
                await asyncio.sleep(linger or 0.001)
                continue
            await retrying(self._busy_step)

    async def _busy_step(self) -> bool:
        self._busy = True
        try:
            return await self._step()
        finally:
            self._busy = False

    async def _step(self) -> bool:
        """One cycle: connect if needed, replay the spool, then send the queue. False when the
        broker did not take what was offered (the caller backs off)."""
        if self._kafka is None and not await self._connect():
            self._spill_queue()
            return False
        if not self._spool.is_empty():
            if not await self._replay_one_segment():
                self._spill_queue()
                return False
            return True
        batch = [self._queue.popleft() for _ in range(min(len(self._queue), _DRAIN_MAX))]
        records = plan_records(
            ((e.api_key_id, encode_one(e)) for e in batch),
            self.settings.batch_max_events,
            self.settings.batch_max_bytes,
        )
        failed = await self._send(records)
        self._stats.sent += sum(r.count for r in records) - sum(r.count for r in failed)
        if failed:
            self._spool_lines([line for r in failed for line in r.lines])
            return False
        return True

    async def _replay_one_segment(self) -> bool:
        with self._spool_lock:
            segment = self._spool.segments()[0]
            self._spool.seal()
        pairs = Spool.read(segment)
        records = plan_records(pairs, self.settings.batch_max_events, self.settings.batch_max_bytes)
        if await self._send(records):
            return False
        with self._spool_lock:
            self._spool.remove(segment)
        self._stats.replayed += len(pairs)
        self._stats.sent += len(pairs)
        log.info("replayed %d spooled events from %s", len(pairs), segment.name)
        return True

    async def _send(self, records: list[BatchRecord]) -> list[BatchRecord]:
        """Send ``records``; returns those the broker did not acknowledge."""
        assert self._kafka is not None
        timeout = self.settings.send_timeout_ms / 1000
        pending: list[tuple[BatchRecord, asyncio.Future[object]]] = []
        failed: list[BatchRecord] = []
        try:
            for record in records:
                future = await asyncio.wait_for(
                    self._kafka.send(self.topic, record.value, key=record.key), timeout
                )
                pending.append((record, future))
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("send to %s failed: %s", self.topic, exc)
            failed.extend(records[len(pending) :])
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        for (record, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                failed.append(record)
        if failed:
            self._stats.send_failures += 1
        return failed

    def _spill_queue(self) -> None:
        if self._queue:
            lines = []
            while self._queue:
                lines.append(_spool_line(self._queue.popleft()))
            self._spool_lines(lines)

    def _spool_lines(self, lines: list[bytes]) -> None:
        with self._spool_lock:
            self._spool.append(lines)
        self._stats.spooled += len(lines)


def _spool_line(event: UsageEvent) -> bytes:
    return event.api_key_id.encode() + b"\t" + encode_one(event)
