"""Window arithmetic of budgets: time buckets, rolling and calendar-month windows (pure).

Times are whole epoch seconds (UTC). A rolling window of length ``W`` with bucket size ``B`` at
time ``now`` covers the ``W / B`` buckets ending with the one that holds ``now``; so its spend is
exact to one bucket (it may include up to ``B`` seconds more than ``W``). A ``month`` window is
the calendar month in UTC that holds ``now``, built from day buckets, which align with month
boundaries.
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.budgets import BudgetWindow

__all__ = [
    "BUCKET_SECONDS",
    "WINDOW_SECONDS",
    "bucket_start",
    "leaves_window_at",
    "month_start",
    "next_month_start",
    "previous_month_start",
    "to_datetime",
    "window_bounds",
]

BUCKET_SECONDS: dict[BudgetWindow, int] = {
    BudgetWindow.ROLLING_1H: 60,
    BudgetWindow.ROLLING_24H: 300,
    BudgetWindow.ROLLING_7D: 3600,
    BudgetWindow.ROLLING_30D: 4 * 3600,
    BudgetWindow.MONTH: 86400,
}
"""Bucket size per window: at most ~288 buckets per policy, so a state write stays small."""

WINDOW_SECONDS: dict[BudgetWindow, int] = {
    BudgetWindow.ROLLING_1H: 3600,
    BudgetWindow.ROLLING_24H: 86400,
    BudgetWindow.ROLLING_7D: 7 * 86400,
    BudgetWindow.ROLLING_30D: 30 * 86400,
}
"""Length of each rolling window; ``month`` has none (calendar months differ)."""


def to_datetime(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


def bucket_start(window: BudgetWindow, at: int) -> int:
    """Start of the bucket of ``window`` that holds epoch second ``at``."""
    size = BUCKET_SECONDS[window]
    return at - at % size


def month_start(at: int) -> int:
    moment = to_datetime(at)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp())


def next_month_start(at: int) -> int:
    moment = to_datetime(at)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def previous_month_start(at: int) -> int:
    return month_start(month_start(at) - 1)


def window_bounds(window: BudgetWindow, now: int) -> tuple[int, int]:
    """``(start, end)`` in epoch seconds of the window instance at ``now``; buckets with
    ``start <= bucket < end`` count."""
    if window is BudgetWindow.MONTH:
        return month_start(now), next_month_start(now)
    size = BUCKET_SECONDS[window]
    current = bucket_start(window, now)
    return current + size - WINDOW_SECONDS[window], current + size


def leaves_window_at(window: BudgetWindow, bucket: int) -> int:
    """The first second at which bucket ``bucket`` no longer counts in the window."""
    if window is BudgetWindow.MONTH:
        return next_month_start(bucket)
    return bucket + WINDOW_SECONDS[window]
