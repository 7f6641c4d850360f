"""``BudgetGuard``: the gateway's local answer to "may this key make a call?".

Contract (the budgets issue builds the Kafka-following implementation behind it):
``check(api_key_id) -> GuardDecision`` answers in O(1) from memory, without a network call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["GuardDecision"]


@dataclass(frozen=True)
class GuardDecision:
    allowed: bool
    reason: str = ""
    """Why a call is refused, fit to show the caller (empty when allowed)."""
    policy_id: str | None = None
    blocked_until: datetime | None = None
    """When the blocking window frees up, if known."""
