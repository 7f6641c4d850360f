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
from typing import Any

from pydantic import ValidationError

from schemas.keys import KeyBinding
from stream.app import app, settings
from stream.dedupe import SeenEntry, SeenIndex
from stream.enrich import Enricher
from stream.errors import OutputMarkMissing, PriceFileError
from stream.fast_raw import FastEnricher
from stream.output_marks import SOURCE_OFFSET_HEADER, WORKER_HEADER, OutputMarks, format_mark
from stream.price_file import build_price_book
from stream.tables import keys_table, seen_table
from stream.topics import dlq_topic, enriched_topic, raw_topic
from stream.validation import SourcePosition

__all__ = ["enrich_usage", "enricher"]

log = logging.getLogger(__name__)

try:
    _price_book = build_price_book(settings.price_file)
except PriceFileError as exc:
    # A worker must not start on a price book it cannot read; say why without a traceback.
    raise SystemExit(f"meterline stream: bad METERLINE_PRICE_FILE: {exc}") from exc
enricher = Enricher(_price_book, settings.cost_tolerance_percent, settings.max_record_bytes)
_fast = FastEnricher(enricher)
_seen = SeenIndex(
    horizon=timedelta(hours=settings.dedupe_horizon_hours),
    max_events=settings.dedupe_max_events,
)
_marks = OutputMarks(settings.kafka_bootstrap, enriched_topic.get_topic_name())
_marked: set[int] = set()
_indexed: set[int] = set()
_bindings: dict[bytes, KeyBinding | None] = {}
_WORKER_ID = f"{socket.gethostname()}:{os.getpid()}".encode()


def _binding(api_key_id: str) -> KeyBinding | None:
    raw = keys_table.get(api_key_id.encode())
    if raw is None:
        return None
    try:
        return _bindings[raw]
    except KeyError:
        pass
    try:
        binding: KeyBinding | None = KeyBinding.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("ignoring invalid key binding for %r: %s", api_key_id, exc)
        binding = None
    if len(_bindings) > 10_000:
        _bindings.clear()
    _bindings[raw] = binding
    return binding


def _raw_partitions(tps: set[Any]) -> list[int]:
    raw_name = raw_topic.get_topic_name()
    return sorted(tp.partition for tp in tps if tp.topic == raw_name)


@app.on_rebalance_complete.connect
async def _on_rebalance_complete(sender: Any, **kwargs: Any) -> None:
    """Learn how far the output of each newly owned raw partition got.

    Faust sends this signal when table recovery is done and before it resumes the stream
    partitions, so no record of a new partition reaches the agent before its mark is known.
    Marks read while another rebalance began (the partitions may have moved and moved back,
    with output by another worker in between) are dropped; that rebalance loads them again."""
    rebalance = app.rebalancing_count
    new = [p for p in _raw_partitions(app.consumer.assignment()) if p not in _marked]
    if not new:
        return
    marks = await _marks.read(new)
    if app.rebalancing_count != rebalance:
        log.info("output marks of raw partitions %s are stale (rebalanced meanwhile)", new)
        return
    _marks.remember(marks)
    _marked.update(new)
    log.info("output marks of raw partitions: %s", marks)


@app.on_partitions_revoked.connect
async def _on_revoked(sender: Any, revoked: set[Any], **kwargs: Any) -> None:
    for partition in _raw_partitions(revoked):
        _marked.discard(partition)
        _indexed.discard(partition)
        _seen.drop_partition(partition)
        _marks.forget(partition)


def _index(partition: int) -> None:
    """Rebuild a newly owned partition's dedupe memory from the (recovered) table."""
    prefix = f"{partition}/"
    for position, value in list(seen_table.items()):
        if isinstance(position, str) and position.startswith(prefix):
            entry = SeenEntry(tuple(value["ids"]), datetime.fromisoformat(value["at"]))
            _seen.add(partition, position, entry)
    _indexed.add(partition)
    log.info("partition %d: dedupe memory rebuilt, %d ids in total", partition, len(_seen))


@app.agent(raw_topic)
async def enrich_usage(stream: Any) -> None:
    async for event in stream.events():
        message = event.message
        partition = message.partition
        if partition not in _indexed:
            _index(partition)
        if partition not in _marked:
            # Never load it here: the agent must not await the broker (see stream.fetch_wait).
            raise OutputMarkMissing(partition)
        now = datetime.now(UTC)
        key = (message.key or b"").decode("utf-8", "replace")
        position = SourcePosition(message.topic, partition, message.offset)
        outcome = _fast.process(
            message.value, key=key, position=position, seen=_seen, bindings=_binding, now=now
        )
        for expired in _seen.expire(partition, now):
            seen_table.pop(expired, None)
        if outcome.seen_entry is not None:
            seen_table[str(position)] = {
                "ids": list(outcome.seen_entry.event_ids),
                "at": now.isoformat(),
            }
        mark = _marks.get(partition)
        for chunk, value in enumerate(outcome.enriched_values(settings.max_output_record_bytes)):
            if (message.offset, chunk) > mark:
                await enriched_topic.send(
                    key=message.key,
                    value=value,
                    partition=partition,
                    headers=[
                        (SOURCE_OFFSET_HEADER, format_mark(message.offset, chunk)),
                        (WORKER_HEADER, _WORKER_ID),
                    ],
                )
        for value in outcome.dead_letter_values(settings.max_output_record_bytes):
            await dlq_topic.send(key=str(position).encode(), value=value)


@app.timer(interval=30.0)
async def _log_counts() -> None:
    log.info("stream counts: %s", enricher.counts)
