"""Invoices for a period: metered usage per customer × model from the store, then
``invoice_math.build_invoice`` per customer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from reports._sql import PERIOD_FILTER, QueryClient, checked_database, period_parameters, rows
from reports.invoice_math import Invoice, ModelUsage, build_invoice
from reports.periods import TimeRange
from reports.plans import PlansFile
from reports.rerate import as_of_source

__all__ = ["build_invoices", "revenue_from_invoices", "usage_by_customer_model"]


def usage_by_customer_model(
    client: QueryClient, database: str, period: TimeRange, ratings_as_of: datetime | None = None
) -> dict[str, list[ModelUsage]]:
    """Each customer's usage per model in ``period`` (``usage_events FINAL``), customers and
    models sorted by name; with ``ratings_as_of``, every event at the rating it had then (see
    ``reports.rerate.as_of_source``)."""
    db = checked_database(database)
    source, params = f"{db}.usage_events FINAL", period_parameters(period)
    if ratings_as_of is not None:
        source = as_of_source(db, events_then=False)
        params["as_of"] = ratings_as_of
    result: dict[str, list[ModelUsage]] = {}
    for row in rows(
        client,
        f"""
        SELECT customer, model, count() AS requests, sum(cost) AS cost,
               sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
               sum(cache_read_tokens) AS cache_read_tokens,
               sum(cache_write_tokens) AS cache_write_tokens
        FROM {source}
        WHERE {PERIOD_FILTER}
        GROUP BY customer, model
        ORDER BY customer, model
        """,
        params,
    ):
        customer = row.pop("customer")
        result.setdefault(customer, []).append(ModelUsage(**row))
    return result


def build_invoices(
    client: QueryClient,
    database: str,
    period: TimeRange,
    plans: PlansFile,
    ratings_as_of: datetime | None = None,
) -> list[Invoice]:
    """One invoice per customer with usage in ``period`` and per customer named in ``plans``
    (a planned customer without usage still owes its fee or minimum); customers without a plan
    are listed with a warning and a zero total. Sorted by customer. ``ratings_as_of``: as in
    ``usage_by_customer_model``."""
    usage = usage_by_customer_model(client, database, period, ratings_as_of)
    customers = sorted(set(usage) | set(plans.customers))
    return [build_invoice(c, period.label, usage.get(c, []), plans) for c in customers]


def revenue_from_invoices(invoices: list[Invoice]) -> dict[str, Decimal]:
    """Revenue per customer as invoiced (customers without a plan have none)."""
    return {inv.customer: inv.total for inv in invoices if inv.plan is not None}
