"""``LimitGuard`` over in-memory state: limits follow the key's binding, the stream's blocks
still refuse, the fail mode decides during an outage, and queued settles land once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from producers.budget_guard import GuardDecision, GuardIndex
from producers.limits.backends import InProcessBackend
from producers.limits.errors import LimitExceeded, LimitsUnavailable
from producers.limits.guard import LimitGuard
from producers.limits.plan import LimitIndex, estimate_prompt_tokens
from producers.limits.rules import Admitted, Ask, Refusal, Settle
from schemas.budgets import (
    BudgetAction,
    BudgetPolicy,
    BudgetScope,
    BudgetState,
    BudgetStatus,
    BudgetUnit,
    BudgetWindow,
)
from schemas.keys import KeyBinding
from schemas.limits import LimitPolicy

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Follower:
    def __init__(self) -> None:
        self.index = GuardIndex()
        self.limits = LimitIndex(lease_s=30)

    def check(self, api_key_id: str, now: datetime | None = None) -> GuardDecision:
        return self.index.decide(api_key_id, now or NOW)


class Flaky(InProcessBackend):
    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.settles = 0

    def reserve(self, ask: Ask) -> Admitted | Refusal:
        if self.down:
            raise LimitsUnavailable("connection refused")
        return super().reserve(ask)

    def settle(self, settle: Settle) -> bool:
        if self.down:
            raise LimitsUnavailable("connection refused")
        applied = super().settle(settle)
        self.settles += applied
        return applied


def bound(follower: Follower, key: str = "k1", team: str = "t1", owner: str = "acme") -> None:
    follower.index.apply_binding(
        key, KeyBinding(api_key_id=key, team_id=team, owner_customer=owner, updated_at=NOW)
    )


def limit(scope: str, subject: str, **kinds: int) -> LimitPolicy:
    return LimitPolicy(scope=BudgetScope(scope), subject=subject, updated_at=NOW, **kinds)


def guard_of(follower: Follower, backend: InProcessBackend | None = None, **kw) -> LimitGuard:  # type: ignore[no-untyped-def]
    return LimitGuard(follower, backend or InProcessBackend(), clock=lambda: NOW, **kw)


def test_customer_limit_applies_to_every_key_it_owns_and_names_the_subject() -> None:
    follower = Follower()
    bound(follower, "k1")
    bound(follower, "k2", team="t2")
    follower.limits.apply_limit("customer:acme", limit("customer", "acme", rpm=3))
    guard = guard_of(follower)
    for key in ("k1", "k2", "k1"):
        guard.settle(guard.reserve(key))
    with pytest.raises(LimitExceeded) as refused:
        guard.reserve("k2")
    assert refused.value.kind == "rpm"
    assert refused.value.subject == "customer acme"
    assert 1 <= refused.value.retry_after_s <= 60
    # An unbound key is not the customer's, whatever its calls' tags say.
    guard.reserve("k-unbound")


def test_team_parallel_limit_frees_a_slot_when_the_call_ends() -> None:
    follower = Follower()
    bound(follower)
    follower.limits.apply_limit("team:t1", limit("team", "t1", max_parallel=1))
    guard = guard_of(follower)
    with guard.admit("k1", messages=[{"role": "user", "content": "hi"}]) as call:
        with pytest.raises(LimitExceeded) as refused:
            guard.reserve("k1")
        assert refused.value.kind == "parallel" and refused.value.subject == "team t1"
        call.usage(tokens=12, cost=Decimal("0.001"))
    guard.settle(guard.reserve("k1"))


def test_slot_is_freed_when_the_call_raises() -> None:
    follower = Follower()
    follower.limits.apply_limit("key:k1", limit("key", "k1", max_parallel=1))
    guard = guard_of(follower)
    with pytest.raises(RuntimeError), guard.admit("k1"):
        raise RuntimeError("provider said 500")
    guard.settle(guard.reserve("k1"))


def test_tpm_reserves_prompt_estimate_plus_max_tokens() -> None:
    follower = Follower()
    follower.limits.apply_limit("key:k1", limit("key", "k1", tpm=1000))
    guard = guard_of(follower, default_max_tokens=500)
    first = guard.reserve("k1", prompt_tokens=100)  # 100 + default 500
    with pytest.raises(LimitExceeded) as refused:
        guard.reserve("k1", prompt_tokens=100, max_tokens=400)
    assert refused.value.kind == "tpm" and "needs 500" in str(refused.value)
    guard.settle(first, tokens=150, cost=Decimal(0))  # refunds 450
    guard.reserve("k1", prompt_tokens=100, max_tokens=400)


def cap(limit_usd: str, **extra: object) -> BudgetPolicy:
    return BudgetPolicy(
        policy_id="cap-acme", scope=BudgetScope.CUSTOMER, subject="acme",
        limit=Decimal(limit_usd), window=BudgetWindow.MONTH, updated_at=NOW, **extra,
    )  # fmt: skip


def test_block_cap_reserves_worst_case_and_settles_real_cost() -> None:
    follower = Follower()
    bound(follower)
    follower.limits.apply_policy("cap-acme", cap("1"))
    guard = guard_of(follower)
    a = guard.reserve("k1", max_cost=Decimal("0.4"))
    b = guard.reserve("k1", max_cost=Decimal("0.4"))
    with pytest.raises(LimitExceeded) as refused:
        guard.reserve("k1", max_cost=Decimal("0.4"))
    assert refused.value.kind == "budget" and "customer acme" in refused.value.subject
    guard.settle(a, cost=Decimal("0.05"))
    guard.settle(b, cost=Decimal("0.05"))
    guard.reserve("k1", max_cost=Decimal("0.8"))


def test_policy_max_call_cost_and_alert_policies() -> None:
    follower = Follower()
    bound(follower)
    follower.limits.apply_policy("cap-acme", cap("1", max_call_cost=Decimal("0.6")))
    follower.limits.apply_policy(
        "alert-only",
        BudgetPolicy(policy_id="alert-only", scope=BudgetScope.KEY, subject="k1",
                     limit=Decimal("0.01"), action=BudgetAction.ALERT, updated_at=NOW),
    )  # fmt: skip
    guard = guard_of(follower)
    guard.reserve("k1", max_cost=Decimal("0.01"))  # the policy's 0.6 is what is reserved
    with pytest.raises(LimitExceeded):
        guard.reserve("k1", max_cost=Decimal("0.01"))


def state(status: BudgetStatus, spend: str, resets_at: datetime | None) -> BudgetState:
    return BudgetState(
        policy_id="cap-acme", scope=BudgetScope.CUSTOMER, subject="acme", status=status,
        action=BudgetAction.BLOCK, unit=BudgetUnit.USD, window=BudgetWindow.MONTH,
        spend=Decimal(spend), limit=Decimal("1"), window_start=NOW.replace(day=1, hour=0),
        resets_at=resets_at, updated_at=NOW,
    )  # fmt: skip


def test_streams_spend_is_a_floor_and_its_exceeded_state_blocks() -> None:
    follower = Follower()
    bound(follower)
    follower.limits.apply_policy("cap-acme", cap("1"))
    follower.limits.apply_state("cap-acme", state(BudgetStatus.WARNING, "0.9", None))
    guard = guard_of(follower)
    with pytest.raises(LimitExceeded):
        guard.reserve("k1", max_cost=Decimal("0.2"))
    guard.settle(guard.reserve("k1", max_cost=Decimal("0.05")))
    exceeded = state(BudgetStatus.EXCEEDED, "1.2", NOW + timedelta(days=30))
    follower.index.apply_state("cap-acme", exceeded)
    with pytest.raises(LimitExceeded) as refused:
        guard.reserve("k1", max_cost=Decimal("0"))
    assert refused.value.kind == "budget" and refused.value.subject == "customer acme"
    assert refused.value.retry_after_s > 86400


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_fail_mode_decides_while_backend_is_down_and_settles_land_once(mode: str) -> None:
    follower = Follower()
    follower.limits.apply_limit("key:k1", limit("key", "k1", max_parallel=5))
    backend = Flaky()
    guard = guard_of(follower, backend, fail_mode=mode)
    held = guard.reserve("k1")
    backend.down = True
    if mode == "closed":
        with pytest.raises(LimitExceeded) as refused:
            guard.reserve("k1")
        assert refused.value.kind == "unavailable"
    else:
        assert not guard.reserve("k1").reserved
    guard.settle(held, tokens=10, cost=Decimal("0.01"))
    guard.settle(held, tokens=10, cost=Decimal("0.01"))  # a duplicate callback
    assert guard.backend_unavailable >= 3 and guard.pending_settles == 2
    backend.down = False
    deadline = time.monotonic() + 10
    while guard.pending_settles:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert backend.settles == 1
    guard.close()


def test_prompt_estimate_grows_with_the_text() -> None:
    short = estimate_prompt_tokens([{"role": "user", "content": "hi"}])
    long = estimate_prompt_tokens([{"role": "user", "content": "hi " * 400}])
    assert 0 < short < long and long >= 300


def test_admit_settles_tokens_of_openai_and_anthropic_responses() -> None:
    follower = Follower()
    follower.limits.apply_limit("key:k1", limit("key", "k1", tpm=10_000))
    backend = InProcessBackend()
    guard = guard_of(follower, backend)
    openai_like = {"usage": {"prompt_tokens": 900, "completion_tokens": 100, "total_tokens": 1000}}
    with guard.admit("k1", prompt_tokens=10, max_tokens=4000) as call:
        call.usage_from(openai_like, cost=Decimal("0.001"))

    class Usage:
        input_tokens, output_tokens, cache_read_input_tokens = 2000, 500, 1000

    class Message:
        usage = Usage()

    with guard.admit("k1", prompt_tokens=10, max_tokens=4000) as call:
        call.usage_from(Message(), cost=Decimal("0.002"))
    assert backend.counters.rates["key:k1"].token_sum == 1000 + 3500
