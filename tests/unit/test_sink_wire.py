"""The query endpoint's JSON keeps every value and its type."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinks import wire

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**255), max_value=2**256),
    st.floats(allow_nan=False),
    st.text(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.uuids(),
    st.binary(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(), st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


def _same(a, b):
    assert type(a) is type(b)
    if isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, Decimal):
        assert str(a) == str(b)
    elif isinstance(a, datetime):
        assert a == b and a.utcoffset() == b.utcoffset()
    else:
        assert a == b


@given(VALUES)
def test_round_trip_through_json_keeps_value_and_type(value):
    _same(wire.decode(json.loads(json.dumps(wire.encode(value)))), value)


@pytest.mark.parametrize(
    "value",
    [
        Decimal("0.000000000001"),
        Decimal("123456789012345678901234567.123456789012"),
        datetime(2026, 11, 1, 12, 30, 0, 123000),
        datetime(2026, 11, 1, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2026, 11, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        date(2026, 2, 28),
        float("nan"),
        float("inf"),
        IPv4Address("10.0.0.1"),
        IPv6Address("::1"),
        UUID(int=7),
        {"a": [1, (2, "x")], 3: None},
    ],
)
def test_round_trip_examples(value):
    back = wire.decode(json.loads(json.dumps(wire.encode(value))))
    if isinstance(value, float) and value != value:
        assert back != back
    else:
        _same(back, value)
    if isinstance(value, datetime) and isinstance(value.tzinfo, ZoneInfo):
        assert back.tzinfo == value.tzinfo


def test_unsupported_type_is_a_typed_error():
    with pytest.raises(wire.WireError, match="set"):
        wire.encode({1, 2})
