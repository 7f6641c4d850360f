"""The fast row path accepts only what the EnrichedUsage model accepts, with the same row."""

from __future__ import annotations

import copy
import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from meterline.bench.data import enriched_events
from schemas.codec import encode_one
from schemas.usage import EnrichedUsage
from sinks.fast_usage import as_python, fast_usage_row, fast_usage_rows
from sinks.rows import usage_row

BASE = [orjson.loads(encode_one(e)) for e in enriched_events(8)]

FIELDS = sorted({k for e in BASE for k in e} | {"tokens.input", "tokens.reasoning", "bogus"})

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.sampled_from([
        "", "0.1", "1e3", "-1", "007", "12.1234567890123", "2026-13-01T00:00:00Z",
        "2026-10-01T00:00:00", "2026-10-01T00:00:00+05:30", "20261001T000000Z", "customer:",
        "Customer:x", "customer: ", "a:b\n", "success", "unpriced", "USD", "usd", " key",
        "k" * 129, "2026-10-01 00:00:00Z", "9" * 27, "2026-02-29T00:00:00Z", "2028-02-29T23:59:59Z",
        "2026-10-01T24:00:00Z", "2026-10-01T00:60:00Z", "2026-10-01T00:00:00+24:00",
        "\u0662026-10-01T00:00:00Z", "2026-10-01T00:00:00.1234567Z",
    ]),
    st.lists(st.text(max_size=20), max_size=40),
    st.dictionaries(st.text(max_size=12), st.integers(-5, 5), max_size=6),
)  # fmt: skip


def _model_row(element):
    try:
        return usage_row(EnrichedUsage.model_validate(element))
    except ValidationError:
        return None


def test_canonical_events_take_the_fast_path_with_the_model_row():
    for element in BASE:
        assert fast_usage_row(element) == _model_row(element)
        assert fast_usage_row(element) is not None


@settings(max_examples=400, deadline=None)
@given(
    base=st.sampled_from(BASE),
    changes=st.lists(st.tuples(st.sampled_from(FIELDS), JUNK | st.just(KeyError)), max_size=3),
)
def test_fast_path_never_accepts_more_than_the_model(base, changes):
    element = copy.deepcopy(base)
    for field, value in changes:
        target, key = element, field
        if field.startswith("tokens."):
            target, key = element.setdefault("tokens", {}), field.split(".", 1)[1]
            if not isinstance(target, dict):
                continue
        if value is KeyError:
            target.pop(key, None)
        else:
            target[key] = value
    fast = fast_usage_row(element)
    if fast is not None:
        assert fast == _model_row(element)
    whole = fast_usage_rows(json.dumps([BASE[0], element]).encode())
    if whole is not None:
        assert as_python(whole[1]) == _model_row(element)


def test_whole_record_path_matches_the_model_or_declines():
    rows = fast_usage_rows(orjson.dumps(BASE))
    assert rows is not None
    assert [as_python(r) for r in rows] == [_model_row(e) for e in BASE]
    assert fast_usage_rows(orjson.dumps([*BASE, {"event_id": "x"}])) is None
    assert fast_usage_rows(b"[{") is None
