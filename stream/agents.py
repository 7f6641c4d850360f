"""The usage agent: ``meterline.usage.raw`` -> ``meterline.usage.enriched`` + ``.dlq``.

A thin shell around :class:`stream.enrich.Enricher`. Per raw record it does one dedupe table
write, sends one enriched record (a JSON array, key = api_key_id, to the same partition number)
and at most one DLQ record (a JSON array of dead letters). Only output larger than
``max_output_record_bytes`` is split over several records.

Delivery guarantee. Faust flushes the producer before it commits source offsets, so output is
at least once; a SIGKILL replays records after the last commit. Two things make the enriched
topic exact anyway:

1. the dedupe entry names the record position where an id was first seen, so replaying that
   record does not mistake its own events for duplicates (nothing lost), and
2. each enriched record carries its raw offset (and chunk number) in a header; when the worker
   takes a partition over it reads the last enriched record of that partition and does not
   emit again output at or below that mark (nothing doubled).

Dead letters are at least once; their ids are deterministic in the source position, so the sink
keeps one row each.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import faust
from pydantic import ValidationError

from schemas.keys import KeyBinding
from stream.config import StreamSettings
from stream.dedupe import SeenEntry, SeenIndex
from stream.enrich import Enricher
from stream.errors import OutputMarkMissing
from stream.fast_raw import FastEnricher
from stream.output_marks import SOURCE_OFFSET_HEADER, WORKER_HEADER, OutputMarks, format_mark
from stream.pricing import PriceBook
from stream.rewind import SourcePositions
from stream.tables import StreamTables
from stream.topics import StreamTopics
from stream.validation import SourcePosition

__all__ = ["UsageAgents"]

log = logging.getLogger(__name__)

_WORKER_ID = f"{socket.gethostname()}:{os.getpid()}".encode()


class UsageAgents:
    """The enrichment agent and its per-worker memory, registered on ``app`` when built."""

    def __init__(
        self,
        app: faust.App,
        settings: StreamSettings,
        topics: StreamTopics,
        tables: StreamTables,
        price_book: PriceBook,
        positions: SourcePositions,
    ) -> None:
        self.app = app
        self.positions = positions
        self.settings = settings
        self.topics = topics
        self.tables = tables
        self.enricher = Enricher(
            price_book, settings.cost_tolerance_percent, settings.max_record_bytes
        )
        self._fast = FastEnricher(self.enricher)
        self._seen = SeenIndex(
            horizon=timedelta(hours=settings.dedupe_horizon_hours),
            max_events=settings.dedupe_max_events,
        )
        self._marks = OutputMarks(settings.kafka_bootstrap, topics.enriched.get_topic_name())
        self._marked: set[int] = set()
        self._indexed: set[int] = set()
        self._bindings: dict[bytes, KeyBinding | None] = {}
        # mode's signal types do not describe handlers with named keyword arguments.
        app.on_rebalance_complete.connect(cast(Any, self._on_rebalance_complete))
        app.on_partitions_revoked.connect(cast(Any, self._on_revoked))
        self.agent = app.agent(topics.raw, name="stream.agents.enrich_usage")(self.enrich_usage)
        app.timer(interval=30.0)(self._log_counts)

    def _binding(self, api_key_id: str) -> KeyBinding | None:
        raw = self.tables.keys.get(api_key_id.encode())
        if raw is None:
            return None
        try:
            return self._bindings[raw]
        except KeyError:
            pass
        try:
            binding: KeyBinding | None = KeyBinding.model_validate_json(raw)
        except ValidationError as exc:
            log.warning("ignoring invalid key binding for %r: %s", api_key_id, exc)
            binding = None
        if len(self._bindings) > 10_000:
            self._bindings.clear()
        self._bindings[raw] = binding
        return binding

    def _raw_partitions(self, tps: set[Any]) -> list[int]:
        raw_name = self.topics.raw.get_topic_name()
        return sorted(tp.partition for tp in tps if tp.topic == raw_name)

    async def _on_rebalance_complete(self, sender: Any, **kwargs: Any) -> None:
        """Learn how far the output of each newly owned raw partition got.

        Faust sends this signal when table recovery is done and before it resumes the stream
        partitions, so no record of a new partition reaches the agent before its mark is known.
        Marks read while another rebalance began (the partitions may have moved and moved
        back, with output by another worker in between) are dropped; that rebalance loads them
        again."""
        app = self.app
        rebalance = app.rebalancing_count
        new = [p for p in self._raw_partitions(app.consumer.assignment()) if p not in self._marked]
        if not new:
            return
        marks = await self._marks.read(new)
        if app.rebalancing_count != rebalance:
            log.info("output marks of raw partitions %s are stale (rebalanced meanwhile)", new)
            return
        self._marks.remember(marks)
        self._marked.update(new)
        log.info("output marks of raw partitions: %s", marks)

    async def _on_revoked(self, sender: Any, revoked: set[Any], **kwargs: Any) -> None:
        for partition in self._raw_partitions(revoked):
            self._marked.discard(partition)
            self._indexed.discard(partition)
            self._seen.drop_partition(partition)
            self._marks.forget(partition)

    def _index(self, partition: int) -> None:
        """Rebuild a newly owned partition's dedupe memory from the (recovered) table."""
        prefix = f"{partition}/"
        for position, value in list(self.tables.seen.items()):
            if isinstance(position, str) and position.startswith(prefix):
                entry = SeenEntry(tuple(value["ids"]), datetime.fromisoformat(value["at"]))
                self._seen.add(partition, position, entry)
        self._indexed.add(partition)
        log.info("partition %d: dedupe memory rebuilt, %d ids in total", partition, len(self._seen))

    async def enrich_usage(self, stream: Any) -> None:
        seen_table = self.tables.seen
        max_output = self.settings.max_output_record_bytes
        admit = self.positions.admit
        async for event in stream.events():
            message = event.message
            if not await admit(message):
                continue
            partition = message.partition
            if partition not in self._indexed:
                self._index(partition)
            if partition not in self._marked:
                # Never load it here: the agent must not await the broker (see
                # stream.fetch_wait).
                raise OutputMarkMissing(partition)
            now = datetime.now(UTC)
            key = (message.key or b"").decode("utf-8", "replace")
            position = SourcePosition(message.topic, partition, message.offset)
            outcome = self._fast.process(
                message.value,
                key=key,
                position=position,
                seen=self._seen,
                bindings=self._binding,
                now=now,
            )
            for expired in self._seen.expire(partition, now):
                seen_table.pop(expired, None)
            if outcome.seen_entry is not None:
                seen_table[str(position)] = {
                    "ids": list(outcome.seen_entry.event_ids),
                    "at": now.isoformat(),
                }
            mark = self._marks.get(partition)
            for chunk, value in enumerate(outcome.enriched_values(max_output)):
                if (message.offset, chunk) > mark:
                    await self.topics.enriched.send(
                        key=message.key,
                        value=value,
                        partition=partition,
                        headers=[
                            (SOURCE_OFFSET_HEADER, format_mark(message.offset, chunk)),
                            (WORKER_HEADER, _WORKER_ID),
                        ],
                    )
            for value in outcome.dead_letter_values(max_output):
                await self.topics.dlq.send(key=str(position).encode(), value=value)

    async def _log_counts(self) -> None:
        log.info("stream counts: %s", self.enricher.counts)
