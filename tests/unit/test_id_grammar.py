"""Issue 10 item 8: one id grammar for keys, teams, customers and budget subjects."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterline.budget_admin import PolicyInputError, build_policy
from meterline.key_bindings import InvalidBinding, make_binding

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("team", "customer", "field"),
    [
        ("platform", "acme\nfake team=admin", "owner_customer"),
        ("", "acme", "team_id"),
        ("plat\tform", "", "team_id"),
        ("platform", "Acme Corp", "owner_customer"),
        ("platform", "acme\x00", "owner_customer"),
        ("platform", "x" * 129, "owner_customer"),
    ],
)
def test_bindings_refuse_what_the_key_grammar_refuses(team, customer, field):
    with pytest.raises(InvalidBinding, match=field):
        make_binding("key_1", team, customer, NOW)


@pytest.mark.parametrize("customer", ["acme", "Acme.Corp", "acme-eu", "acme@corp", "c:1"])
def test_whatever_can_be_bound_can_be_budgeted(customer):
    binding = make_binding("key_1", "platform", customer, NOW)
    policy = build_policy(policy_id="p", scope="customer", subject=binding.owner_customer,
                          limit="10", now=NOW)  # fmt: skip
    assert policy.subject == customer


@pytest.mark.parametrize("customer", ["Acme Corp", "acme\n", "", "é"])
def test_whatever_cannot_be_budgeted_cannot_be_bound_either(customer):
    with pytest.raises(PolicyInputError):
        build_policy(policy_id="p", scope="customer", subject=customer, limit="10", now=NOW)
    if customer:
        with pytest.raises(InvalidBinding):
            make_binding("key_1", "platform", customer, NOW)
