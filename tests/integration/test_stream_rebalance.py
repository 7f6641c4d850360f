"""A second worker joining mid-stream takes partitions over: still exactly once."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import orjson
import pytest

from meterline.kafka_records import produce_records
from meterline.local.stream import StreamWorker
from schemas.codec import decode_batch
from schemas.usage import EnrichedUsage
from tests.integration.kafka_groups import stream_settled
from tests.integration.raw_records import raw_batch_records, read_records, usage_batches

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_second_worker_joining_mid_stream_keeps_enriched_exactly_once(tansu, topics, tmp_path):
    rng = random.Random(5)
    first = usage_batches(160, 100, rng)
    second = usage_batches(80, 100, rng)
    first_records, _ = raw_batch_records(first, rng)
    second_records, _ = raw_batch_records(second, rng)
    expected = {e.event_id for b in first + second for e in b}

    def worker(name: str) -> StreamWorker:
        return StreamWorker(
            bootstrap=tansu.bootstrap,
            topic_prefix=topics.prefix,
            data_dir=tmp_path / name,
            log_path=tmp_path / f"{name}.log",
        )

    one, two = worker("one"), worker("two")
    try:
        asyncio.run(produce_records(tansu.bootstrap, topics.usage_raw, first_records))
        one.start()
        asyncio.run(
            read_records(
                tansu.bootstrap, topics.usage_enriched, done=lambda rs: len(rs) >= 20, timeout=60
            )
        )
        two.start(timeout=90)
        asyncio.run(produce_records(tansu.bootstrap, topics.usage_raw, second_records))
        records = asyncio.run(
            read_records(
                tansu.bootstrap,
                topics.usage_enriched,
                done=lambda rs: sum(len(orjson.loads(r.value)) for r in rs) >= len(expected),
                timeout=120,
                settled=stream_settled(tansu.bootstrap, topics.prefix, [topics.usage_raw]),
            )
        )
    finally:
        two.kill()
        one.kill()
    counts = Counter(e.event_id for r in records for e in decode_batch(EnrichedUsage, r.value))
    assert not {i: n for i, n in counts.items() if n > 1}
    assert set(counts) == expected
