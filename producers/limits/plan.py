"""What a call asks for (pure): the limits and ``block`` budgets over a key's binding, and the
call's estimated tokens and worst-case cost, as one ``rules.Ask``.

``LimitIndex`` holds the latest limits, budget policies and budget states the gateway follows
from the compacted topics; writers replace whole entries, so reads need no lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from producers.limits.rules import Ask, BudgetAsk, RateAsk, to_micros
from schemas.budgets import (
    BudgetAction,
    BudgetPolicy,
    BudgetScope,
    BudgetState,
    BudgetUnit,
    BudgetWindow,
)
from schemas.keys import KeyBinding
from schemas.limits import LimitPolicy, limit_id

__all__ = ["CallEstimate", "LimitIndex", "estimate_prompt_tokens", "window_of"]

_ROLLING_S = {
    BudgetWindow.ROLLING_1H: 3600,
    BudgetWindow.ROLLING_24H: 86400,
    BudgetWindow.ROLLING_7D: 7 * 86400,
    BudgetWindow.ROLLING_30D: 30 * 86400,
}


def estimate_prompt_tokens(messages: object) -> int:
    """A tokenizer-free upper-leaning estimate: ~4 characters per token plus a few tokens per
    message. Only the reservation uses it; the settle charges the real count."""
    if isinstance(messages, str):
        return math.ceil(len(messages) / 4) + 4
    total = 0
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content", "") if isinstance(message, dict) else message
            total += 4 + math.ceil(len(str(content or "")) / 4)
    return total


def window_of(window: BudgetWindow, now: datetime) -> tuple[float, str, float]:
    """(rolling length in seconds or 0, instance suffix, calendar end or 0) of a budget window."""
    if window in _ROLLING_S:
        return float(_ROLLING_S[window]), "", 0.0
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return 0.0, f"@{start:%Y-%m}", end.timestamp()


@dataclass(frozen=True, slots=True)
class CallEstimate:
    """What one call may use: its tokens and, when priced, its worst-case cost in USD."""

    call_id: str
    tokens: int
    max_cost: Decimal | None = None


class LimitIndex:
    """Limits, ``block`` budget policies and budget states per subject, in memory."""

    def __init__(self, *, lease_s: float = 300.0, unpriced_call_cost: Decimal = Decimal(1)):
        self.lease_s = lease_s
        self.unpriced_call_cost = unpriced_call_cost
        self._limits: dict[tuple[BudgetScope, str], LimitPolicy] = {}
        self._policies: dict[str, BudgetPolicy] = {}
        self._by_subject: dict[tuple[BudgetScope, str], dict[str, BudgetPolicy]] = {}
        self._states: dict[str, BudgetState] = {}
        self._plans: dict[tuple[str, str, str], tuple[tuple[RateAsk, ...], tuple[_Cap, ...]]] = {}
        """What ``ask`` derives per (key, team, owner), until a limit, policy or state changes."""

    def apply_limit(self, key: str, limit: LimitPolicy | None) -> None:
        self._plans = {}
        scope, _, subject = key.partition(":")
        try:
            target = (BudgetScope(scope), subject)
        except ValueError:
            return
        if limit is None:
            self._limits.pop(target, None)
        else:
            self._limits[(limit.scope, limit.subject)] = limit

    def apply_policy(self, policy_id: str, policy: BudgetPolicy | None) -> None:
        self._plans = {}
        old = self._policies.pop(policy_id, None)
        if old is not None:
            subject = (old.scope, old.subject)
            rest = {k: v for k, v in self._by_subject.get(subject, {}).items() if k != policy_id}
            self._by_subject[subject] = rest
        if policy is not None and policy.action is BudgetAction.BLOCK:
            self._policies[policy_id] = policy
            subject = (policy.scope, policy.subject)
            self._by_subject[subject] = {**self._by_subject.get(subject, {}), policy_id: policy}

    def apply_state(self, policy_id: str, state: BudgetState | None) -> None:
        self._plans = {}
        if state is None:
            self._states.pop(policy_id, None)
        else:
            self._states[policy_id] = state

    def limits(self) -> list[LimitPolicy]:
        return list(self._limits.values())

    def ask(
        self, api_key_id: str, binding: KeyBinding | None, call: CallEstimate, now: datetime
    ) -> Ask:
        """Every limit and ``block`` budget over the key, its team and its owner customer."""
        team = binding.team_id if binding is not None else ""
        owner = binding.owner_customer if binding is not None else ""
        plan = self._plans.get((api_key_id, team, owner))
        if plan is None:
            plan = self._plans[(api_key_id, team, owner)] = self._plan(api_key_id, team, owner)
        rates, caps = plan
        if not caps:
            return Ask(call.call_id, call.tokens, rates)
        return Ask(call.call_id, call.tokens, rates, tuple(c.ask(self, call, now) for c in caps))

    def _plan(
        self, api_key_id: str, team: str, owner: str
    ) -> tuple[tuple[RateAsk, ...], tuple[_Cap, ...]]:
        subjects = [(BudgetScope.KEY, api_key_id)]
        if team:
            subjects.append((BudgetScope.TEAM, team))
        if owner:
            subjects.append((BudgetScope.CUSTOMER, owner))
        rates: list[RateAsk] = []
        caps: list[_Cap] = []
        for scope, subject in subjects:
            label = f"{scope.value} {subject}"
            limit = self._limits.get((scope, subject))
            if limit is not None:
                rates.append(
                    RateAsk(
                        key=limit_id(scope, subject),
                        subject=label,
                        rpm=limit.rpm,
                        tpm=limit.tpm,
                        max_parallel=limit.max_parallel,
                        lease_s=limit.lease_s or self.lease_s,
                    )
                )
            for policy in self._by_subject.get((scope, subject), {}).values():
                caps.append(_Cap.of(policy, label, self.unpriced_call_cost))
        return tuple(rates), tuple(caps)

    def _floor(self, policy: BudgetPolicy, now: datetime) -> int:
        """The stream's reported spend, while it still describes the current window."""
        state = self._states.get(policy.policy_id)
        if state is None or state.unit is not policy.unit or state.window is not policy.window:
            return 0
        if state.resets_at is not None and now < state.resets_at:
            return to_micros(max(state.spend, Decimal(0)))
        if policy.window is BudgetWindow.MONTH:
            _, instance, _ = window_of(policy.window, now)
            if instance == f"@{state.window_start:%Y-%m}":
                return to_micros(max(state.spend, Decimal(0)))
        return 0


@dataclass(frozen=True, slots=True)
class _Cap:
    """What ``ask`` needs of one ``block`` policy, derived once."""

    policy: BudgetPolicy
    subject: str
    limit: int
    fixed_cost: int | None
    """The per-call reservation when it does not depend on the call (``max_call_cost``,
    a request count)."""
    unpriced: int

    @classmethod
    def of(cls, policy: BudgetPolicy, label: str, unpriced: Decimal) -> _Cap:
        fixed = None
        if policy.unit is BudgetUnit.REQUESTS:
            fixed = to_micros(Decimal(1))
        elif policy.unit is BudgetUnit.USD and policy.max_call_cost is not None:
            fixed = to_micros(policy.max_call_cost)
        return cls(policy, f"{label} (budget {policy.policy_id})", to_micros(policy.limit), fixed,
                   to_micros(unpriced))  # fmt: skip

    def ask(self, index: LimitIndex, call: CallEstimate, now: datetime) -> BudgetAsk:
        policy = self.policy
        window_s, instance, ends_at = window_of(policy.window, now)
        if self.fixed_cost is not None:
            cost = self.fixed_cost
        elif policy.unit is BudgetUnit.TOKENS:
            cost = call.tokens * 1_000_000
        else:
            cost = to_micros(call.max_cost) if call.max_cost is not None else self.unpriced
        return BudgetAsk(
            key=f"{policy.policy_id}:{policy.unit.value}:{policy.window.value}{instance}",
            subject=self.subject,
            limit=self.limit,
            cost=cost,
            floor=index._floor(policy, now),
            window_s=window_s,
            ends_at=ends_at,
            lease_s=index.lease_s,
            unit=policy.unit.value,
        )
