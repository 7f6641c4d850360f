"""Budget status: policy + the stream's state + the last alert, per policy, most used first."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from meterline.budget_admin import build_policy
from meterline.budget_status import NO_SPEND_YET, status_rows
from schemas.budgets import (
    BudgetAction,
    BudgetAlert,
    BudgetScope,
    BudgetState,
    BudgetStatus,
    BudgetUnit,
    BudgetWindow,
)

NOW = datetime(2026, 11, 3, 10, tzinfo=UTC)


def _state(policy_id: str, subject: str, spend: str, status: BudgetStatus) -> BudgetState:
    return BudgetState(policy_id=policy_id, scope=BudgetScope.CUSTOMER, subject=subject,
                       status=status, action=BudgetAction.BLOCK, unit=BudgetUnit.USD,
                       window=BudgetWindow.MONTH, spend=D(spend), limit=D(50),
                       window_start=NOW, resets_at=datetime(2026, 12, 1, tzinfo=UTC),
                       updated_at=NOW)  # fmt: skip


def test_rows_join_policy_state_and_last_alert() -> None:
    acme = build_policy(policy_id="acme", scope="customer", subject="acme", limit="50",
                        window="month")  # fmt: skip
    idle = build_policy(policy_id="idle", scope="key", subject="k", limit="5")
    moved = build_policy(policy_id="moved", scope="customer", subject="globex", limit="5")
    alert = BudgetAlert(alert_id="a1", policy_id="acme", scope=BudgetScope.CUSTOMER,
                        subject="acme", threshold=D(80), spend=D("41"), limit=D(50),
                        unit=BudgetUnit.USD, window=BudgetWindow.MONTH, window_start=NOW,
                        action=BudgetAction.BLOCK, event_id="e9", occurred_at=NOW,
                        emitted_at=NOW)  # fmt: skip
    rows = status_rows(
        [idle, acme, moved],
        {"acme": _state("acme", "acme", "42.50", BudgetStatus.WARNING),
         "moved": _state("moved", "initech", "99", BudgetStatus.EXCEEDED)},
        {"acme": alert},
    )  # fmt: skip
    first = rows[0]
    assert (first.policy_id, first.spend, first.percent, first.state) == (
        "acme", D("42.50"), D("85.0"), "warning")  # fmt: skip
    assert first.resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert first.last_alert == "80 % at 2026-11-03T10:00:00+00:00"
    # A state of another subject (the policy was re-pointed) is not this policy's spend.
    assert {r.policy_id: r.state for r in rows[1:]} == {"idle": NO_SPEND_YET, "moved": NO_SPEND_YET}
