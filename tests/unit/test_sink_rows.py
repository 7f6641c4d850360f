"""Decoding record values into rows and dead letters; the batch buffer; dedup tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from meterline.bench.data import enriched_events
from schemas.codec import encode_batch, encode_one
from schemas.dead_letters import ErrorKind
from sinks.buffer import BatchBuffer, dedup_token, unique_by_key
from sinks.fast_usage import as_python
from sinks.rows import ALERTS, USAGE, Origin, decode_record, rejected_dead_letter, usage_row

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def test_valid_batch_becomes_rows_in_column_order():
    events = enriched_events(5)
    got = decode_record(USAGE, "t", 2, 40, encode_batch(events), NOW)
    assert got.dead_letters == []
    assert [as_python(i.row) for i in got.items] == [usage_row(e) for e in events]
    assert [i.origin for i in got.items] == [Origin("t", 2, 40, i) for i in range(5)]
    assert len(got.items[0].row) == len(USAGE.columns)


def test_single_object_record_is_accepted():
    event = enriched_events(1)[0]
    got = decode_record(USAGE, "t", 0, 1, encode_one(event), NOW)
    assert [as_python(i.row) for i in got.items] == [usage_row(event)]


def test_one_bad_element_dead_letters_alone_with_reason():
    events = enriched_events(3)
    elements = [orjson.loads(encode_one(e)) for e in events]
    elements[1]["cost"] = 0.1  # a float: money must never be a float
    got = decode_record(USAGE, "t", 0, 7, orjson.dumps(elements), NOW)
    assert [i.key for i in got.items] == [events[0].event_id, events[2].event_id]
    [letter] = got.dead_letters
    assert letter.error_kind is ErrorKind.SCHEMA
    assert letter.index_in_record == 1
    assert letter.event_id == events[1].event_id
    assert "cost" in letter.reason and "float" in letter.reason
    assert letter.dead_letter_id == "sink:t:0:7:1"
    assert orjson.loads(letter.raw)["cost"] == 0.1


@pytest.mark.parametrize("value", [b"\xff\xfe not json", b"{", b""])
def test_undecodable_record_is_one_dead_letter(value):
    got = decode_record(USAGE, "t", 1, 9, value, NOW)
    assert got.items == []
    [letter] = got.dead_letters
    assert letter.error_kind is ErrorKind.DECODE
    assert (letter.partition, letter.offset, letter.index_in_record) == (1, 9, -1)
    assert letter.raw == value


def test_alert_decoding_uses_the_model():
    raw = {
        "alert_id": "a-1", "policy_id": "p-1", "scope": "key", "subject": "key-1",
        "threshold": "80", "spend": "8.5", "limit": "10", "unit": "usd", "window": "24h",
        "window_start": "2026-11-01T00:00:00Z", "action": "block", "event_id": "e-1",
        "occurred_at": "2026-11-01T01:00:00Z", "emitted_at": "2026-11-01T01:00:01Z",
    }  # fmt: skip
    got = decode_record(ALERTS, "alerts", 0, 0, orjson.dumps(raw), NOW)
    [item] = got.items
    assert item.key == "a-1"
    assert item.row[4:7] == [Decimal("80"), Decimal("8.5"), Decimal("10")]


def test_rejected_dead_letter_keeps_the_event():
    event = enriched_events(1)[0]
    [item] = decode_record(USAGE, "t", 3, 5, encode_batch([event]), NOW).items
    letter = rejected_dead_letter(item, "Code: 469. constraint", NOW)
    assert letter.error_kind is ErrorKind.SINK_REJECTED
    assert letter.event_id == event.event_id
    assert orjson.loads(letter.raw)["event_id"] == event.event_id
    assert letter.dead_letter_id == "sink:t:3:5:0"


def _items(n, offset=0):
    return decode_record(USAGE, "t", 0, offset, encode_batch(enriched_events(n)), NOW).items


def test_buffer_flushes_on_rows_or_age_and_tracks_offsets():
    buffer = BatchBuffer(max_rows=10, max_seconds=1.0)
    assert not buffer.due(100.0)
    buffer.add("t", 0, 5, 100.0, usage=_items(4))
    buffer.add("t", 1, 9, 100.2, usage=_items(4))
    assert not buffer.due(100.5)
    assert buffer.due(101.0)  # oldest message is 1 s old
    buffer.add("t", 0, 6, 100.6, usage=_items(4))
    assert buffer.due(100.6)  # 12 messages >= 10
    batch = buffer.drain()
    assert batch.offsets == {("t", 0): (5, 6), ("t", 1): (9, 9)}
    assert batch.commit_offsets() == {("t", 0): 7, ("t", 1): 10}
    assert buffer.empty and not buffer.due(1000.0)


def test_unique_by_key_keeps_first_and_skips_seen():
    items = _items(3) + _items(3)
    kept = unique_by_key(items, seen={items[0].key})
    assert [i.key for i in kept] == [items[1].key, items[2].key]


def test_dedup_token_is_deterministic_and_content_sensitive():
    a = dedup_token("usage_events", "t:0:1-5", ["e1", "e2"])
    assert a == dedup_token("usage_events", "t:0:1-5", ["e1", "e2"])
    assert a != dedup_token("usage_events", "t:0:1-5", ["e1"])
    assert a != dedup_token("usage_events", "t:0:1-6", ["e1", "e2"])
    assert a != dedup_token("dead_letters", "t:0:1-5", ["e1", "e2"])
