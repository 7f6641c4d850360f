"""Live budget state for the console: what the stream publishes on its compacted topics
(policies, per-policy state, key bindings), as a snapshot. Pure; the process that serves the
console injects a ``LiveBudgets`` that follows Kafka (``meterline.console_live``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from schemas.budgets import BudgetAction, BudgetPolicy, BudgetScope, BudgetState, BudgetStatus
from schemas.keys import KeyBinding

__all__ = ["BudgetRow", "LiveBudgets", "LiveSnapshot", "budget_rows", "rows_for", "worst_status"]


@dataclass(frozen=True)
class LiveSnapshot:
    ready: bool
    """The topics were read to their end at least once."""
    source: str
    """Where the state comes from, for the page ("Kafka at …")."""
    policies: tuple[BudgetPolicy, ...] = ()
    states: tuple[BudgetState, ...] = ()
    bindings: tuple[KeyBinding, ...] = ()
    error: str = ""
    window_starts: Mapping[str, datetime] = field(default_factory=dict)
    """Policy id → start of its current window, as the stream counts it."""


class LiveBudgets(Protocol):
    def snapshot(self) -> LiveSnapshot: ...


@dataclass(frozen=True)
class BudgetRow:
    policy_id: str
    scope: BudgetScope
    subject: str
    unit: str
    window: str
    action: BudgetAction
    limit: Decimal
    spend: Decimal
    status: BudgetStatus
    resets_at: datetime | None
    updated_at: datetime | None
    percent: Decimal = field(default=Decimal(0))
    """Spend as percent of the limit, 0–100 for the bar (the text shows the exact spend)."""


_RANK = {BudgetStatus.OK: 0, BudgetStatus.WARNING: 1, BudgetStatus.EXCEEDED: 2}


def budget_rows(
    snapshot: LiveSnapshot, spend_now: Mapping[str, Decimal] | None = None
) -> list[BudgetRow]:
    """One row per live policy, its latest state joined; exceeded first, then by share of the
    limit spent. Spend is ``spend_now[policy_id]`` when given (the stream publishes a state
    only when the status changes, so its spend is that moment's), else the state's (0 without
    one); status and reset time are the stream's, which gateways enforce."""
    states = {s.policy_id: s for s in snapshot.states}
    out = []
    for p in snapshot.policies:
        s = states.get(p.policy_id)
        spend = s.spend if s is not None else Decimal(0)
        if spend_now is not None and p.policy_id in spend_now:
            spend = spend_now[p.policy_id]
        limit = s.limit if s is not None else p.limit
        pct = min(Decimal(100), max(Decimal(0), spend * 100 / limit)) if limit else Decimal(0)
        out.append(
            BudgetRow(
                policy_id=p.policy_id,
                scope=p.scope,
                subject=p.subject,
                unit=p.unit.value,
                window=p.window.value,
                action=p.action,
                limit=limit,
                spend=spend,
                status=s.status if s is not None else BudgetStatus.OK,
                resets_at=s.resets_at if s is not None else None,
                updated_at=s.updated_at if s is not None else None,
                percent=pct.quantize(Decimal("0.1")),
            )
        )
    out.sort(key=lambda r: (-_RANK[r.status], -r.percent, r.policy_id))
    return out


def rows_for(
    rows: Iterable[BudgetRow], customer: str, keys: Iterable[str], teams: Iterable[str]
) -> list[BudgetRow]:
    """The policies that charge ``customer``: its own (owner customer), its keys', its teams'."""
    wanted = {(BudgetScope.CUSTOMER, customer)}
    wanted |= {(BudgetScope.KEY, k) for k in keys if k}
    wanted |= {(BudgetScope.TEAM, t) for t in teams if t}
    return [r for r in rows if (r.scope, r.subject) in wanted]


def worst_status(rows: Iterable[BudgetRow]) -> BudgetStatus | None:
    """The worst status among ``rows`` (``None`` when there are none)."""
    statuses = [r.status for r in rows]
    return max(statuses, key=_RANK.__getitem__) if statuses else None
