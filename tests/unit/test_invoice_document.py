"""The invoice a customer receives: stable number and dates, quantity × unit price, markup inside
the price, the same total as the internal invoice."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from reports.invoice_document import _split, customer_invoice
from reports.invoice_math import ModelUsage, build_invoice
from reports.periods import month_period
from reports.plans import parse_plans

NOV = month_period("2026-11")
PLANS = parse_plans("""
invoice_prefix: ML
payment_terms_days: 0
plans:
  payg: {kind: markup, markup_percent: 30}
  tokens:
    kind: resale
    prices_per_1m: {gpt-4o: {input: 5, output: 15}}
    unlisted_markup_percent: 20
customers: {acme: payg, initech: tokens}
""")
USAGE = [
    ModelUsage(model="gpt-4o", requests=10, cost=D("1.000000000001"), input_tokens=150_000,
               output_tokens=50_000),
    ModelUsage(model="o3", requests=2, cost=D("0.333333333333"), input_tokens=1_000,
               output_tokens=9_000),
]  # fmt: skip


def test_markup_is_inside_the_price_and_totals_agree() -> None:
    inv = build_invoice("acme", "2026-11", USAGE, PLANS)
    doc = customer_invoice(inv, NOV, PLANS)
    assert doc.total == inv.total == D("1.73")  # 1.33 at cost + 0.40 markup
    assert [(line.description, line.unit, line.amount) for line in doc.lines] == [
        ("gpt-4o: 200,000 tokens, 10 requests", "1M tokens", D("1.30")),
        ("o3: 10,000 tokens, 2 requests", "1M tokens", D("0.43")),
    ]
    assert doc.lines[0].quantity == D("0.2") and doc.lines[0].unit_price == D("6.5000")
    assert doc.number == customer_invoice(inv, NOV, PLANS).number
    assert doc.number.startswith("ML-202611-")
    assert doc.issue_date.isoformat() == "2026-12-01" == doc.due_date.isoformat()


def test_resale_lines_are_per_model() -> None:
    doc = customer_invoice(build_invoice("initech", "2026-11", USAGE, PLANS), NOV, PLANS)
    # gpt-4o at list price: 0.15 × 5 + 0.05 × 15 = 1.50; o3 unlisted: 0.333… × 1.2 = 0.40.
    assert [(line.description.split(":")[0], line.amount) for line in doc.lines] == [
        ("gpt-4o", D("1.50")), ("o3", D("0.40"))]  # fmt: skip
    assert doc.total == D("1.90")


@given(
    st.integers(0, 10**7),
    st.lists(st.decimals(0, 10**4, places=12, allow_nan=False), min_size=1, max_size=8),
)
def test_split_is_exact_to_the_cent(cents: int, weights: list[D]) -> None:
    amount = D(cents) / 100
    parts = _split(amount, weights)
    assert sum(parts, D(0)) == amount
    assert all(p >= 0 and p == p.quantize(D("0.01")) for p in parts)


def test_a_rerate_adjustment_is_a_line_of_its_own() -> None:
    from reports.invoice_math import InvoiceLine, LineKind

    inv = build_invoice("acme", "2026-11", USAGE, PLANS)
    credit = InvoiceLine(kind=LineKind.ADJUSTMENT, description="credit: re-rate rr-1",
                         amount=D("-0.50"))  # fmt: skip
    adjusted = inv.model_copy(update={"lines": (*inv.lines, credit), "total": inv.total - D("0.5")})
    doc = customer_invoice(adjusted, NOV, PLANS)
    assert doc.total == D("1.23")
    assert doc.lines[-1].description == "adjustment: usage re-rated after invoicing"
    assert doc.lines[-1].amount == D("-0.50")
