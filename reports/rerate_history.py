"""What re-rates did to a period: the runs, invoices with adjustment lines, and the change by
model and day that ``reconcile`` shows. Read-only (a guest client is enough)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from reports._sql import PERIOD_FILTER, QueryClient, checked_database, period_parameters, rows
from reports.invoice_math import Invoice
from reports.invoices import build_invoices
from reports.periods import TimeRange
from reports.plans import PlansFile
from reports.rerate_math import RerateRun, adjusted_invoice

__all__ = [
    "RerateExplanation",
    "explain_rerates",
    "invoices_with_adjustments",
    "rerate_runs",
]

_TICK = timedelta(milliseconds=1)
"""``rated_at``'s resolution: the moment just before a run."""


def rerate_runs(
    client: QueryClient, database: str, period: TimeRange, after: datetime | None = None
) -> list[RerateRun]:
    """The re-rates that changed events of ``period`` (those after ``after`` when given),
    oldest first."""
    db = checked_database(database)
    params: dict[str, Any] = period_parameters(period)
    later = ""
    if after is not None:
        later, params["after"] = " AND rated_at > {after:DateTime64(3, 'UTC')}", after
    found = rows(
        client,
        f"""
        SELECT rerate_id, min(rated_at) AS run_at, count() AS events,
            sum(old_cost) AS old_cost, sum(cost) AS new_cost
        FROM {db}.usage_ratings WHERE {PERIOD_FILTER}{later}
        GROUP BY rerate_id ORDER BY run_at, rerate_id""",
        params,
    )
    return [RerateRun(rated_at=r.pop("run_at"), **r) for r in found]


def invoices_with_adjustments(
    client: QueryClient,
    database: str,
    period: TimeRange,
    plans: PlansFile,
    invoiced_at: datetime | None = None,
) -> list[Invoice]:
    """The period's invoices as issued, with an adjustment line per later re-rate.

    The period counts as invoiced at ``invoiced_at``: re-rates up to then are part of the
    invoice, later ones become adjustment lines. Without it every re-rate of the period is an
    adjustment, so a re-rate never silently changes an invoice's lines."""
    runs = rerate_runs(client, database, period, invoiced_at)
    if not runs:
        return build_invoices(client, database, period, plans)
    moments = [runs[0].rated_at - _TICK, *(r.rated_at for r in runs)]
    states = [build_invoices(client, database, period, plans, m) for m in moments]
    return [adjusted_invoice([state[i] for state in states], runs) for i in range(len(states[0]))]


@dataclass(frozen=True)
class RerateExplanation:
    """How re-rates changed a period: its total before any re-rate and now, each run, and the
    change by day and model (re-rated events only)."""

    original_total: Decimal
    current_total: Decimal
    runs: tuple[RerateRun, ...]
    by_day_model: tuple[dict[str, Any], ...]


def explain_rerates(
    client: QueryClient, database: str, period: TimeRange
) -> RerateExplanation | None:
    """``None`` when no re-rate touched ``period``."""
    runs = rerate_runs(client, database, period)
    if not runs:
        return None
    db = checked_database(database)
    params = period_parameters(period)
    changes = rows(
        client,
        f"""
        SELECT day, model, count() AS events, sum(first_cost) AS old_cost,
            sum(last_cost) AS new_cost, new_cost - old_cost AS difference
        FROM (
            SELECT event_id, toDate(any(occurred_at)) AS day, toString(any(model)) AS model,
                argMin(old_cost, version) AS first_cost, argMax(cost, version) AS last_cost
            FROM {db}.usage_ratings WHERE {PERIOD_FILTER} GROUP BY event_id)
        GROUP BY day, model ORDER BY day, model""",
        params,
    )
    (now,) = rows(
        client, f"SELECT sum(cost) AS total FROM {db}.usage_events FINAL WHERE {PERIOD_FILTER}",
        params,
    )  # fmt: skip
    moved = sum((c["difference"] for c in changes), Decimal(0))
    return RerateExplanation(
        original_total=now["total"] - moved,
        current_total=now["total"],
        runs=tuple(runs),
        by_day_model=tuple(changes),
    )
