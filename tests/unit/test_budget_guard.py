from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from producers.budget_guard import GuardIndex
from schemas.budgets import (
    BudgetAction,
    BudgetScope,
    BudgetState,
    BudgetStatus,
    BudgetUnit,
    BudgetWindow,
)
from schemas.keys import KeyBinding

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def state(scope, subject, status=BudgetStatus.EXCEEDED, action=BudgetAction.BLOCK, **kw):
    values = {
        "policy_id": f"p-{scope.value}-{subject}",
        "scope": scope,
        "subject": subject,
        "status": status,
        "action": action,
        "unit": BudgetUnit.USD,
        "window": BudgetWindow.ROLLING_24H,
        "spend": Decimal("10.5"),
        "limit": Decimal(10),
        "window_start": NOW - timedelta(days=1),
        "resets_at": NOW + timedelta(hours=3),
        "updated_at": NOW,
    } | kw
    return BudgetState(**values)


def index_with_binding() -> GuardIndex:
    index = GuardIndex()
    index.apply_binding(
        "k1", KeyBinding(api_key_id="k1", team_id="ml", owner_customer="acme", updated_at=NOW)
    )
    return index


def test_key_team_and_owner_customer_blocks_refuse_the_key() -> None:
    for scope, subject in [
        (BudgetScope.KEY, "k1"),
        (BudgetScope.TEAM, "ml"),
        (BudgetScope.CUSTOMER, "acme"),
    ]:
        index = index_with_binding()
        s = state(scope, subject)
        index.apply_state(s.policy_id, s)
        decision = index.decide("k1", NOW)
        assert not decision.allowed
        assert decision.policy_id == s.policy_id
        assert decision.blocked_until == NOW + timedelta(hours=3)
        assert subject in decision.reason
        assert index.decide("k2", NOW).allowed


def test_tags_never_block_an_unbound_key() -> None:
    index = GuardIndex()
    s = state(BudgetScope.CUSTOMER, "acme")
    index.apply_state(s.policy_id, s)
    assert index.decide("k1", NOW).allowed


def test_alert_only_and_warning_states_do_not_block() -> None:
    index = index_with_binding()
    for s in [
        state(BudgetScope.KEY, "k1", action=BudgetAction.ALERT),
        state(BudgetScope.TEAM, "ml", status=BudgetStatus.WARNING),
    ]:
        index.apply_state(s.policy_id, s)
    assert index.decide("k1", NOW).allowed


def test_block_ends_when_the_window_frees_up_or_the_status_drops() -> None:
    index = index_with_binding()
    s = state(BudgetScope.KEY, "k1")
    index.apply_state(s.policy_id, s)
    assert index.decide("k1", NOW + timedelta(hours=3)).allowed
    assert not index.decide("k1", NOW).allowed
    index.apply_state(s.policy_id, state(BudgetScope.KEY, "k1", status=BudgetStatus.OK))
    assert index.decide("k1", NOW).allowed
    index.apply_state(s.policy_id, s)
    index.apply_state(s.policy_id, None)
    assert index.decide("k1", NOW).allowed


def test_unbinding_a_key_drops_its_team_and_customer_blocks() -> None:
    index = index_with_binding()
    s = state(BudgetScope.CUSTOMER, "acme")
    index.apply_state(s.policy_id, s)
    assert not index.decide("k1", NOW).allowed
    index.apply_binding("k1", None)
    assert index.decide("k1", NOW).allowed
