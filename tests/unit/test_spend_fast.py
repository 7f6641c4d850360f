"""The budget agent's fast decode reads what the pydantic path reads: same events, same values, the
same deltas; it never accepts a record the model path refuses, and declines what is unusual."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.budgets import BudgetScope
from schemas.codec import encode_batch
from schemas.usage import EnrichedUsage
from stream.budget_deltas import _FAST, aggregate_record, decode_enriched
from stream.spend_fast import SpendRow, decode_spend
from tests.unit._enriched import enriched_event

T0 = datetime(2026, 6, 1, 9, 0, 10, 250_000, tzinfo=UTC)


def _event(i: int, **fields: str) -> EnrichedUsage:
    return enriched_event(i, at=T0, input_tokens=10 + i, **fields)


def _view(row: object) -> tuple:
    """What aggregation reads of an event, from either path."""
    at = row.at if isinstance(row, SpendRow) else int(row.occurred_at.timestamp())  # type: ignore[attr-defined]
    cost = row.usd if isinstance(row, SpendRow) else row.cost  # type: ignore[attr-defined]
    return (row.event_id, at, row.api_key_id, row.team_id, row.owner_customer,  # type: ignore[attr-defined]
            row.customer, str(cost), row.tokens.total)  # type: ignore[attr-defined]  # fmt: skip


def _model_path(data: bytes) -> list[tuple] | None:
    try:
        return [_view(v) for v in _FAST.validate_json(data)]
    except ValidationError:
        return None


def test_records_the_stream_writes_take_the_fast_path_with_the_same_values() -> None:
    events = [
        _event(1, team="ml", owner="acme"),
        _event(2, cost="0.000000000001", customer="unattributed"),
        enriched_event(3, cost="12.5", at=datetime(2026, 6, 1, 23, 59, 59, tzinfo=UTC)),
    ]
    data = encode_batch(events)
    rows = decode_spend(data)
    assert rows is not None
    assert [_view(r) for r in rows] == _model_path(data)
    assert rows[2].at == int(datetime(2026, 6, 1, 23, 59, 59, tzinfo=UTC).timestamp())


def test_the_deltas_are_the_same_on_both_paths() -> None:
    events = [_event(i, key="k1", owner="acme", customer=f"c{i % 3}") for i in range(30)]
    data = encode_batch(events)
    fast, dead = decode_enriched(data, topic="t", partition=0, offset=4, now=T0)
    assert not dead and all(isinstance(e, SpendRow) for e in fast)

    def has_policy(scope: BudgetScope, subject: str) -> bool:
        return scope is not BudgetScope.TAG_CUSTOMER or subject == "c1"

    slow = list(_FAST.validate_json(data))
    assert aggregate_record(fast, has_policy, source="0", offset=4) == aggregate_record(
        slow, has_policy, source="0", offset=4
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "2026-06-01T09:00:10+00:00"),  # valid, not how the stream writes it
        ("occurred_at", "2026-06-01T09:00:10.000000Z"),
        ("occurred_at", "2026-02-30T09:00:10Z"),  # no such day
        ("cost", 0.25),  # a number: the model reads it, this path leaves it to the model
        ("cost", "1e3"),
        ("cost", "-1"),
        ("cost", "NaN"),
        ("event_id", ""),
        ("tokens", {"input": -1}),
        ("tokens", {"input": 1.0}),
        ("api_key_id", None),
    ],
)
def test_declines_what_is_unusual_or_invalid(field: str, value: object) -> None:
    element = orjson.loads(encode_batch([_event(1)]))[0]
    element[field] = value
    assert decode_spend(orjson.dumps([element])) is None


_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**20), st.floats(allow_nan=True),
    st.sampled_from(["", "x", "0", "0.5", "01.5", "1.", " 1", "5e-3", "-0", "2026-06-01T09:00:10Z",
                     "2026-06-01T09:00:10.123456Z", "2026-06-01T09:00:10.1234567Z",
                     "2026-06-01T24:00:00Z", "2026-06-01 09:00:10Z", "2026-06-01T09:00:10z",
                     "2026-06-01T09:00:10", "k\n", "unattributed"]),
    st.dictionaries(st.sampled_from(["input", "output", "cache_read", "other"]),
                    st.one_of(st.integers(-2, 10**19), st.floats(), st.text(max_size=2)),
                    max_size=3),
)  # fmt: skip
_FIELDS = ["event_id", "occurred_at", "api_key_id", "team_id", "owner_customer", "customer",
           "cost", "tokens", "extra"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=3)
        | st.sampled_from(["drop:cost", "drop:occurred_at", "drop:tokens", "drop:team_id"]),
        min_size=1,
        max_size=4,
    )
)
def test_never_accepts_what_the_model_refuses_and_reads_the_same(changes: list) -> None:
    elements = []
    for i, change in enumerate(changes):
        element = orjson.loads(encode_batch([_event(i, owner="o")]))[0]
        if isinstance(change, str):
            element.pop(change.split(":")[1])
        else:
            element.update(change)
        elements.append(element)
    data = json.dumps(elements).encode()  # big integers and NaN too, which orjson will not write
    rows = decode_spend(data)
    if rows is not None:
        assert [_view(r) for r in rows] == _model_path(data)
