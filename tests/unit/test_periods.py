"""Every report's period: this month by default, --period YYYY-MM / this-month / last-month,
--from/--to; and what an empty period says."""

from __future__ import annotations

from datetime import date

import pytest

from reports.coverage import Coverage, empty_period_hint
from reports.errors import InvalidPeriodError
from reports.periods import month_period, resolve_month, resolve_range

TODAY = date(2027, 1, 14)


@pytest.mark.parametrize(
    ("period", "label"),
    [(None, "2027-01"), ("this-month", "2027-01"), ("last-month", "2026-12"),
     ("Last-Month", "2026-12"), ("2026-11", "2026-11")],
)  # fmt: skip
def test_months(period: str | None, label: str) -> None:
    assert resolve_month(period, TODAY) == month_period(label)


def test_a_bad_period_names_the_choices() -> None:
    with pytest.raises(InvalidPeriodError, match=r"not a calendar month.*last-month"):
        resolve_month("2026-13", TODAY)


def test_ranges() -> None:
    assert resolve_range(None, None, None, TODAY) == month_period("2027-01")
    assert resolve_range("last-month", None, None, TODAY) == month_period("2026-12")
    span = resolve_range(None, date(2026, 12, 20), None, TODAY)
    assert span.label == "2026-12-20..2027-01-14"
    to_only = resolve_range(None, None, date(2026, 11, 30), TODAY)
    nov = month_period("2026-11")
    assert (to_only.start, to_only.end) == (nov.start, nov.end)
    with pytest.raises(InvalidPeriodError, match="either --period or --from/--to"):
        resolve_range("2026-11", date(2026, 11, 1), None, TODAY)


def test_an_empty_period_says_where_the_data_is() -> None:
    nov = month_period("2026-11")
    dec = Coverage(date(2026, 12, 1), date(2026, 12, 3), 42)
    assert empty_period_hint(nov, dec) == (
        "no usage in 2026-11; stored usage runs from 2026-12-01 to 2026-12-03 (42 rows): "
        "try --period 2026-12"
    )
    spread = Coverage(date(2026, 10, 30), date(2026, 12, 3), 42)
    assert empty_period_hint(nov, spread).endswith(
        "try --period 2026-12 or --from 2026-10-30 --to 2026-12-03"
    )
    assert "nothing is stored yet" in empty_period_hint(nov, None)
