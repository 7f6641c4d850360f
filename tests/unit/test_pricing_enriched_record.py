"""The enriched record the stream emits: one JSON array of EnrichedUsage per raw record,
priced and attributed; its fast encoding decodes to exactly the validated model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson

from producers.events import usage_event
from schemas.codec import decode_batch, encode_batch, join_encoded
from schemas.keys import KeyBinding
from schemas.usage import CostSource, EnrichedUsage
from stream.dedupe import SeenIndex
from stream.enrich import Enricher, chunk_encoded
from stream.output_marks import NO_MARK, format_mark, parse_mark
from stream.pricing import DatedPrice, PriceBook, Rates, UnitPrice
from stream.validation import SourcePosition

NOW = datetime(2025, 5, 1, tzinfo=UTC)
PRICE = UnitPrice(Rates(Decimal("1.5"), Decimal("6"), Decimal("0.15")), "file:t:acme/m1@2025-01-01")
BOOK = PriceBook.build(
    [("acme", "m1", DatedPrice(datetime(2025, 1, 1, tzinfo=UTC), PRICE))], fallback=None
)
BINDING = KeyBinding(api_key_id="k1", team_id="t1", owner_customer="o1", updated_at=NOW)


def _enricher() -> Enricher:
    return Enricher(BOOK, Decimal(5), 1 << 20)


def _process(enricher: Enricher, events, offset: int, seen: SeenIndex):
    return enricher.process(
        encode_batch(events),
        key="k1",
        position=SourcePosition("raw", 0, offset),
        seen=seen,
        bindings=lambda key: BINDING if key == "k1" else None,
        now=NOW,
    )


def test_enriched_value_decodes_to_the_validated_models():
    events = [
        usage_event(
            api_key_id="k1",
            provider="acme",
            model="m1",
            customer="c1",
            feature="f",
            input_tokens=1000,
            cache_read_tokens=1000,
            output_tokens=10,
            occurred_at=NOW,
        ),
        usage_event(
            api_key_id="k2", provider="acme", model="unknown", provider_cost="0.25", occurred_at=NOW
        ),
    ]
    outcome = _process(_enricher(), events, 0, SeenIndex(timedelta(hours=1)))
    decoded = decode_batch(EnrichedUsage, outcome.enriched_value())
    assert decoded == [row.model() for row in outcome.enriched]
    first, second = decoded
    assert first.cost == Decimal("0.00171") and first.cost_source is CostSource.PRICE_BOOK
    assert (first.customer, first.team_id, first.owner_customer) == ("c1", "t1", "o1")
    assert first.price_ref == PRICE.ref
    assert second.cost == Decimal("0.25") and second.cost_source is CostSource.PROVIDER
    assert second.team_id == "" and "unbound_key" in second.flags


def test_unpriced_events_are_counted_and_duplicates_are_not_enriched():
    enricher = _enricher()
    seen = SeenIndex(timedelta(hours=1))
    event = usage_event(api_key_id="k1", provider="acme", model="nope", occurred_at=NOW)
    first = _process(enricher, [event], 0, seen)
    again = _process(enricher, [event], 1, seen)
    assert len(first.enriched) == 1 and again.enriched == [] and again.duplicates == [event]
    assert first.seen_entry is not None and again.seen_entry is None
    counts = enricher.counts
    assert (counts.unpriced, counts.enriched, counts.duplicates) == (1, 1, 1)


def test_large_output_is_split_into_bounded_arrays_in_order():
    items = [b'{"n":%d,"pad":"%s"}' % (i, b"x" * 100) for i in range(50)]
    chunks = chunk_encoded(items, 1000)
    assert len(chunks) > 1 and all(len(c) <= 1000 for c in chunks)
    assert [e for c in chunks for e in orjson.loads(c)] == [orjson.loads(i) for i in items]
    assert chunk_encoded(items[:3], 1 << 20) == [join_encoded(items[:3])]
    assert chunk_encoded([], 1000) == []


def test_marks_order_records_then_chunks():
    assert parse_mark(format_mark(41, 2)) == (41, 2)
    assert parse_mark(b"41") == (41, 0)
    assert (41, 3) > parse_mark(format_mark(41, 2)) > (40, 9) > NO_MARK
