from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from producers.batching import plan_records


def test_groups_by_key_and_keeps_order() -> None:
    items = [("a", b'{"n":1}'), ("b", b'{"n":2}'), ("a", b'{"n":3}')]
    records = plan_records(items, max_events=10, max_bytes=10_000)
    assert [(r.key, json.loads(r.value)) for r in records] == [
        (b"a", [{"n": 1}, {"n": 3}]),
        (b"b", [{"n": 2}]),
    ]
    assert records[0].lines == [b'a\t{"n":1}', b'a\t{"n":3}']


def test_bounds_by_count_and_bytes() -> None:
    items = [("k", b'{"x":"' + b"y" * 90 + b'"}') for _ in range(25)]
    by_count = plan_records(items, max_events=10, max_bytes=1_000_000)
    assert [r.count for r in by_count] == [10, 10, 5]
    by_bytes = plan_records(items, max_events=1000, max_bytes=1024)
    assert all(len(r.value) <= 1024 for r in by_bytes)
    assert sum(r.count for r in by_bytes) == 25


def test_single_oversized_event_still_gets_a_record() -> None:
    big = b'{"x":"' + b"z" * 5000 + b'"}'
    records = plan_records([("k", big)], max_events=10, max_bytes=1024)
    assert len(records) == 1 and records[0].count == 1


@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 10**6)), max_size=200),
    st.integers(1, 20),
    st.integers(64, 2000),
)
def test_every_event_lands_in_exactly_one_record(pairs, max_events, max_bytes) -> None:
    items = [(k, json.dumps({"id": i, "n": n}).encode()) for i, (k, n) in enumerate(pairs)]
    records = plan_records(items, max_events, max_bytes)
    seen = [item["id"] for r in records for item in json.loads(r.value)]
    assert sorted(seen) == list(range(len(items)))
    for r in records:
        assert r.count <= max_events
        keys = {k for k, _ in items if k.encode() == r.key}
        assert keys == {r.key.decode()}
