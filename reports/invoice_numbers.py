"""Invoice numbers and dates. Pure.

A number is ``PREFIX-YYYYMM-XXXXXXXX``: the period and the first 8 hex digits of SHA-256 of the
customer id, so the same customer and period always get the same number (re-running a billing
run never renumbers an invoice) and two customers never share one in practice. The issue date is
the first day after the period (a month's invoice is issued when the month has closed); the due
date is the issue date plus the plans file's payment terms.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from reports.periods import TimeRange

__all__ = ["due_date", "invoice_number", "issue_date"]


def invoice_number(prefix: str, period: TimeRange, customer: str) -> str:
    digest = hashlib.sha256(customer.encode()).hexdigest()[:8].upper()
    return f"{prefix}-{period.start:%Y%m}-{digest}"


def issue_date(period: TimeRange) -> date:
    """The day after the period's last day (``period.end`` is exclusive)."""
    end: datetime = period.end
    return end.date()


def due_date(issued: date, payment_terms_days: int) -> date:
    return issued + timedelta(days=payment_terms_days)
