from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.budgets import BudgetWindow
from stream.budget_windows import (
    BUCKET_SECONDS,
    WINDOW_SECONDS,
    bucket_start,
    leaves_window_at,
    month_start,
    next_month_start,
    previous_month_start,
    window_bounds,
)


def ts(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (ts(2026, 1, 31, 23, 59, 59), ts(2026, 1, 1), ts(2026, 2, 1)),
        (ts(2026, 2, 1), ts(2026, 2, 1), ts(2026, 3, 1)),
        (ts(2026, 12, 15), ts(2026, 12, 1), ts(2027, 1, 1)),
        (ts(2028, 2, 29, 12), ts(2028, 2, 1), ts(2028, 3, 1)),
    ],
)
def test_calendar_month_bounds_roll_over_in_utc(now: int, start: int, end: int) -> None:
    assert window_bounds(BudgetWindow.MONTH, now) == (start, end)


def test_previous_month_crosses_the_year() -> None:
    assert previous_month_start(ts(2027, 1, 3)) == ts(2026, 12, 1)
    assert next_month_start(ts(2026, 12, 31, 23)) == ts(2027, 1, 1)


@pytest.mark.parametrize("window", list(WINDOW_SECONDS))
def test_rolling_window_is_its_length_of_whole_buckets(window: BudgetWindow) -> None:
    now = ts(2026, 3, 10, 13, 7, 31)
    start, end = window_bounds(window, now)
    assert end - start == WINDOW_SECONDS[window]
    assert start <= now < end
    assert start % BUCKET_SECONDS[window] == 0


def test_bucket_boundaries_are_half_open() -> None:
    hour = BudgetWindow.ROLLING_1H
    assert bucket_start(hour, ts(2026, 1, 1, 10, 0, 59)) == ts(2026, 1, 1, 10, 0)
    assert bucket_start(hour, ts(2026, 1, 1, 10, 1, 0)) == ts(2026, 1, 1, 10, 1)


@given(
    window=st.sampled_from(list(WINDOW_SECONDS)),
    bucket_offset=st.integers(min_value=0, max_value=40 * 86400),
    later=st.integers(min_value=0, max_value=40 * 86400),
)
def test_a_bucket_counts_until_it_leaves_the_window(
    window: BudgetWindow, bucket_offset: int, later: int
) -> None:
    bucket = bucket_start(window, ts(2026, 1, 1) + bucket_offset)
    now = bucket + later
    start, end = window_bounds(window, now)
    assert (start <= bucket < end) == (now < leaves_window_at(window, bucket))


@given(st.integers(min_value=ts(2000, 1, 1), max_value=ts(2100, 1, 1)))
def test_month_buckets_align_with_months(at: int) -> None:
    assert month_start(bucket_start(BudgetWindow.MONTH, at)) == month_start(at)
    assert month_start(at) <= at < next_month_start(at)
