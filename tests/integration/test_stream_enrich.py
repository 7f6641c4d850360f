"""The stream worker on a real Tansu broker: good, duplicate and bad records in; every good
event exactly once on the enriched topic, every bad one on the DLQ with its reason."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version

import orjson
import pytest

from meterline.kafka_records import produce_records
from meterline.local.stream import StreamWorker
from producers.events import usage_event
from schemas.codec import decode_batch, encode_batch, encode_one
from schemas.dead_letters import DeadLetter, ErrorKind
from schemas.keys import KeyBinding
from schemas.usage import CostSource, EnrichedUsage
from tests.integration.kafka_groups import stream_settled
from tests.integration.raw_records import read_records

pytestmark = pytest.mark.integration

MAX_RECORD_BYTES = 8192


def _worker(tansu, topics, tmp_path) -> StreamWorker:
    return StreamWorker(
        bootstrap=tansu.bootstrap,
        topic_prefix=topics.prefix,
        data_dir=tmp_path / "data",
        log_path=tmp_path / "worker.log",
        extra_env={"METERLINE_MAX_RECORD_BYTES": str(MAX_RECORD_BYTES)},
    )


def _enriched(records) -> list[EnrichedUsage]:
    return [e for r in records for e in decode_batch(EnrichedUsage, r.value)]


def _dead(records) -> list[DeadLetter]:
    return [d for r in records for d in decode_batch(DeadLetter, r.value)]


def test_mixed_records_enrich_exactly_once_and_dead_letter_the_rest(tansu, topics, tmp_path):
    when = datetime(2025, 6, 1, 12, tzinfo=UTC)
    good = [
        usage_event(
            api_key_id="key-a",
            provider="openai",
            model="gpt-4o",
            customer="acme",
            feature="chat",
            input_tokens=1000,
            output_tokens=500,
            cache_read_tokens=200,
            occurred_at=when,
        ),
        usage_event(
            api_key_id="key-a",
            provider="openai",
            model="gpt-4o",
            tags=["customer:acme", "customer:globex"],
            input_tokens=10,
            occurred_at=when,
        ),
        usage_event(
            api_key_id="key-a",
            provider="openai",
            model="gpt-4o",
            provider_cost=Decimal("0.5"),
            input_tokens=100,
            occurred_at=when,
        ),
    ]
    mixed_ok = usage_event(api_key_id="key-b", provider="openai", model="gpt-4o-mini")
    bad_element = orjson.loads(encode_one(mixed_ok))
    bad_element["event_id"] = "bad-negative-tokens"
    bad_element["tokens"] = {"input": -5}
    retried = usage_event(api_key_id="key-a", provider="openai", model="gpt-4o", output_tokens=3)
    single_unknown = usage_event(api_key_id="key-c", provider="acme-ai", model="no-such-model")
    future_version = orjson.loads(encode_one(single_unknown))
    future_version.update(schema_version=2, event_id="v2-event")

    records = [
        (b"key-a", encode_batch(good)),  # offset 0
        (b"key-b", b"[" + encode_one(mixed_ok) + b"," + orjson.dumps(bad_element) + b"]"),
        (b"key-a", encode_batch([good[0], retried])),  # good[0] is a retry: duplicate
        (b"key-x", b"\xff\xfenot json"),
        (b"key-c", orjson.dumps(future_version)),
        (b"key-c", b"[" + b" " * MAX_RECORD_BYTES + b"]"),
        (b"key-c", encode_one(single_unknown)),
        (b"key-a", encode_batch(good)),  # the whole batch again: all duplicates
    ]
    binding = KeyBinding(
        api_key_id="key-a", team_id="team-1", owner_customer="acme", updated_at=when
    )
    expected_ids = {e.event_id for e in [*good, mixed_ok, retried, single_unknown]}

    async def scenario():
        await produce_records(tansu.bootstrap, topics.keys, [(b"key-a", encode_one(binding))])
        # One partition, so the dead letter ids below know their offsets.
        await produce_records(tansu.bootstrap, topics.usage_raw, records, partition=0)

    asyncio.run(scenario())
    with _worker(tansu, topics, tmp_path):
        enriched_records = asyncio.run(
            read_records(
                tansu.bootstrap,
                topics.usage_enriched,
                done=lambda rs: {e.event_id for e in _enriched(rs)} >= expected_ids,
                timeout=60,
                settled=stream_settled(tansu.bootstrap, topics.prefix, [topics.usage_raw]),
            )
        )
        dlq_records = asyncio.run(
            read_records(
                tansu.bootstrap,
                topics.usage_dlq,
                done=lambda rs: len(_dead(rs)) >= 4,
                timeout=30,
                settled=stream_settled(tansu.bootstrap, topics.prefix, [topics.usage_raw]),
            )
        )

    enriched = _enriched(enriched_records)
    counts = Counter(e.event_id for e in enriched)
    assert set(counts) == expected_ids
    assert all(n == 1 for n in counts.values()), counts
    by_id = {e.event_id: e for e in enriched}

    first = by_id[good[0].event_id]
    assert (first.customer, first.feature) == ("acme", "chat")
    assert (first.team_id, first.owner_customer) == ("team-1", "acme")
    assert first.cost_source is CostSource.PRICE_BOOK
    # gpt-4o in genai-prices: $2.5 input, $1.25 cached input, $10 output per 1M tokens.
    assert first.cost == Decimal("0.00775") and first.computed_cost == first.cost
    assert first.price_ref.startswith(f"genai-prices=={version('genai-prices')}:openai/gpt-4o")

    double = by_id[good[1].event_id]
    assert double.customer == "acme" and "multiple_customer_tags" in double.flags

    settled = by_id[good[2].event_id]
    assert settled.cost == Decimal("0.5") and settled.cost_source is CostSource.PROVIDER
    assert "provider_cost_mismatch" in settled.flags

    unknown = by_id[single_unknown.event_id]
    assert unknown.cost == 0 and unknown.cost_source is CostSource.UNPRICED
    assert unknown.customer == "unattributed" and "unbound_key" in unknown.flags

    dead = {d.dead_letter_id: d for d in _dead(dlq_records)}
    raw = topics.usage_raw
    assert {(i, d.error_kind) for i, d in dead.items()} >= {
        (f"{raw}/{0}/1/1", ErrorKind.SCHEMA),
        (f"{raw}/{0}/3/-1", ErrorKind.DECODE),
        (f"{raw}/{0}/4/-1", ErrorKind.UNSUPPORTED_VERSION),
        (f"{raw}/{0}/5/-1", ErrorKind.OVERSIZED),
    }
    assert len(dead) == 4
    negative = dead[f"{raw}/{0}/1/1"]
    assert negative.event_id == "bad-negative-tokens" and "tokens.input" in negative.reason
    # Counts add up: every event produced is enriched, a duplicate, or a dead letter.
    produced_events = len(good) + 2 + 2 + 1 + 1 + 1 + 1 + len(good)
    duplicates = 1 + len(good)
    assert len(enriched) + duplicates + len(dead) == produced_events
