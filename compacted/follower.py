"""``CompactedFollower``: compacted Kafka topics kept in memory, latest value per key.

What a caller may rely on:

1. **Loaded, then live.** ``run()`` reads every partition of the followed topics from its
   beginning; ``loaded`` is set once each partition was read up to its end offset as of the first
   connection (``end_offsets`` records them). It then keeps following: a record written later is
   applied on the next poll.
2. **Latest value wins; a tombstone deletes.** Records are applied in offset order per
   partition. ``values(topic)`` is the latest decoded value per key; a ``None`` value removes the
   key. Every change is reported to ``on_update`` as an ``Update`` (old and new value, ``None``
   for absent), synchronously and in order; ``on_batch`` gets the changes of one poll, after
   they were applied.
3. **A bad value is the caller's choice.** When ``decode`` raises ``ValueError`` (pydantic's
   ``ValidationError`` is one), ``on_invalid`` gets an ``Invalid`` and the record is then
   skipped (``InvalidValue.SKIP``: the key keeps its previous value) or applied as a tombstone
   (``InvalidValue.DELETE``). A bad value never stops the follower.
4. **Reconnects.** A broker that cannot be reached, or is lost while following, is retried with
   exponential backoff (tenacity) until it answers; following resumes after the last applied
   offset. A required topic that does not exist yet is retried the same way; with
   ``optional=True`` a missing topic is reported to ``on_missing`` and left out instead.
   ``retry_on`` adds exception types to retry the same way; ``on_retry`` hears each error.
   ``last_contact`` (``time.monotonic()``) tells when the broker last answered, refreshed every
   ``probe_interval_s`` when that is set.
5. **Clean stop.** Cancelling ``run()`` (or ``stop()`` after ``start()``) closes the consumer.

No consumer group is used: nothing is committed, every follower reads everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import tenacity
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

__all__ = [
    "CompactedFollower",
    "Invalid",
    "InvalidValue",
    "TopicMissing",
    "Update",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

_PROBE_TIMEOUT_S = 2.0


class InvalidValue(enum.Enum):
    """What a value that does not decode does to its key."""

    SKIP = "skip"
    """The key keeps its previous value."""
    DELETE = "delete"
    """As if the record were a tombstone."""


class TopicMissing(LookupError):
    """A followed topic does not exist (retried unless the follower is ``optional``)."""


@dataclass(frozen=True)
class Update(Generic[T]):
    """One key changed: ``old``/``new`` are ``None`` when the key was/is absent."""

    topic: str
    partition: int
    offset: int
    key: str
    old: T | None
    new: T | None


@dataclass(frozen=True)
class Invalid:
    """A record whose value ``decode`` refused."""

    topic: str
    partition: int
    offset: int
    key: str
    error: ValueError


_TRANSIENT = (KafkaError, OSError, TimeoutError, TopicMissing)


class CompactedFollower(Generic[T]):
    """Follows ``topics`` (name -> ``decode(bytes) -> T``) from ``bootstrap``; see the module
    docstring for the guarantees."""

    def __init__(
        self,
        bootstrap: str,
        topics: Mapping[str, Callable[[bytes], T]],
        *,
        on_update: Callable[[Update[T]], None] | None = None,
        on_batch: Callable[[list[Update[T]]], Awaitable[None]] | None = None,
        on_loaded: Callable[[], Awaitable[None]] | None = None,
        on_invalid: Callable[[Invalid], None] | None = None,
        invalid: InvalidValue = InvalidValue.SKIP,
        optional: bool = False,
        on_missing: Callable[[str], None] | None = None,
        client_id: str = "meterline-follower",
        fetch_max_wait_ms: int = 100,
        poll_ms: int = 200,
        probe_interval_s: float | None = None,
        retry_wait: tenacity.wait.wait_base | None = None,
        retry_on: tuple[type[Exception], ...] = (),
        on_retry: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self._decoders = dict(topics)
        self._values: dict[str, dict[str, T]] = {topic: {} for topic in self._decoders}
        self._on_update = on_update
        self._on_batch = on_batch
        self._on_loaded = on_loaded
        self._on_invalid = on_invalid
        self._invalid = invalid
        self._optional = optional
        self._on_missing = on_missing
        self._client_id = client_id
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._poll_ms = poll_ms
        self._probe_interval_s = probe_interval_s
        self._retry_wait = retry_wait or tenacity.wait_exponential(multiplier=0.1, max=1.0)
        self._retry_on = _TRANSIENT + retry_on
        self._on_retry = on_retry
        self._positions: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()
        """Set once every followed partition was read to its end as of the first connection
        (at once when every topic of an ``optional`` follower is missing)."""
        self.end_offsets: dict[tuple[str, int], int] = {}
        """(topic, partition) -> end offset that ``loaded`` waited for."""
        self.last_contact = float("-inf")
        """``time.monotonic()`` when the broker last answered (connect, load or probe)."""
        self.followed: list[str] = []
        """The topics being followed (those that exist, for an ``optional`` follower)."""

    def values(self, topic: str) -> Mapping[str, T]:
        """The latest value per key of ``topic`` (read it from the follower's event loop)."""
        return self._values[topic]

    async def run(self) -> None:
        """Follow until cancelled. Returns only when an ``optional`` follower found none of its
        topics. Errors other than the broker's (a callback's) propagate."""
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception_type(self._retry_on),
            wait=self._retry_wait,
            stop=tenacity.stop_never,
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._session()

    def start(self) -> CompactedFollower[T]:
        """Run in a background task of the running loop (``stop()`` ends it)."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"follow-{self._client_id}")
        return self

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        level = logging.WARNING if state.attempt_number == 1 else logging.DEBUG
        error = state.outcome.exception() if state.outcome is not None else None
        log.log(level, "%s cannot follow %s (retrying): %r", self._client_id, self.bootstrap, error)
        if self._on_retry is not None and error is not None:
            self._on_retry(error)

    async def _session(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            client_id=self._client_id,
            fetch_max_wait_ms=self._fetch_max_wait_ms,
            auto_offset_reset="earliest",
        )
        try:
            await consumer.start()
            parts = await self._assign(consumer)
            if not parts:
                self.loaded.set()
                return
            if not self.loaded.is_set() and not self.end_offsets:
                ends = await consumer.end_offsets(parts)
                self.end_offsets = {(tp.topic, tp.partition): end for tp, end in ends.items()}
            self.last_contact = time.monotonic()
            await self._follow(consumer, parts)
        finally:
            await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        existing = await consumer.topics()
        missing = [topic for topic in self._decoders if topic not in existing]
        if missing and not self._optional:
            raise TopicMissing(f"topic(s) {', '.join(missing)} do not exist")
        if missing and not self.followed:
            for topic in missing:
                if self._on_missing is not None:
                    self._on_missing(topic)
        if not self.followed:
            self.followed = [topic for topic in self._decoders if topic in existing]
        parts = [
            TopicPartition(topic, p)
            for topic in self.followed
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not parts:
            return []
        consumer.assign(parts)
        for tp in parts:
            if tp in self._positions:
                consumer.seek(tp, self._positions[tp])
            else:
                await consumer.seek_to_beginning(tp)
        return parts

    async def _follow(self, consumer: AIOKafkaConsumer, parts: list[TopicPartition]) -> None:
        interval = self._probe_interval_s
        next_probe = time.monotonic() + (interval or 0.0)
        while True:
            batches = await consumer.getmany(*parts, timeout_ms=self._poll_ms)
            updates: list[Update[T]] = []
            for tp, messages in batches.items():
                for message in messages:
                    self._positions[tp] = message.offset + 1
                    update = self._apply(tp, message.offset, message.key, message.value)
                    if update is not None:
                        updates.append(update)
            if updates and self._on_batch is not None:
                await self._on_batch(updates)
            if not self.loaded.is_set() and await self._caught_up(consumer, parts):
                self.loaded.set()
                if self._on_loaded is not None:
                    await self._on_loaded()
            if interval is not None and time.monotonic() >= next_probe:
                next_probe = time.monotonic() + interval
                with contextlib.suppress(TimeoutError, KafkaError, OSError):
                    await asyncio.wait_for(consumer.end_offsets(parts[:1]), _PROBE_TIMEOUT_S)
                    self.last_contact = time.monotonic()

    async def _caught_up(self, consumer: AIOKafkaConsumer, parts: list[TopicPartition]) -> bool:
        for tp in parts:
            if await consumer.position(tp) < self.end_offsets.get((tp.topic, tp.partition), 0):
                return False
        return True

    def _apply(
        self, tp: TopicPartition, offset: int, key: bytes | None, value: bytes | None
    ) -> Update[T] | None:
        name = (key or b"").decode(errors="replace")
        new: T | None = None
        if value is not None:
            try:
                new = self._decoders[tp.topic](value)
            except ValueError as exc:
                if self._on_invalid is not None:
                    self._on_invalid(Invalid(tp.topic, tp.partition, offset, name, exc))
                if self._invalid is InvalidValue.SKIP:
                    return None
        values = self._values[tp.topic]
        old = values.pop(name, None)
        if new is not None:
            values[name] = new
        if old is None and new is None:
            return None
        update = Update(tp.topic, tp.partition, offset, name, old, new)
        if self._on_update is not None:
            self._on_update(update)
        return update
