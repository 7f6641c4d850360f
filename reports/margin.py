"""Margin math: revenue per customer joined to cost to serve. Pure.

Money stays exact (cost has 12 decimals); ``margin_percent`` is rounded to 2 decimals, half up.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

__all__ = ["MarginReport", "MarginRow", "MarginStatus", "compute_margins"]

_PCT = Decimal("0.01")


class MarginStatus(StrEnum):
    UNPROFITABLE = "unprofitable"
    """Revenue below cost."""
    NO_REVENUE = "no_revenue"
    """Cost to serve but no revenue line."""
    NO_USAGE = "no_usage"
    """Revenue but no metered usage."""
    OK = "ok"


class MarginRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer: str
    revenue: Decimal | None
    """``None``: the customer is missing from the revenue file."""
    cost: Decimal
    margin: Decimal
    margin_percent: Decimal | None
    """``margin / revenue * 100``; ``None`` when revenue is missing or zero."""
    status: MarginStatus


class MarginReport(BaseModel):
    """Rows sorted worst margin first (unprofitable accounts on top), then by customer."""

    model_config = ConfigDict(frozen=True)

    period: str
    rows: tuple[MarginRow, ...]
    total_revenue: Decimal
    total_cost: Decimal
    total_margin: Decimal
    total_margin_percent: Decimal | None
    cost_without_revenue: tuple[str, ...]
    revenue_without_usage: tuple[str, ...]


def _percent(margin: Decimal, revenue: Decimal | None) -> Decimal | None:
    if not revenue:
        return None
    return (margin * 100 / revenue).quantize(_PCT, rounding=ROUND_HALF_UP)


def _status(revenue: Decimal | None, cost: Decimal, margin: Decimal) -> MarginStatus:
    if revenue is None:
        return MarginStatus.NO_REVENUE
    if cost == 0:
        return MarginStatus.NO_USAGE
    if margin < 0:
        return MarginStatus.UNPROFITABLE
    return MarginStatus.OK


def compute_margins(
    period: str, cost: Mapping[str, Decimal], revenue: Mapping[str, Decimal]
) -> MarginReport:
    """Join cost per customer and revenue per customer (either may lack a customer).

    A customer with cost and no revenue line is ``no_revenue`` (its margin is ``-cost``); one
    with revenue but zero or no cost is ``no_usage``.
    """
    out: list[MarginRow] = []
    for customer in sorted(set(cost) | set(revenue)):
        rev = revenue.get(customer)
        spent = cost.get(customer, Decimal(0))
        margin = (rev or Decimal(0)) - spent
        out.append(
            MarginRow(
                customer=customer,
                revenue=rev,
                cost=spent,
                margin=margin,
                margin_percent=_percent(margin, rev),
                status=_status(rev, spent, margin),
            )
        )
    out.sort(key=lambda r: (r.margin, r.customer))
    total_revenue = sum(revenue.values(), Decimal(0))
    total_cost = sum(cost.values(), Decimal(0))
    return MarginReport(
        period=period,
        rows=tuple(out),
        total_revenue=total_revenue,
        total_cost=total_cost,
        total_margin=total_revenue - total_cost,
        total_margin_percent=_percent(total_revenue - total_cost, total_revenue),
        cost_without_revenue=tuple(r.customer for r in out if r.status is MarginStatus.NO_REVENUE),
        revenue_without_usage=tuple(r.customer for r in out if r.status is MarginStatus.NO_USAGE),
    )
