"""The sink's worker loop: consume, buffer, store, then commit.

Order of one flush (and the reason nothing is lost or counted twice):

1. look up which buffered event ids ``usage_events`` already holds and drop those (a replay
   after an offset reset or a crash re-reads records that were stored but not committed);
2. insert the rest into ``usage_events`` (the rollup view follows in the same insert), then
   budget alerts, then configuration changes not yet in ``config_history`` (numbered after the
   latest stored version of their id), then dead letters (input ones and rows the database
   refused); each insert has a dedup token, so a retry after an unknown outcome is a no-op in
   base table and rollup;
3. only then commit the offsets of everything in the batch.

A crash before 3 re-delivers the batch; steps 1–2 make storing it again a no-op. Database
errors are retried with backoff, never skipped, so the loop stalls rather than drops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from schemas.config import CONFIG_TOPICS, ConfigTopic
from schemas.topics import Topics
from sinks.buffer import Batch, BatchBuffer, unique_by_key
from sinks.config import SinkSettings
from sinks.config_history import CONFIG_HISTORY, ConfigChange, decode_change, history_rows
from sinks.errors import BrokerNotReachable, SinkError
from sinks.rows import (
    ALERTS,
    DEAD_LETTERS,
    USAGE,
    Item,
    Origin,
    dead_letter_row,
    decode_record,
    rejected_dead_letter,
)
from sinks.stats import SinkStats
from sinks.store import ClickHouseStore

__all__ = ["SinkWriter", "store_batch"]

log = logging.getLogger(__name__)

REBALANCE_TIMEOUT_MS = 6_000
"""Also bounds how long a member may take to flush when partitions are revoked."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def store_batch(store: ClickHouseStore, batch: Batch, now: datetime, stats: SinkStats) -> None:
    """Steps 1–2 of a flush (blocking). Raises only when the database keeps failing in a way
    retries cannot fix; the caller must then not commit."""
    ranges = batch.ranges()
    usage = unique_by_key(batch.usage)
    stored = store.stored_keys(USAGE, usage)
    fresh = [item for item in usage if item.key not in stored]
    rejected_usage = store.insert(USAGE, fresh, ranges)
    alerts = unique_by_key(batch.alerts)
    rejected_alerts = store.insert(ALERTS, alerts, ranges)
    rejected_config, config_rows = _store_config(store, batch.config, ranges)
    rejected = rejected_usage + rejected_alerts + rejected_config
    letters = list(batch.dead_letters)
    letters += [rejected_dead_letter(r.item, r.reason, now) for r in rejected]
    letter_items = unique_by_key(
        [
            Item(d, dead_letter_row(d), Origin(d.source_topic, d.partition, d.offset,
                                                d.index_in_record))
            for d in letters
        ]
    )  # fmt: skip
    refused = store.insert(DEAD_LETTERS, letter_items, ranges)
    if refused:
        # A dead letter the table refuses (e.g. an absurd received_at) is kept as a new dead
        # letter stamped now; if even that fails, stop before committing.
        retry = [
            Item(d, dead_letter_row(d), r.item.origin)
            for r in refused
            for d in [rejected_dead_letter(r.item, r.reason, now)]
        ]
        if store.insert(DEAD_LETTERS, retry, ranges + "|refused"):
            raise SinkError(f"dead_letters refused {len(refused)} rows; not committing")
    stats.rows_stored += len(fresh) - len(rejected_usage)
    stats.duplicates_skipped += len(batch.usage) - len(fresh)
    stats.alerts_stored += len(alerts) - len(rejected_alerts)
    stats.dead_letters_stored += len(letter_items)
    stats.rows_rejected += len(rejected)
    stats.config_changes_stored += config_rows


def _store_config(
    store: ClickHouseStore, changes: list[ConfigChange], ranges: str
) -> tuple[list, int]:
    """Append the changes ``config_history`` does not hold yet (a replay or a restore
    republishes known change ids), each numbered after its id's latest stored version.
    Returns the refused rows and the number of rows inserted."""
    if not changes:
        return [], 0
    probes = unique_by_key([Item(c, [c.change_id], c.source) for c in changes])
    stored = store.stored_keys(CONFIG_HISTORY, probes)
    fresh = [item.message for item in probes if item.key not in stored]
    latest = store.latest_config({(c.kind, c.entity_id) for c in fresh})
    rows = history_rows(fresh, latest)
    refused = store.insert(CONFIG_HISTORY, rows, ranges)
    return refused, len(rows) - len(refused)


class _OnRebalance(ConsumerRebalanceListener):
    """Before partitions move, store and commit everything consumed so far: the next owner
    starts from that commit, and finds stored whatever a failed commit makes it re-read."""

    def __init__(self, writer: SinkWriter) -> None:
        self.writer = writer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.writer.flush()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class SinkWriter:
    """Moves enriched usage, dead letters and budget alerts from Kafka into ClickHouse.

    ``run(stop)`` returns after ``stop`` is set and the last batch is stored and committed.
    One batch is stored (in a worker thread) while the next is being consumed and decoded;
    batches are stored and committed strictly one after another, in consumption order.
    """

    def __init__(
        self,
        settings: SinkSettings,
        store: ClickHouseStore,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.store = store
        self.topics = Topics(settings.topic_prefix)
        self.clock = clock
        self.now = now
        self.buffer = BatchBuffer(settings.sink_batch_rows, settings.sink_batch_seconds)
        self.stats = SinkStats(started_at=clock())
        self._next: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._in_flight: asyncio.Task[None] | None = None
        self._handover = asyncio.Lock()
        self._config: dict[str, ConfigTopic] = {self.topics.name(c.spec): c for c in CONFIG_TOPICS}

    def assigned(self) -> set[tuple[str, int]]:
        """The topic-partitions this writer owns right now (empty before the group join)."""
        consumer = self._consumer
        if consumer is None:
            return set()
        return {(tp.topic, tp.partition) for tp in consumer.assignment()}

    def _consumer_for(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.settings.sink_group_id,
            client_id="meterline-sink",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
            # The group join waits up to the rebalance timeout for members; aiokafka's default
            # (5 min via max_poll_interval) made a lone sink's first join slow on Tansu.
            session_timeout_ms=6_000,
            rebalance_timeout_ms=REBALANCE_TIMEOUT_MS,
            heartbeat_interval_ms=1_000,
        )

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self._consumer_for()
        self._consumer = consumer
        topics = self.topics
        consumer.subscribe(
            [topics.usage_enriched, topics.usage_dlq, topics.budget_alerts, *self._config],
            listener=_OnRebalance(self),
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            raise BrokerNotReachable(
                f"cannot reach Kafka at {self.settings.kafka_bootstrap}: {exc}"
            ) from exc
        last_log = self.clock()
        poll_ms = max(10, int(self.settings.sink_batch_seconds * 1000 / 4))
        try:
            while not stop.is_set():
                records = await consumer.getmany(timeout_ms=poll_ms, max_records=200)
                now = self.now()
                for tp, messages in records.items():
                    config = self._config.get(tp.topic)
                    for record in messages:
                        if config is not None:
                            self._buffer_config(config, tp.partition, record, now)
                            continue
                        self._buffer_record(tp.topic, tp.partition, record.offset, record.value,
                                            now)  # fmt: skip
                        if self.buffer.pending >= self.buffer.max_rows:
                            await self._start_flush()
                    if config is not None and messages:
                        # A configuration change is stored at once: until then the broker
                        # holds its only copy.
                        await self._start_flush()
                    if messages:
                        self._next[tp] = messages[-1].offset + 1
                if self.buffer.due(self.clock()):
                    await self._start_flush()
                if self.clock() - last_log >= self.settings.sink_stats_interval_s:
                    last_log = self.clock()
                    self._update_lag()
                    log.info("sink stats %s", self.stats.snapshot(last_log))
            await self.flush()
        finally:
            if self._in_flight is not None and not self._in_flight.done():
                # Let a running insert finish (its thread cannot be cancelled) but commit
                # nothing more: the records it holds will be re-read and found stored.
                await asyncio.wait([self._in_flight])
            self._in_flight = None
            self._consumer = None
            await consumer.stop()

    def _buffer_record(
        self, topic: str, partition: int, offset: int, value: bytes | None, now: datetime
    ) -> None:
        clock = self.clock()
        if self.stats.first_consumed_at is None:
            self.stats.first_consumed_at = clock
        topics = self.topics
        if topic == topics.usage_enriched:
            got = decode_record(USAGE, topic, partition, offset, value, now)
            self.buffer.add(topic, partition, offset, clock, usage=got.items,
                            dead_letters=got.dead_letters)  # fmt: skip
        elif topic == topics.budget_alerts:
            alerts = decode_record(ALERTS, topic, partition, offset, value, now)
            self.buffer.add(topic, partition, offset, clock, alerts=alerts.items,
                            dead_letters=alerts.dead_letters)  # fmt: skip
        else:
            replayed = decode_record(DEAD_LETTERS, topic, partition, offset, value, now)
            letters = [item.message for item in replayed.items] + replayed.dead_letters
            self.buffer.add(topic, partition, offset, clock, dead_letters=letters)

    def _buffer_config(self, config: ConfigTopic, partition: int, record: Any,
                       now: datetime) -> None:  # fmt: skip
        got = decode_change(
            config,
            topic=record.topic,
            partition=partition,
            offset=record.offset,
            timestamp_ms=record.timestamp or 0,
            key=record.key,
            value=record.value,
            headers=list(record.headers or ()),
            now=now,
        )
        if isinstance(got, ConfigChange):
            self.buffer.add(record.topic, partition, record.offset, self.clock(), config=[got])
        else:
            self.buffer.add(record.topic, partition, record.offset, self.clock(),
                            dead_letters=[got])  # fmt: skip

    def _update_lag(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        lag = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = self._next.get(tp, consumer.last_stable_offset(tp) or 0)
            lag[f"{tp.topic}:{tp.partition}"] = max(0, highwater - position)
        self.stats.lag = lag

    async def _start_flush(self) -> None:
        """Wait for the batch in flight (stored and committed), then hand the buffer over to
        a new flush task. An error of the previous flush propagates from here. The lock keeps
        the main loop and a rebalance from starting two flushes at once."""
        async with self._handover:
            if self._in_flight is not None:
                in_flight, self._in_flight = self._in_flight, None
                await in_flight
            if not self.buffer.empty:
                self._in_flight = asyncio.create_task(self._store_and_commit(self.buffer.drain()))

    async def flush(self) -> None:
        """Store everything buffered, then commit its offsets (in that order); returns when
        no batch is in flight."""
        await self._start_flush()
        await self._start_flush()

    async def _store_and_commit(self, batch: Batch) -> None:
        started = self.clock()
        await asyncio.to_thread(store_batch, self.store, batch, self.now(), self.stats)
        await self._commit(batch)
        self.stats.batches += 1
        self.stats.last_batch_messages = batch.messages
        self.stats.last_flush_s = self.clock() - started
        self._update_lag()

    async def _commit(self, batch: Batch) -> None:
        consumer = self._consumer
        if consumer is None:
            raise SinkError("flush outside run(): no consumer to commit offsets with")
        offsets = {TopicPartition(t, p): o for (t, p), o in batch.commit_offsets().items()}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The batch is stored; whoever reads these offsets again finds the events stored
            # and skips them, so a failed commit costs a re-read, not a duplicate.
            log.warning(
                "offset commit failed after storing the batch (%s); it will be re-read", exc
            )
