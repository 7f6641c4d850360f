"""Dedupe memory: duplicates across records, replays of the same record, the horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from stream.dedupe import SeenEntry, SeenIndex

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _index(hours: float = 48, max_events: int = 1_000_000) -> SeenIndex:
    return SeenIndex(horizon=timedelta(hours=hours), max_events=max_events)


def _record(index: SeenIndex, partition: int, position: str, ids: list[str], at=T0):
    new, duplicates = index.split(position, ids, str)
    if new:
        index.add(partition, position, SeenEntry(tuple(new), at))
    return new, duplicates


def test_event_seen_in_an_earlier_record_is_a_duplicate():
    index = _index()
    assert _record(index, 0, "0/1", ["a", "b"]) == (["a", "b"], [])
    assert _record(index, 0, "0/2", ["b", "c"]) == (["c"], ["b"])


def test_replay_of_the_same_record_is_not_a_duplicate():
    index = _index()
    _record(index, 0, "0/1", ["a", "b"])
    assert index.split("0/1", ["a", "b"], str) == (["a", "b"], [])


def test_copy_inside_one_record_counts_once():
    assert _record(_index(), 0, "0/1", ["a", "a", "b"]) == (["a", "b"], ["a"])


def test_entries_expire_after_the_horizon_and_are_returned_for_deletion():
    index = _index(hours=1)
    _record(index, 0, "0/1", ["a"], at=T0)
    _record(index, 0, "0/2", ["b"], at=T0 + timedelta(minutes=30))
    assert index.expire(0, T0 + timedelta(minutes=59)) == []
    assert index.expire(0, T0 + timedelta(minutes=61)) == ["0/1"]
    assert len(index) == 1
    # Past the horizon the id is new again (the sink's ReplacingMergeTree collapses it).
    assert index.split("0/9", ["a", "b"], str) == (["a"], ["b"])


def test_expiry_is_per_partition():
    index = _index(hours=1)
    _record(index, 0, "0/1", ["a"])
    _record(index, 1, "1/1", ["b"])
    assert index.expire(1, T0 + timedelta(hours=2)) == ["1/1"]
    assert index.split("0/5", ["a"], str) == ([], ["a"])


def test_memory_is_bounded_by_max_events():
    index = _index(max_events=1000)
    for n in range(30):
        _record(index, 0, f"0/{n}", [f"{n}-{i}" for i in range(100)])
        index.expire(0, T0)
    assert len(index) <= 1000


def test_recovery_load_is_idempotent_and_revoke_forgets():
    index = _index()
    entry = SeenEntry(("a", "b"), T0)
    index.add(0, "0/1", entry)
    index.add(0, "0/1", entry)
    assert len(index) == 2
    index.drop_partition(0)
    assert len(index) == 0 and index.split("0/7", ["a"], str) == (["a"], [])


@given(st.lists(st.lists(st.integers(0, 30), max_size=8), max_size=20))
def test_every_id_is_new_exactly_once(records):
    index = _index()
    emitted: list[str] = []
    for offset, ids in enumerate(records):
        new, _ = _record(index, 0, f"0/{offset}", [str(i) for i in ids])
        emitted.extend(new)
    assert sorted(emitted) == sorted({str(i) for ids in records for i in ids})
