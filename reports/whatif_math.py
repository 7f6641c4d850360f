"""What-if, the pure part: each customer's invoice and margin today and under alternative plans
and/or prices, side by side, biggest changes first.

Margin here is what the invoice bills minus what serving the customer cost (``usage_cost``):
the alternative prices change the cost, the alternative plans change the bill.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from reports.invoice_math import ModelUsage, build_invoice
from reports.plans import PlansFile

__all__ = ["WhatIfRow", "compare"]


class WhatIfRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    customer: str
    plan: str | None
    whatif_plan: str | None
    invoice: Decimal
    whatif_invoice: Decimal
    cost: Decimal
    whatif_cost: Decimal

    @property
    def margin(self) -> Decimal:
        return self.invoice - self.cost

    @property
    def whatif_margin(self) -> Decimal:
        return self.whatif_invoice - self.whatif_cost

    @property
    def invoice_change(self) -> Decimal:
        return self.whatif_invoice - self.invoice

    @property
    def margin_change(self) -> Decimal:
        return self.whatif_margin - self.margin


def compare(
    period: str,
    usage: Mapping[str, Sequence[ModelUsage]],
    plans: PlansFile,
    whatif_usage: Mapping[str, Sequence[ModelUsage]],
    whatif_plans: PlansFile,
) -> list[WhatIfRow]:
    """One row per customer with usage or a plan in either world, sorted by the size of the
    margin change, then of the invoice change, then by customer."""
    customers = set(usage) | set(whatif_usage) | set(plans.customers) | set(whatif_plans.customers)
    out = []
    for customer in customers:
        now = build_invoice(customer, period, usage.get(customer, []), plans)
        then = build_invoice(customer, period, whatif_usage.get(customer, []), whatif_plans)
        out.append(
            WhatIfRow(
                customer=customer, plan=now.plan, whatif_plan=then.plan, invoice=now.total,
                whatif_invoice=then.total, cost=now.usage_cost, whatif_cost=then.usage_cost,
            )
        )  # fmt: skip
    return sorted(out, key=lambda r: (-abs(r.margin_change), -abs(r.invoice_change), r.customer))
