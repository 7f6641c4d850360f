"""Where the stored usage is: the first and last day with events, so an empty report can say
which period to ask for instead of printing a bare zero."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from reports._sql import QueryClient, checked_database, rows
from reports.periods import TimeRange

__all__ = ["Coverage", "empty_period_hint", "stored_coverage"]


@dataclass(frozen=True, slots=True)
class Coverage:
    first_day: date
    last_day: date
    events: int


def stored_coverage(client: QueryClient, database: str) -> Coverage | None:
    """First and last UTC day with usage, and the event count; ``None`` when nothing is stored."""
    db = checked_database(database)
    (row,) = rows(
        client,
        f"SELECT count() AS events, toDate(min(occurred_at)) AS first_day, "
        f"toDate(max(occurred_at)) AS last_day FROM {db}.usage_events",
        {},
    )
    if not row["events"]:
        return None
    return Coverage(row["first_day"], row["last_day"], row["events"])


def empty_period_hint(period: TimeRange, coverage: Coverage | None) -> str:
    """What to tell a user whose report for ``period`` found no usage."""
    if coverage is None:
        return (
            f"no usage in {period.label}: nothing is stored yet (is `meterline up` running, and "
            "has anything sent usage? try `meterline simulate`)"
        )
    first, last = coverage.first_day.isoformat(), coverage.last_day.isoformat()
    hint = (
        f"no usage in {period.label}; stored usage runs from {first} to {last} "
        f"({coverage.events} rows): try --period {last[:7]}"
    )
    return hint if first[:7] == last[:7] else f"{hint} or --from {first} --to {last}"
