"""Code the LiteLLM proxy under test imports: a custom auth with a few known keys (the proxy
runs without a database, so it cannot mint virtual keys) and a guard factory.

The guard is a fixed GuardDecision-returning object, not the Kafka-following BudgetGuard of
the budgets issue; the proxy test swaps in the real one once it exists.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from litellm.proxy._types import UserAPIKeyAuth

from producers.budget_guard import GuardDecision

KEYS = {
    "sk-acme-test": ("acme-prod", "team-support"),
    "sk-runaway-test": ("runaway-prod", "team-growth"),
}
BLOCKED_ALIAS = "runaway-prod"
BLOCK_REASON = "spent 50.000000 of 50.000000 USD in the rolling 24h window"
BLOCK_POLICY = "pol-runaway-daily"


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    token = api_key.removeprefix("Bearer ").strip()
    if token not in KEYS:
        raise HTTPException(status_code=401, detail="unknown key")
    alias, team = KEYS[token]
    return UserAPIKeyAuth(api_key=token, key_alias=alias, team_id=team)


class FixedGuard:
    """Blocks ``BLOCKED_ALIAS``, allows every other key."""

    def check(self, api_key_id: str) -> GuardDecision:
        if api_key_id == BLOCKED_ALIAS:
            return GuardDecision(allowed=False, reason=BLOCK_REASON, policy_id=BLOCK_POLICY)
        return GuardDecision(allowed=True)


def fixed_guard() -> FixedGuard:
    return FixedGuard()
