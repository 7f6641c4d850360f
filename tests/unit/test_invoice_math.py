"""Invoice lines and totals for every plan kind, against amounts computed by hand."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from reports.invoice_math import LineKind, ModelUsage, build_invoice, to_cents
from reports.plans import parse_plans

PLANS = parse_plans(
    """
currency: USD
plans:
  payg: {kind: markup, markup_percent: 30, minimum: 5}
  tokens:
    kind: resale
    prices_per_1m:
      gpt-4o: {input: 5, output: 15, cache_read: 2.5, cache_write: 6.25}
    unlisted_markup_percent: 20
  pro: {kind: flat, monthly_fee: 500, included_cost: 300, overage_markup_percent: 20}
customers: {acme: pro, globex: payg, initech: tokens}
"""
)


def usage(model: str, cost: str, **tokens: int) -> ModelUsage:
    return ModelUsage(model=model, cost=Decimal(cost), requests=1, **tokens)


def amounts(invoice) -> list[tuple[LineKind, Decimal]]:  # type: ignore[no-untyped-def]
    return [(line.kind, line.amount) for line in invoice.lines]


def test_rounding_is_half_up_to_cents() -> None:
    assert to_cents(Decimal("0.125")) == Decimal("0.13")  # banker's rounding would give 0.12
    assert to_cents(Decimal("0.124999999999")) == Decimal("0.12")
    assert to_cents(Decimal("-2.345")) == Decimal("-2.35")


def test_markup_plan_rounds_each_line_once() -> None:
    # 10.005 at cost → 10.01; 30 % of 10.005 = 3.0015 → 3.00; total 13.01.
    inv = build_invoice("globex", "2026-11", [usage("gpt-4o", "10.005")], PLANS)
    assert inv.plan == "payg"
    assert amounts(inv) == [
        (LineKind.USAGE_AT_COST, Decimal("10.01")),
        (LineKind.MARKUP, Decimal("3.00")),
    ]
    assert inv.total == Decimal("13.01")
    assert inv.usage_cost == Decimal("10.005")


def test_minimum_tops_up_a_small_invoice() -> None:
    # 0.125 → 0.13 at cost, 0.0375 → 0.04 markup: 0.17, topped up by 4.83 to the 5.00 minimum.
    inv = build_invoice("globex", "2026-11", [usage("gpt-4o", "0.125")], PLANS)
    assert amounts(inv) == [
        (LineKind.USAGE_AT_COST, Decimal("0.13")),
        (LineKind.MARKUP, Decimal("0.04")),
        (LineKind.MINIMUM_TOPUP, Decimal("4.83")),
    ]
    assert inv.total == Decimal("5.00")


def test_resale_plan_prices_tokens_per_model_and_marks_up_unlisted_models() -> None:
    # gpt-4o: 1M input × 5 + 0.2M output × 15 + 0.4M cache read × 2.5 + 0.1M cache write × 6.25
    #       = 5 + 3 + 1 + 0.625 = 9.625 → 9.63. mystery: 1.005 × 1.2 = 1.206 → 1.21.
    inv = build_invoice(
        "initech",
        "2026-11",
        [
            usage("mystery", "1.005"),
            usage(
                "gpt-4o",
                "7.0",
                input_tokens=1_000_000,
                output_tokens=200_000,
                cache_read_tokens=400_000,
                cache_write_tokens=100_000,
            ),
        ],
        PLANS,
    )
    assert amounts(inv) == [
        (LineKind.RESALE, Decimal("9.63")),
        (LineKind.USAGE_AT_COST, Decimal("1.21")),
    ]
    assert inv.total == Decimal("10.84")
    assert inv.lines[0].description.startswith("gpt-4o:")
    assert any("mystery" in w for w in inv.warnings)


def test_flat_plan_within_included_usage_is_the_fee() -> None:
    inv = build_invoice("acme", "2026-11", [usage("gpt-4o", "250")], PLANS)
    assert amounts(inv) == [(LineKind.FLAT_FEE, Decimal("500.00"))]
    assert inv.total == Decimal("500.00")


def test_flat_plan_bills_overage_beyond_included_usage() -> None:
    # (312.34567 - 300) × 1.2 = 14.814804 → 14.81.
    inv = build_invoice(
        "acme", "2026-11", [usage("gpt-4o", "300.00001"), usage("o3", "12.34566")], PLANS
    )
    assert amounts(inv) == [
        (LineKind.FLAT_FEE, Decimal("500.00")),
        (LineKind.OVERAGE, Decimal("14.81")),
    ]
    assert inv.total == Decimal("514.81")


def test_customer_without_plan_is_listed_with_a_warning() -> None:
    inv = build_invoice("hooli", "2026-11", [usage("gpt-4o", "3.456")], PLANS)
    assert inv.plan is None
    assert inv.lines == ()
    assert inv.total == Decimal("0.00")
    assert inv.usage_cost == Decimal("3.456")
    assert "no plan" in inv.warnings[0]
    assert "3.46" in inv.warnings[0]


def test_planned_customer_without_usage_still_owes_the_fee() -> None:
    inv = build_invoice("acme", "2026-11", [], PLANS)
    assert inv.total == Decimal("500.00")


costs = st.decimals(min_value=0, max_value=10_000, places=12, allow_nan=False)


@given(st.lists(st.tuples(st.sampled_from(["gpt-4o", "o3", "x"]), costs), max_size=6))
def test_totals_add_up_and_do_not_depend_on_order(items: list[tuple[str, Decimal]]) -> None:
    uses = [ModelUsage(model=m, cost=c, input_tokens=int(c * 1000)) for m, c in items]
    for customer in ("acme", "globex", "initech", "hooli"):
        inv = build_invoice(customer, "2026-11", uses, PLANS)
        again = build_invoice(customer, "2026-11", list(reversed(uses)), PLANS)
        assert inv == again
        assert inv.total == sum((line.amount for line in inv.lines), Decimal("0.00"))
        assert all(line.amount == to_cents(line.amount) for line in inv.lines)
        if customer == "globex":
            assert inv.total >= Decimal("5.00")
            assert inv.total >= to_cents(inv.usage_cost)
