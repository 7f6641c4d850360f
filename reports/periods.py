"""Billing periods and date ranges as half-open UTC intervals ``[start, end)``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from reports.errors import InvalidPeriodError

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "TimeRange",
    "date_range",
    "month_period",
    "resolve_month",
    "resolve_range",
]

FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2299, 12, 30)
"""Days a report can cover: the stored timestamps (``DateTime64``) end on 2299-12-31."""

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``start <= occurred_at < end``, both UTC. ``label`` names it in output."""

    start: datetime
    end: datetime
    label: str


def month_period(period: str) -> TimeRange:
    """The calendar month ``YYYY-MM`` in UTC; raises ``InvalidPeriodError`` otherwise."""
    match = _PERIOD.match(period.strip())
    if not match:
        raise InvalidPeriodError(f"period {period!r} must look like YYYY-MM, e.g. 2026-11")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise InvalidPeriodError(f"period {period!r} is not a calendar month")
    if not FIRST_DAY.year <= year <= LAST_DAY.year or (year, month) == (LAST_DAY.year, 12):
        raise InvalidPeriodError(
            f"period {period!r} is out of range: months from {FIRST_DAY:%Y-%m} to 2299-11"
        )
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return TimeRange(start, end, f"{year:04d}-{month:02d}")


def date_range(first: date, last: date) -> TimeRange:
    """Whole UTC days ``first`` through ``last``, both included."""
    if last < first:
        raise InvalidPeriodError(f"--to {last} is before --from {first}")
    for day in (first, last):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise InvalidPeriodError(f"{day} is out of range: days from {FIRST_DAY} to {LAST_DAY}")
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return TimeRange(start, end, f"{first.isoformat()}..{last.isoformat()}")


_NAMED = ("this-month", "last-month")


def resolve_month(period: str | None, today: date) -> TimeRange:
    """``YYYY-MM``, ``this-month`` or ``last-month`` (relative to ``today``, UTC); ``None`` is
    this month."""
    text = (period or "this-month").strip().lower()
    if text == "this-month":
        return month_period(f"{today.year:04d}-{today.month:02d}")
    if text == "last-month":
        year, month = (today.year - 1, 12) if today.month == 1 else (today.year, today.month - 1)
        return month_period(f"{year:04d}-{month:02d}")
    try:
        return month_period(text)
    except InvalidPeriodError as exc:
        raise InvalidPeriodError(f"{exc} (or this-month, last-month)") from None


def resolve_range(
    period: str | None, first: date | None, last: date | None, today: date
) -> TimeRange:
    """The range a report covers: ``--from``/``--to`` (``--to`` defaults to ``today``,
    ``--from`` to the first of ``--to``'s month), else ``--period`` (see ``resolve_month``),
    else this month. ``--period`` with ``--from``/``--to`` is an error."""
    if first is None and last is None:
        return resolve_month(period, today)
    if period is not None:
        raise InvalidPeriodError("give either --period or --from/--to, not both")
    last = last or today
    first = first or last.replace(day=1)
    return date_range(first, last)
