"""The invoice a customer receives, derived from the internal ``Invoice``. Pure.

The customer sees what they bought, never what it cost us: each line is a quantity × a unit
price, and any markup is inside the price. The document's total is the internal invoice's total
to the cent, so the two views never disagree:

* usage (at cost + markup, resale, or an unlisted model at cost + N %) becomes one line per model:
  quantity = the model's tokens in millions, unit price = the line's amount / quantity (an
  average per 1M tokens, 4 decimals). Under a markup plan the usage + markup amount is split over
  models in proportion to their usage, to the cent (largest remainder);
* a flat plan's fee is 1 month × the fee; overage, a top-up to the monthly minimum and an
  adjustment from a re-rate (a credit when negative) are 1 × their amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict

from reports.invoice_math import CENT, Invoice, LineKind, ModelUsage
from reports.invoice_numbers import due_date, invoice_number, issue_date
from reports.periods import TimeRange
from reports.plans import PlansFile

__all__ = ["CustomerInvoice", "DocumentLine", "customer_invoice"]

_MILLION = Decimal(1_000_000)
_PRICE = Decimal("0.0001")


class DocumentLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    amount: Decimal


class CustomerInvoice(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: str
    issuer: str
    customer: str
    period: str
    issue_date: date
    due_date: date
    currency: str
    lines: tuple[DocumentLine, ...]
    total: Decimal


def _tokens(use: ModelUsage) -> int:
    return use.input_tokens + use.output_tokens + use.cache_read_tokens + use.cache_write_tokens


def _split(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``amount`` (cents) over ``weights``, to the cent, summing to ``amount`` exactly."""
    whole = sum(weights, Decimal(0))
    if whole == 0:
        shares = [amount if i == 0 else Decimal(0) for i in range(len(weights))]
        return [s.quantize(CENT) for s in shares]
    exact = [amount * w / whole for w in weights]
    floors = [e.quantize(CENT, rounding=ROUND_DOWN) for e in exact]
    left = int((amount - sum(floors, Decimal(0))) / CENT)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += CENT
    return floors


def _usage_line(use: ModelUsage, amount: Decimal) -> DocumentLine:
    tokens = _tokens(use)
    if tokens == 0:
        return DocumentLine(description=f"{use.model}: {use.requests} requests",
                            quantity=Decimal(use.requests), unit="requests",
                            unit_price=(amount / use.requests).quantize(_PRICE, ROUND_HALF_UP)
                            if use.requests else amount, amount=amount)  # fmt: skip
    quantity = Decimal(tokens) / _MILLION
    return DocumentLine(
        description=f"{use.model}: {tokens:,} tokens, {use.requests:,} requests",
        quantity=quantity,
        unit="1M tokens",
        unit_price=(amount / quantity).quantize(_PRICE, rounding=ROUND_HALF_UP),
        amount=amount,
    )


def _one(description: str, amount: Decimal, unit: str = "item") -> DocumentLine:
    return DocumentLine(
        description=description, quantity=Decimal(1), unit=unit, unit_price=amount, amount=amount
    )


def customer_invoice(invoice: Invoice, period: TimeRange, plans: PlansFile) -> CustomerInvoice:
    """The document to send for ``invoice`` (see the module docstring)."""
    models = {m.model: m for m in invoice.models}
    lines: list[DocumentLine] = []
    pooled = sum(
        (line.amount for line in invoice.lines
         if line.kind in (LineKind.USAGE_AT_COST, LineKind.MARKUP) and line.model is None),
        Decimal(0),
    )  # fmt: skip
    if pooled and invoice.models:
        used = [m for m in invoice.models if m.cost or _tokens(m)]
        for use, amount in zip(used, _split(pooled, [m.cost for m in used]), strict=True):
            lines.append(_usage_line(use, amount))
    for line in invoice.lines:
        if line.model is not None:
            lines.append(_usage_line(models[line.model], line.amount))
        elif line.kind is LineKind.FLAT_FEE:
            lines.append(_one(f"monthly plan {invoice.plan}", line.amount, unit="month"))
        elif line.kind is LineKind.OVERAGE:
            lines.append(_one("usage beyond the plan's allowance", line.amount))
        elif line.kind is LineKind.MINIMUM_TOPUP:
            lines.append(_one("top-up to the monthly minimum", line.amount))
        elif line.kind is LineKind.ADJUSTMENT:
            lines.append(_one("adjustment: usage re-rated after invoicing", line.amount))
    issued = issue_date(period)
    total = sum((line.amount for line in lines), Decimal("0.00"))
    if total != invoice.total:  # the two views must agree to the cent
        raise ValueError(f"invoice document total {total} != invoice total {invoice.total}")
    return CustomerInvoice(
        number=invoice_number(plans.invoice_prefix, period, invoice.customer),
        issuer=plans.issuer,
        customer=invoice.customer,
        period=invoice.period,
        issue_date=issued,
        due_date=due_date(issued, plans.payment_terms_days),
        currency=invoice.currency,
        lines=tuple(lines),
        total=total,
    )
