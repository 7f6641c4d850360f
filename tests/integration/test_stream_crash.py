"""Exactly once on the enriched topic across a SIGKILL of the worker mid-stream."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import orjson
import pytest

from meterline.kafka_records import produce_records
from meterline.local.stream import StreamWorker
from schemas.codec import decode_batch, encode_batch, encode_one
from schemas.dead_letters import DeadLetter
from schemas.usage import EnrichedUsage
from tests.integration.kafka_groups import stream_settled
from tests.integration.raw_records import raw_batch_records, read_records, usage_batches

pytestmark = pytest.mark.integration


def test_sigkill_mid_stream_keeps_enriched_exactly_once(tansu, topics, tmp_path):
    rng = random.Random(11)
    first = usage_batches(160, 100, rng)
    second = usage_batches(40, 100, rng)
    first_records, bad_first = raw_batch_records(first, rng, bad_share=0.2)
    second_records, bad_second = raw_batch_records(second, rng, bad_share=0.2)
    # Gateway retries: whole batches and single events of the first phase sent again later.
    retries = [(b[0].api_key_id.encode(), encode_batch(b)) for b in first[:10]]
    retries += [(e.api_key_id.encode(), encode_one(e)) for b in first[50:60] for e in b[:3]]
    expected = {e.event_id for b in first + second for e in b}
    expected_bad = set(bad_first + bad_second)

    worker = StreamWorker(
        bootstrap=tansu.bootstrap,
        topic_prefix=topics.prefix,
        data_dir=tmp_path / "data",
        log_path=tmp_path / "worker.log",
    )
    asyncio.run(produce_records(tansu.bootstrap, topics.usage_raw, first_records))
    try:
        worker.start()
        # Kill as soon as output shows up: records are being processed and their offsets are
        # (almost surely) not committed yet, so the restart replays records already emitted.
        asyncio.run(
            read_records(
                tansu.bootstrap, topics.usage_enriched, done=lambda rs: len(rs) >= 20, timeout=60
            )
        )
        worker.kill()
        asyncio.run(produce_records(tansu.bootstrap, topics.usage_raw, retries + second_records))
        worker.start()
        started = time.monotonic()
        enriched_records = asyncio.run(
            read_records(
                tansu.bootstrap,
                topics.usage_enriched,
                done=lambda rs: sum(len(orjson.loads(r.value)) for r in rs) >= len(expected),
                timeout=120,
                settled=stream_settled(tansu.bootstrap, topics.prefix, [topics.usage_raw]),
            )
        )
        dlq_records = asyncio.run(
            read_records(
                tansu.bootstrap,
                topics.usage_dlq,
                done=lambda rs: (
                    {d.event_id for r in rs for d in decode_batch(DeadLetter, r.value)}
                    >= expected_bad
                ),
                timeout=max(10.0, 60 - (time.monotonic() - started)),
            )
        )
    finally:
        worker.kill()

    counts = Counter(
        e.event_id for r in enriched_records for e in decode_batch(EnrichedUsage, r.value)
    )
    doubled = {i: n for i, n in counts.items() if n > 1}
    assert not doubled, f"{len(doubled)} events emitted more than once"
    assert set(counts) == expected, f"missing {len(expected - set(counts))} events"
    dead_ids = {d.event_id for r in dlq_records for d in decode_batch(DeadLetter, r.value)}
    assert dead_ids == expected_bad
    log = (tmp_path / "worker.log").read_text()
    assert "Traceback" not in log
