"""The margin report: cost per customer from the store joined to revenue
(``margin.compute_margins``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from reports._sql import PERIOD_FILTER, QueryClient, checked_database, period_parameters, rows
from reports.margin import MarginReport, compute_margins
from reports.periods import TimeRange

__all__ = ["cost_by_customer", "margin_report"]


def cost_by_customer(client: QueryClient, database: str, period: TimeRange) -> dict[str, Decimal]:
    """Exact cost per customer in ``period`` (``usage_events FINAL``; ``unattributed`` included)."""
    db = checked_database(database)
    return {
        r["customer"]: r["cost"]
        for r in rows(
            client,
            f"SELECT customer, sum(cost) AS cost FROM {db}.usage_events FINAL "
            f"WHERE {PERIOD_FILTER} GROUP BY customer ORDER BY customer",
            period_parameters(period),
        )
    }


def margin_report(
    client: QueryClient, database: str, period: TimeRange, revenue: Mapping[str, Decimal]
) -> MarginReport:
    """Revenue, cost to serve and gross margin per customer in ``period``, worst first."""
    return compute_margins(period.label, cost_by_customer(client, database, period), revenue)
