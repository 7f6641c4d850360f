"""Insert payloads: the Arrow columns hold exactly the values of the rows, whichever decode path
(strings from the fast path, Decimal/datetime from the model) built them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterline.bench.data import enriched_events
from schemas.codec import encode_batch
from sinks.encoding import ArrowRows, Col, encode_rows
from sinks.fast_usage import as_python, fast_usage_rows
from sinks.rows import USAGE, usage_row

EVENTS = enriched_events(40)


def _read(payload: bytes) -> pa.Table:
    return pa.ipc.open_stream(payload).read_all()


def _as_rows(table: pa.Table) -> list[list]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [list(row) for row in zip(*columns, strict=True)]


def _stored(row: list) -> list:
    """What an Arrow column gives back for a model row: money as Decimal at scale 12 (equal
    value), timestamps as UTC datetimes."""
    return [v.astimezone(UTC) if isinstance(v, datetime) else v for v in row]


def test_usage_rows_from_both_paths_encode_to_the_same_values():
    model_rows = [usage_row(e) for e in EVENTS]
    fast_rows = fast_usage_rows(encode_batch(EVENTS))
    assert fast_rows is not None
    encoder = USAGE.encoder
    assert encoder.fmt == "ArrowStream"
    from_model = _as_rows(_read(encoder.encode(model_rows)))
    from_fast = _as_rows(_read(encoder.encode(fast_rows)))
    assert from_model == from_fast == [_stored(as_python(r)) for r in fast_rows]
    assert _read(encoder.encode(model_rows)).column_names == list(USAGE.columns)


def test_mixed_paths_in_one_batch_offsets_normalised_to_utc_and_floored_to_ms():
    encoder = ArrowRows([("at", Col.TIMESTAMP), ("money", Col.MONEY)])
    rows = [
        ["2026-10-31T23:30:00.123456-05:00", "0.000000000001"],
        [datetime(2026, 11, 1, 4, 30, tzinfo=UTC), Decimal("12345678901234567890123456.5")],
        [datetime(2026, 11, 1, 6, 0, tzinfo=timezone(timedelta(hours=2))), None],
        ["2026-11-01T04:30:00Z", 7],
        ["1969-12-31T23:59:59.9995Z", "-0.5"],
    ]
    got = _as_rows(_read(encoder.encode(rows)))
    assert got == [
        [datetime(2026, 11, 1, 4, 30, 0, 123000, tzinfo=UTC), Decimal("1E-12")],
        [datetime(2026, 11, 1, 4, 30, tzinfo=UTC), Decimal("12345678901234567890123456.5")],
        [datetime(2026, 11, 1, 4, 0, tzinfo=UTC), None],
        [datetime(2026, 11, 1, 4, 30, tzinfo=UTC), Decimal(7)],
        [datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), Decimal("-0.5")],
    ]


@pytest.mark.parametrize(
    "row",
    [
        ["2026-10-01T00:00:00Z", "0.0000000000001"],  # 13 places: never rounded away
        ["2026-10-01T00:00:00", "1"],  # no offset: not a UTC instant
        [datetime(2026, 10, 1), "1"],  # naive datetime
        ["2026-10-01T00:00:00Z", 1.5],  # float money
        ["2026-10-01T00:00:00Z", "1" * 27],  # out of Decimal(38, 12)
        ["2026-10-01T00:00:00Z"],  # short row
    ],
)
def test_unencodable_values_are_data_errors(row):
    encoder = ArrowRows([("at", Col.TIMESTAMP), ("money", Col.MONEY)])
    with pytest.raises(ValueError):
        encoder.encode([["2026-10-01T00:00:00Z", "1"], row])


def test_empty_batch_encodes_to_an_empty_stream():
    assert _read(USAGE.encoder.encode([])).num_rows == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**38 - 1),
            st.integers(min_value=-12, max_value=0),
            st.booleans(),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_money_is_exact_as_string_or_decimal(values):
    pairs = [(Decimal(digits).scaleb(exp), as_text) for digits, exp, as_text in values]
    pairs = [(a, as_text) for a, as_text in pairs if abs(a) < Decimal(10) ** 26]
    if not pairs:
        return
    amounts = [a for a, _ in pairs]
    encoder = ArrowRows([("money", Col.MONEY)])
    rows = [[format(a, "f") if as_text else a] for a, as_text in pairs]
    got = [row[0] for row in _as_rows(_read(encoder.encode(rows)))]
    assert got == amounts


def test_json_rows_keep_decimals_exact():
    assert orjson.loads(encode_rows([["a", Decimal("0.000000000001")]])) == ["a", "0.000000000001"]
