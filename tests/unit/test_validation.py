"""Validation of raw records: per-event dead letters, deterministic ids, nothing raises."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st

from producers.events import usage_event
from schemas.codec import encode_batch, encode_one
from schemas.dead_letters import ErrorKind
from stream.validation import MAX_KEPT_RAW_BYTES, SourcePosition, parse_record

NOW = datetime(2025, 1, 1, tzinfo=UTC)
POS = SourcePosition("meterline.usage.raw", 2, 41)


def _parse(value, max_bytes=1_000_000):
    return parse_record(value, key="k1", position=POS, received_at=NOW, max_record_bytes=max_bytes)


def _event(**kw):
    return usage_event(api_key_id="k1", provider="openai", model="gpt-4o", **kw)


def _element(**changes) -> dict:
    element = orjson.loads(encode_one(_event()))
    element.update(changes)
    return element


def test_batch_and_single_object_are_both_accepted():
    events = [_event(), _event()]
    assert _parse(encode_batch(events)).events == events
    assert _parse(encode_one(events[0])).events == events[:1]


def test_one_bad_event_does_not_take_the_batch_down():
    good = _event()
    bad = _element(event_id="bad-1", tokens={"input": -3})
    result = _parse(b"[" + encode_one(good) + b"," + orjson.dumps(bad) + b"]")
    assert result.events == [good]
    [dead] = result.dead_letters
    assert dead.dead_letter_id == "meterline.usage.raw/2/41/1"
    assert (dead.error_kind, dead.event_id, dead.index_in_record) == (ErrorKind.SCHEMA, "bad-1", 1)
    assert "tokens.input" in dead.reason
    assert orjson.loads(dead.raw) == bad
    assert (dead.partition, dead.offset, dead.api_key_id) == (2, 41, "k1")


def test_naive_datetime_and_absurd_tokens_are_schema_errors():
    naive = _element(occurred_at="2025-01-01T00:00:00")
    absurd = _element(tokens={"input": 10**12})
    result = _parse(orjson.dumps([naive, absurd]))
    assert [d.error_kind for d in result.dead_letters] == [ErrorKind.SCHEMA, ErrorKind.SCHEMA]
    assert "naive" in result.dead_letters[0].reason


def test_undecodable_bytes_are_a_whole_record_decode_error():
    [dead] = _parse(b"\xff\x00garbage").dead_letters
    assert dead.error_kind is ErrorKind.DECODE
    assert dead.dead_letter_id.endswith("/-1") and dead.raw == b"\xff\x00garbage"


def test_unknown_schema_version():
    result = _parse(orjson.dumps([_element(schema_version=2), _element()]))
    assert len(result.events) == 1
    assert result.dead_letters[0].error_kind is ErrorKind.UNSUPPORTED_VERSION


def test_single_object_error_keeps_the_record_bytes():
    value = orjson.dumps(_element(schema_version="9"))
    [dead] = _parse(value).dead_letters
    assert dead.error_kind is ErrorKind.UNSUPPORTED_VERSION and dead.raw == value


def test_oversized_record():
    value = encode_batch([_event() for _ in range(20)])
    [dead] = _parse(value, max_bytes=len(value) - 1).dead_letters
    assert dead.error_kind is ErrorKind.OVERSIZED and str(len(value)) in dead.reason


def test_null_value_and_non_event_json():
    assert _parse(None).dead_letters[0].error_kind is ErrorKind.DECODE
    assert _parse(b"42").dead_letters[0].error_kind is ErrorKind.SCHEMA
    assert [d.index_in_record for d in _parse(b'[1, "x", null]').dead_letters] == [0, 1, 2]


def test_ids_are_deterministic_in_the_position():
    value = orjson.dumps([_element(tokens={"output": -1})])
    assert _parse(value).dead_letters == _parse(value).dead_letters


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(value):
    result = _parse(value)
    assert all(
        d.reason and d.dead_letter_id.startswith("meterline.usage.raw/2/41/")
        for d in result.dead_letters
    )


def test_raw_kept_in_a_dead_letter_is_capped():
    huge = b"\xff" + b"x" * (MAX_KEPT_RAW_BYTES * 2)
    [dead] = _parse(huge, max_bytes=len(huge) + 1).dead_letters
    assert len(dead.raw) == MAX_KEPT_RAW_BYTES and "raw cut" in dead.reason
    element = _element(event_id="big", gateway="g" * (MAX_KEPT_RAW_BYTES + 10))
    [dead] = _parse(orjson.dumps([element])).dead_letters
    assert len(dead.raw) == MAX_KEPT_RAW_BYTES and dead.event_id == "big"
