"""Reconciliation rules: what must add up, and the variance against a provider bill. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from reports.csv_inputs import BillLine

__all__ = [
    "BillComparison",
    "CustomerCost",
    "LedgerFacts",
    "Variance",
    "compare_bill",
    "ledger_problems",
]

BillKey = tuple[date, str, str]


class CustomerCost(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer: str
    cost: Decimal
    events: int


class LedgerFacts(BaseModel):
    """What the store says about one period. Counts are events (distinct ``event_id``)
    unless named ``rows``."""

    model_config = ConfigDict(frozen=True)

    total_cost: Decimal
    """``sum(cost)`` over ``usage_events FINAL`` in one query."""
    customers: tuple[CustomerCost, ...]
    deduped_cost: Decimal
    """``sum(cost)`` taking one row per ``event_id`` (independent of ``FINAL``)."""
    events: int
    rows_stored: int
    """Rows before duplicate collapse (``usage_events`` without ``FINAL``)."""
    distinct_event_ids: int
    rows_after_final: int
    conflicting_duplicates: int
    """``event_id``s that still have more than one row after ``FINAL`` (their sort keys differ:
    the same event stored with a different customer or day)."""
    cost_source_mismatches: int
    """Rows whose ``cost`` disagrees with its ``cost_source`` (provider → provider_cost,
    price_book → computed_cost, unpriced → 0)."""
    negative_cost_rows: int
    unpriced_events: int
    unattributed_events: int
    unattributed_cost: Decimal
    provider_priced_events: int
    provider_vs_computed_events: int
    """Provider-settled events whose price-book cost differs."""
    provider_vs_computed_delta: Decimal
    """``sum(cost - computed_cost)`` over those events."""
    flags: dict[str, int]
    dead_letters: int
    dead_letters_by_kind: dict[str, int]
    currencies: tuple[str, ...]

    @property
    def customer_cost_sum(self) -> Decimal:
        return sum((c.cost for c in self.customers), Decimal(0))

    @property
    def duplicates_collapsed(self) -> int:
        return self.rows_stored - self.distinct_event_ids


class Variance(BaseModel):
    """``gap = billed - metered`` for one provider × model × day."""

    model_config = ConfigDict(frozen=True)

    day: date
    provider: str
    model: str
    metered: Decimal
    billed: Decimal
    gap: Decimal
    within_tolerance: bool


class BillComparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    providers: tuple[str, ...]
    """Providers the bill covers; metered cost of other providers is not compared."""
    billed_total: Decimal
    metered_total: Decimal
    """Metered cost of the bill's providers in the period."""
    tolerance: Decimal
    variances: tuple[Variance, ...]
    """Every provider × model × day on either side, biggest absolute gap first."""
    lines_outside_period: int

    @property
    def out_of_tolerance(self) -> tuple[Variance, ...]:
        return tuple(v for v in self.variances if not v.within_tolerance)


def ledger_problems(facts: LedgerFacts) -> list[str]:
    """Every reason the stored ledger does not reconcile; empty when it does."""
    problems: list[str] = []
    if facts.customer_cost_sum != facts.total_cost:
        problems.append(
            f"sum of customer costs {facts.customer_cost_sum} != total metered cost "
            f"{facts.total_cost}"
        )
    if facts.deduped_cost != facts.total_cost:
        problems.append(
            f"cost deduplicated by event_id {facts.deduped_cost} != total metered cost "
            f"{facts.total_cost}"
        )
    if facts.conflicting_duplicates:
        problems.append(
            f"{facts.conflicting_duplicates} event_id(s) stored twice with different "
            "customer or day (counted more than once)"
        )
    if facts.cost_source_mismatches:
        problems.append(
            f"{facts.cost_source_mismatches} row(s) whose cost disagrees with cost_source"
        )
    if facts.negative_cost_rows:
        problems.append(f"{facts.negative_cost_rows} row(s) with a negative cost")
    if len(facts.currencies) > 1:
        problems.append(f"costs in several currencies are summed: {', '.join(facts.currencies)}")
    return problems


def compare_bill(
    metered: Mapping[BillKey, Decimal],
    bill: Iterable[BillLine],
    period_days: tuple[date, date],
    tolerance: Decimal,
) -> BillComparison:
    """Variance of a provider bill against metered cost per (day, provider, model).

    Only the providers named in the bill are compared (one provider's bill says nothing about
    another's usage). Bill lines outside ``period_days`` (first, last inclusive) are counted and
    left out; repeated bill lines for one key are summed. A gap counts as within tolerance when
    ``|gap| <= tolerance``.
    """
    first, last = period_days
    lines = list(bill)
    providers = {line.provider for line in lines}
    billed: dict[BillKey, Decimal] = {}
    outside = 0
    for line in lines:
        if not first <= line.day <= last:
            outside += 1
            continue
        key = (line.day, line.provider, line.model)
        billed[key] = billed.get(key, Decimal(0)) + line.cost
    metered = {k: v for k, v in metered.items() if k[1] in providers}
    variances = []
    for key in set(metered) | set(billed):
        m = metered.get(key, Decimal(0))
        b = billed.get(key, Decimal(0))
        gap = b - m
        variances.append(
            Variance(
                day=key[0],
                provider=key[1],
                model=key[2],
                metered=m,
                billed=b,
                gap=gap,
                within_tolerance=abs(gap) <= tolerance,
            )
        )
    variances.sort(key=lambda v: (-abs(v.gap), v.day, v.provider, v.model))
    return BillComparison(
        providers=tuple(sorted(providers)),
        billed_total=sum(billed.values(), Decimal(0)),
        metered_total=sum(metered.values(), Decimal(0)),
        tolerance=tolerance,
        variances=tuple(variances),
        lines_outside_period=outside,
    )
