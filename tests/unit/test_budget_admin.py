from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from meterline.budget_admin import PolicyInputError, build_policy, parse_thresholds
from schemas.budgets import BudgetAction, BudgetScope, BudgetUnit, BudgetWindow


def test_build_policy_keeps_exact_decimals() -> None:
    policy = build_policy(
        policy_id="p", scope="team", subject="ml", limit="0.1", unit="usd", window="7d",
        thresholds="80, 50", action="alert", now=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    assert policy.limit == Decimal("0.1")
    assert policy.thresholds == [Decimal(50), Decimal(80)]
    assert (policy.scope, policy.unit, policy.window, policy.action) == (
        BudgetScope.TEAM,
        BudgetUnit.USD,
        BudgetWindow.ROLLING_7D,
        BudgetAction.ALERT,
    )


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"limit": "ten"}, "limit must be a decimal"),
        ({"limit": "0"}, "limit"),
        ({"thresholds": "50,100"}, "below 100"),
        ({"thresholds": "x"}, "thresholds must be numbers"),
        ({"subject": "bad subject"}, "subject"),
    ],
)
def test_invalid_input_names_the_reason(overrides: dict, reason: str) -> None:
    values = {"policy_id": "p", "scope": "key", "subject": "k", "limit": "10"} | overrides
    with pytest.raises(PolicyInputError, match=reason):
        build_policy(**values)


def test_empty_thresholds_mean_only_the_hard_limit() -> None:
    assert parse_thresholds("") == []
    assert parse_thresholds("50%,80") == [Decimal(50), Decimal(80)]
