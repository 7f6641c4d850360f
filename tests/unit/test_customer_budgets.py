"""One notion of customer in budgets: a customer budget names the key's owner (and says so when
no key is bound), a tag customer on a shared key gets alert-only budgets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterline.budget_admin import (
    PolicyInputError,
    build_policy,
    default_action,
    unbound_customer_warning,
)
from schemas.budgets import BudgetAction, BudgetScope
from schemas.keys import KeyBinding

NOW = datetime(2026, 11, 3, tzinfo=UTC)


def _binding(key: str, owner: str) -> KeyBinding:
    return KeyBinding(api_key_id=key, team_id="t", owner_customer=owner, updated_at=NOW)


def test_a_customer_budget_without_a_bound_key_says_how_to_bind_one() -> None:
    policy = build_policy(policy_id="p", scope="customer", subject="cust-0001", limit="5")
    warning = unbound_customer_warning(policy, [_binding("key_3f9a", "acme")])
    assert warning is not None
    assert "no API key is bound to customer 'cust-0001'" in warning
    assert "meterline keys bind KEY_ID --team TEAM --customer cust-0001" in warning
    assert "--scope tag_customer" in warning
    acme = build_policy(policy_id="p", scope="customer", subject="acme", limit="5")
    assert unbound_customer_warning(acme, [_binding("key_3f9a", "acme")]) is None
    key = build_policy(policy_id="p", scope="key", subject="k", limit="5")
    assert unbound_customer_warning(key, []) is None


def test_tag_customer_budgets_alert_and_refuse_block_with_the_reason() -> None:
    assert default_action("tag_customer") == "alert"
    assert default_action("customer") == "block"
    policy = build_policy(
        policy_id="p", scope="tag_customer", subject="cust-0001", limit="5", action="alert"
    )
    assert (policy.scope, policy.action) == (BudgetScope.TAG_CUSTOMER, BudgetAction.ALERT)
    with pytest.raises(PolicyInputError, match=r"alert-only.*never blocks the key"):
        build_policy(policy_id="p", scope="tag_customer", subject="cust-0001", limit="5",
                     action="block")  # fmt: skip


def test_limits_never_follow_a_tag() -> None:
    from pydantic import ValidationError

    from schemas.limits import LimitPolicy

    with pytest.raises(ValidationError, match="never a customer: tag"):
        LimitPolicy(scope=BudgetScope.TAG_CUSTOMER, subject="cust-0001", rpm=10, updated_at=NOW)
