"""Invoice math: a customer's metered usage and plan → invoice lines and total. Pure.

Rounding rule (the only one): every line amount is computed exactly in ``Decimal`` and rounded
to cents **once**, ``ROUND_HALF_UP``; the total is the sum of the rounded lines, so the lines
always add up to the total and the same usage always gives the same invoice.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from reports.plans import FlatPlan, MarkupPlan, PlansFile, ResalePlan

__all__ = [
    "CENT",
    "Invoice",
    "InvoiceLine",
    "LineKind",
    "ModelUsage",
    "build_invoice",
    "to_cents",
]

CENT = Decimal("0.01")
_MILLION = Decimal(1_000_000)
_HUNDRED = Decimal(100)


def to_cents(amount: Decimal) -> Decimal:
    """``amount`` rounded to cents, half up (2.345 → 2.35, -2.345 → -2.35)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class ModelUsage(BaseModel):
    """A customer's metered usage of one model in the period (cost exact, 12 decimals)."""

    model_config = ConfigDict(frozen=True)

    model: str
    requests: int = 0
    cost: Decimal
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class LineKind(StrEnum):
    USAGE_AT_COST = "usage_at_cost"
    MARKUP = "markup"
    RESALE = "resale"
    FLAT_FEE = "flat_fee"
    OVERAGE = "overage"
    MINIMUM_TOPUP = "minimum_topup"
    ADJUSTMENT = "adjustment"
    """A re-rate's change to an invoiced period (credit when negative); see reports.rerate."""


class InvoiceLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: LineKind
    description: str
    amount: Decimal
    """Rounded to cents."""
    model: str | None = None
    """The model a per-model line bills (resale plans)."""


class Invoice(BaseModel):
    """One customer's invoice. ``plan`` is ``None`` when the customer has no plan: then there
    are no lines, ``total`` is 0 and ``warnings`` says what went unbilled."""

    model_config = ConfigDict(frozen=True)

    customer: str
    period: str
    plan: str | None
    plan_kind: str | None
    currency: str
    usage_cost: Decimal
    """Exact metered cost of the period (what serving the customer cost us)."""
    lines: tuple[InvoiceLine, ...]
    total: Decimal
    warnings: tuple[str, ...] = ()
    models: tuple[ModelUsage, ...] = ()
    """The metered usage per model behind the lines (internal: it carries our cost)."""


def _money(amount: Decimal) -> str:
    return format(to_cents(amount), "f")


def _percent(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _markup_lines(cost: Decimal, plan: MarkupPlan) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            kind=LineKind.USAGE_AT_COST, description="usage at cost", amount=to_cents(cost)
        ),
        InvoiceLine(
            kind=LineKind.MARKUP,
            description=f"markup {_percent(plan.markup_percent)}% on usage",
            amount=to_cents(cost * plan.markup_percent / _HUNDRED),
        ),
    ]


def _resale_lines(usage: list[ModelUsage], plan: ResalePlan) -> tuple[list[InvoiceLine], list[str]]:
    lines: list[InvoiceLine] = []
    warnings: list[str] = []
    for use in usage:
        prices = plan.prices_per_1m.get(use.model)
        if prices is None:
            factor = 1 + plan.unlisted_markup_percent / _HUNDRED
            lines.append(
                InvoiceLine(
                    kind=LineKind.USAGE_AT_COST,
                    model=use.model,
                    description=(
                        f"{use.model}: no resale price, usage at cost"
                        f" + {_percent(plan.unlisted_markup_percent)}%"
                    ),
                    amount=to_cents(use.cost * factor),
                )
            )
            warnings.append(f"model {use.model!r} has no resale price in the plan")
            continue
        exact = (
            use.input_tokens * prices.input
            + use.output_tokens * prices.output
            + use.cache_read_tokens * prices.cache_read
            + use.cache_write_tokens * prices.cache_write
        ) / _MILLION
        lines.append(
            InvoiceLine(
                kind=LineKind.RESALE,
                model=use.model,
                description=(
                    f"{use.model}: {use.input_tokens} input, {use.output_tokens} output, "
                    f"{use.cache_read_tokens} cache read, "
                    f"{use.cache_write_tokens} cache write tokens"
                ),
                amount=to_cents(exact),
            )
        )
    return lines, warnings


def _flat_lines(cost: Decimal, plan: FlatPlan) -> list[InvoiceLine]:
    lines = [
        InvoiceLine(
            kind=LineKind.FLAT_FEE,
            description=f"monthly fee (includes usage up to {_money(plan.included_cost)} at cost)",
            amount=to_cents(plan.monthly_fee),
        )
    ]
    over = cost - plan.included_cost
    if over > 0:
        lines.append(
            InvoiceLine(
                kind=LineKind.OVERAGE,
                description=(
                    f"overage: usage at cost beyond {_money(plan.included_cost)}"
                    f" + {_percent(plan.overage_markup_percent)}%"
                ),
                amount=to_cents(over * (1 + plan.overage_markup_percent / _HUNDRED)),
            )
        )
    return lines


def _merge_by_model(usage: Iterable[ModelUsage]) -> list[ModelUsage]:
    merged: dict[str, ModelUsage] = {}
    for use in usage:
        seen = merged.get(use.model)
        merged[use.model] = (
            use
            if seen is None
            else ModelUsage(
                model=use.model,
                **{f: getattr(seen, f) + getattr(use, f) for f in _SUMMED},
            )
        )
    return [merged[m] for m in sorted(merged)]


_SUMMED = (
    "requests",
    "cost",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
)


def build_invoice(
    customer: str, period: str, usage: Iterable[ModelUsage], plans: PlansFile
) -> Invoice:
    """The customer's invoice for ``period`` under its plan in ``plans`` (see ``plan_for``).

    Usage of one model given twice is merged; lines come in a fixed order (models sorted by
    name), so equal inputs give equal invoices regardless of the order of ``usage``.
    """
    by_model = _merge_by_model(usage)
    cost = sum((u.cost for u in by_model), Decimal(0))
    chosen = plans.plan_for(customer)
    if chosen is None:
        return Invoice(
            customer=customer,
            period=period,
            plan=None,
            plan_kind=None,
            currency=plans.currency,
            usage_cost=cost,
            lines=(),
            total=Decimal("0.00"),
            warnings=(f"no plan assigned: usage at cost {_money(cost)} is not invoiced",),
            models=tuple(by_model),
        )
    name, plan = chosen
    warnings: list[str] = []
    if isinstance(plan, MarkupPlan):
        lines = _markup_lines(cost, plan)
    elif isinstance(plan, ResalePlan):
        lines, warnings = _resale_lines(by_model, plan)
    else:
        lines = _flat_lines(cost, plan)
    subtotal = sum((line.amount for line in lines), Decimal("0.00"))
    if plan.minimum is not None and subtotal < to_cents(plan.minimum):
        lines.append(
            InvoiceLine(
                kind=LineKind.MINIMUM_TOPUP,
                description=f"monthly minimum {_money(plan.minimum)}",
                amount=to_cents(plan.minimum) - subtotal,
            )
        )
    return Invoice(
        customer=customer,
        period=period,
        plan=name,
        plan_kind=plan.kind,
        currency=plans.currency,
        usage_cost=cost,
        lines=tuple(lines),
        total=sum((line.amount for line in lines), Decimal("0.00")),
        warnings=tuple(warnings),
        models=tuple(by_model),
    )
