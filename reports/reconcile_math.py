"""Reconciliation rules: what must add up, and the variance against a provider bill. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from reports.aliases import Aliases
from reports.bill_formats import BillLine
from reports.money_format import money_plain as _m

__all__ = [
    "BillComparison",
    "CustomerCost",
    "LedgerFacts",
    "Variance",
    "bill_problems",
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
    owner_mismatch_events: int = 0
    """Calls tagged ``customer:X`` on a key bound to another owner customer: the books (tags)
    and the budgets (owner) disagree about whose they are. Counted, not a problem."""
    owner_mismatch_cost: Decimal = Decimal(0)
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
    """Largest absolute gap that still reconciles, applied to each line and to the total."""
    variances: tuple[Variance, ...]
    """Every provider × model × day on either side, biggest absolute gap first."""
    lines_outside_period: int
    billed_outside_period: Decimal = Decimal(0)
    """Cost on the bill lines dated outside the period (not in ``billed_total``)."""
    first_day: date | None = None
    last_day: date | None = None
    """The dates the bill's lines span (all lines, in the period or not)."""

    @property
    def total_gap(self) -> Decimal:
        return self.billed_total - self.metered_total

    @property
    def total_within_tolerance(self) -> bool:
        return abs(self.total_gap) <= self.tolerance

    @property
    def out_of_tolerance(self) -> tuple[Variance, ...]:
        return tuple(v for v in self.variances if not v.within_tolerance)


def ledger_problems(facts: LedgerFacts) -> list[str]:
    """Every reason the stored ledger does not reconcile; empty when it does."""
    problems: list[str] = []
    if facts.customer_cost_sum != facts.total_cost:
        problems.append(
            f"sum of customer costs {_m(facts.customer_cost_sum)} != total metered cost "
            f"{_m(facts.total_cost)}"
        )
    if facts.deduped_cost != facts.total_cost:
        problems.append(
            f"cost deduplicated by event_id {_m(facts.deduped_cost)} != total metered cost "
            f"{_m(facts.total_cost)}"
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
    aliases: Aliases | None = None,
) -> BillComparison:
    """Variance of a provider bill against metered cost per (day, provider, model).

    Provider and model names on both sides go through ``aliases`` (default: lower case, release
    dates dropped) before they are compared. Only the providers named in the bill are compared
    (one provider's bill says nothing about another's usage). Bill lines outside
    ``period_days`` (first, last inclusive) are counted, summed and left out of the comparison
    (``bill_problems`` reports them); repeated bill lines for one key are summed. A gap — of a
    line or of the total — is within tolerance when ``|gap| <= tolerance``.
    """
    names = aliases or Aliases()
    first, last = period_days
    lines = list(bill)
    providers = {names.provider(line.provider) for line in lines}
    # Canonical names join the two sides; output shows the meter's spelling, else the bill's.
    shown_p: dict[str, str] = {}
    shown_m: dict[str, str] = {}
    for _day, provider, model in metered:
        shown_p.setdefault(names.provider(provider), names.provider_shown(provider))
        shown_m.setdefault(names.model(model), names.model_shown(model))
    for line in lines:
        shown_p.setdefault(names.provider(line.provider), names.provider_shown(line.provider))
        shown_m.setdefault(names.model(line.model), names.model_shown(line.model))
    billed: dict[BillKey, Decimal] = {}
    outside = 0
    outside_cost = Decimal(0)
    for line in lines:
        if not first <= line.day <= last:
            outside += 1
            outside_cost += line.cost
            continue
        key = (line.day, names.provider(line.provider), names.model(line.model))
        billed[key] = billed.get(key, Decimal(0)) + line.cost
    canonical: dict[BillKey, Decimal] = {}
    for (day, provider, model), cost in metered.items():
        key = (day, names.provider(provider), names.model(model))
        if key[1] in providers:
            canonical[key] = canonical.get(key, Decimal(0)) + cost
    metered = canonical
    variances = []
    for key in set(metered) | set(billed):
        m = metered.get(key, Decimal(0))
        b = billed.get(key, Decimal(0))
        gap = b - m
        variances.append(
            Variance(
                day=key[0],
                provider=shown_p[key[1]],
                model=shown_m[key[2]],
                metered=m,
                billed=b,
                gap=gap,
                within_tolerance=abs(gap) <= tolerance,
            )
        )
    variances.sort(key=lambda v: (-abs(v.gap), v.day, v.provider, v.model))
    return BillComparison(
        providers=tuple(sorted(shown_p[p] for p in providers)),
        billed_total=sum(billed.values(), Decimal(0)),
        metered_total=sum(metered.values(), Decimal(0)),
        tolerance=tolerance,
        variances=tuple(variances),
        lines_outside_period=outside,
        billed_outside_period=outside_cost,
        first_day=min((line.day for line in lines), default=None),
        last_day=max((line.day for line in lines), default=None),
    )


def bill_problems(cmp: BillComparison, period_label: str) -> list[str]:
    """Every reason the bill does not match the meter; empty when it does: lines dated outside
    the period, lines and the total off by more than the tolerance, a bill with no lines."""
    problems: list[str] = []
    if cmp.first_day is None:
        problems.append("the provider bill has no lines")
    if cmp.lines_outside_period:
        problems.append(
            f"{cmp.lines_outside_period} bill line(s) ({_m(cmp.billed_outside_period)}) are dated "
            f"outside {period_label} (the bill runs {cmp.first_day} to {cmp.last_day}): "
            "wrong bill or wrong --period?"
        )
    off = cmp.out_of_tolerance
    if off:
        worst = off[0]
        problems.append(
            f"{len(off)} provider × model × day line(s) differ from the bill by more than "
            f"{_m(cmp.tolerance)}; biggest: {worst.day} {worst.provider} {worst.model} "
            f"billed {_m(worst.billed)} vs metered {_m(worst.metered)} (gap {_m(worst.gap)})"
        )
    if not cmp.total_within_tolerance:
        problems.append(
            f"bill total {_m(cmp.billed_total)} vs metered {_m(cmp.metered_total)}: gap "
            f"{_m(cmp.total_gap)} is more than the tolerance {_m(cmp.tolerance)}"
        )
    return problems
