"""Where each budget stands: policy, the stream's latest state and the last alert, joined per
policy. Pure (the topics are read by ``budget_admin.read_budget_status``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, ConfigDict

from schemas.budgets import BudgetAlert, BudgetPolicy, BudgetState

__all__ = ["NO_SPEND_YET", "BudgetStatusRow", "status_rows"]

NO_SPEND_YET = "no spend yet"
"""The state of a policy the stream has not charged anything to (yet)."""

_TENTH = Decimal("0.1")


class BudgetStatusRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    policy_id: str
    scope: str
    subject: str
    window: str
    unit: str
    action: str
    spend: Decimal
    limit: Decimal
    percent: Decimal
    """``spend / limit``, one decimal, half up."""
    state: str
    """``ok``, ``warning``, ``exceeded`` (the stream's verdict) or ``no spend yet``."""
    resets_at: datetime | None
    last_alert: str
    """``80 % at 2026-11-03T10:12:00+00:00``, or empty."""
    max_call_cost: Decimal | None = None
    """What a gateway reserves per call against a block cap (the policy's, when set)."""


def status_rows(
    policies: Iterable[BudgetPolicy],
    states: Mapping[str, BudgetState],
    alerts: Mapping[str, BudgetAlert],
) -> list[BudgetStatusRow]:
    """One row per policy, most used first. A state left from an earlier version of a policy
    (another scope or subject) is ignored."""
    out = []
    for policy in policies:
        state = states.get(policy.policy_id)
        if state is not None and (state.scope, state.subject) != (policy.scope, policy.subject):
            state = None
        spend = state.spend if state is not None else Decimal(0)
        alert = alerts.get(policy.policy_id)
        out.append(
            BudgetStatusRow(
                policy_id=policy.policy_id,
                scope=policy.scope.value,
                subject=policy.subject,
                window=policy.window.value,
                unit=policy.unit.value,
                action=policy.action.value,
                spend=spend,
                limit=policy.limit,
                percent=(spend * 100 / policy.limit).quantize(_TENTH, rounding=ROUND_HALF_UP),
                state=state.status.value if state is not None else NO_SPEND_YET,
                resets_at=state.resets_at if state is not None else None,
                last_alert=(
                    f"{alert.threshold.normalize():f} % at {alert.emitted_at.isoformat()}"
                    if alert is not None
                    else ""
                ),
                max_call_cost=policy.max_call_cost,
            )
        )
    out.sort(key=lambda r: (-r.percent, r.policy_id))
    return out
