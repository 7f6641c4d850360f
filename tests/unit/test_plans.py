from decimal import Decimal

import pytest

from reports.errors import PlansError
from reports.plans import FlatPlan, MarkupPlan, ResalePlan, parse_plans

PLANS = """
currency: USD
default_plan: payg
plans:
  payg: {kind: markup, markup_percent: 30.1, minimum: 0.1}
  tokens:
    kind: resale
    prices_per_1m:
      gpt-4o: {input: 2.5, output: 10}
  pro: {kind: flat, monthly_fee: 500, included_cost: 300.25, overage_markup_percent: 20}
customers:
  acme: pro
  initech: tokens
"""


def test_numbers_are_read_as_exact_decimals() -> None:
    plans = parse_plans(PLANS)
    payg = plans.plans["payg"]
    assert isinstance(payg, MarkupPlan)
    assert payg.markup_percent == Decimal("30.1")
    assert payg.minimum == Decimal("0.1")
    tokens = plans.plans["tokens"]
    assert isinstance(tokens, ResalePlan)
    assert tokens.prices_per_1m["gpt-4o"].input == Decimal("2.5")
    assert tokens.prices_per_1m["gpt-4o"].cache_read == Decimal(0)
    pro = plans.plans["pro"]
    assert isinstance(pro, FlatPlan)
    assert pro.included_cost == Decimal("300.25")


def test_plan_for_uses_own_plan_then_default() -> None:
    plans = parse_plans(PLANS)
    assert plans.plan_for("acme")[0] == "pro"  # type: ignore[index]
    assert plans.plan_for("someone-else")[0] == "payg"  # type: ignore[index]
    without_default = parse_plans(PLANS.replace("default_plan: payg", ""))
    assert without_default.plan_for("someone-else") is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("plans: {a: {kind: markup, markup_percent: 10}}\ncustomers: {x: nope}", "unknown plan"),
        ("plans: {a: {kind: barter}}", "plans.a"),
        ("plans: {a: {kind: markup, markup_percent: -5}}", "markup_percent"),
        ("plans: {a: {kind: markup, markup_percent: 5, typo: 1}}", "typo"),
        ("plans: {a: {kind: flat}}", "monthly_fee"),
        ("plans: {a: {kind: resale, prices_per_1m: {}}}", "prices_per_1m"),
        ("- just\n- a list", "mapping"),
        ("plans: [unclosed", "not valid YAML"),
        ("plans: {a: {kind: markup, markup_percent: .inf}}", "plans"),
        ("default_plan: ghost\nplans: {a: {kind: markup, markup_percent: 1}}", "ghost"),
    ],
)
def test_invalid_plans_are_refused_with_the_reason(text: str, fragment: str) -> None:
    with pytest.raises(PlansError, match=None) as err:
        parse_plans(text)
    assert fragment in str(err.value)


def test_default_plan_never_bills_unattributed_usage() -> None:
    plans = parse_plans("default_plan: payg\nplans:\n  payg: {kind: markup, markup_percent: 10}\n")
    assert plans.plan_for("acme") is not None
    assert plans.plan_for("unattributed") is None
