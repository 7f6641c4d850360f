from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from meterline.bench.enforce_stats import max_in_window, max_overlap, percentile


def test_max_in_window_is_half_open() -> None:
    assert max_in_window([0, 30, 59.9, 60, 119.95], 60) == 3
    assert max_in_window([0, 60, 120], 60) == 1
    assert max_in_window([], 60) == 0


@given(st.lists(st.floats(min_value=0, max_value=300, allow_nan=False), max_size=60))
def test_max_in_window_matches_brute_force(times: list[float]) -> None:
    brute = max((sum(1 for t in times if a - 60 < t <= a) for a in times), default=0)
    assert max_in_window(times, 60) == brute


def test_max_overlap_frees_before_it_starts() -> None:
    assert max_overlap([(0, 1), (1, 2), (2, 3)]) == 1
    assert max_overlap([(0, 5), (1, 2), (1.5, 3)]) == 3
    assert percentile([1, 2, 3, 4], 0.5) == 3 and percentile([], 0.99) == 0
