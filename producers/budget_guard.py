"""``BudgetGuard``: the gateway's local answer to "may this key make a call?".

``check(api_key_id) -> GuardDecision`` answers in O(1) from memory, without a network call. In
the background the guard follows two compacted topics from their beginning: ``meterline.keys``
(a key's team and owner customer) and ``meterline.budgets.state`` (each policy's status). A key
is refused while the key, its team or its owner customer has a policy that is ``exceeded`` with
action ``block`` and whose ``resets_at`` has not passed.

It also follows ``meterline.limits`` and ``meterline.budgets.policies`` into ``limits``, which
the admission guard (``producers.limits.LimitGuard``) turns into reservations.

``start()`` returns once the topics are read up to their end as of start-up, so a restarted
gateway knows the current state before it serves (or after ``guard_start_timeout_s``, when the
fail mode decides). While state is unavailable, ``fail_mode="open"`` still applies every block
it knows and allows the rest; ``"closed"`` refuses every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from compacted import CompactedFollower, Invalid, InvalidValue, Update
from producers.config import GuardSettings
from producers.errors import ProducerNotStarted
from producers.limits.plan import LimitIndex
from schemas.budgets import BudgetAction, BudgetPolicy, BudgetScope, BudgetState, BudgetStatus
from schemas.keys import KeyBinding
from schemas.limits import LimitPolicy
from schemas.topics import BUDGET_POLICIES, BUDGET_STATE, KEYS, LIMITS, Topics, TopicSpec

__all__ = ["BudgetGuard", "GuardDecision", "GuardIndex"]

log = logging.getLogger(__name__)

_PROBE_INTERVAL_S = 1.0
_FETCH_MAX_WAIT_MS = 50

_Value = KeyBinding | BudgetState | LimitPolicy | BudgetPolicy
_Follower = CompactedFollower[_Value]
_MODELS: dict[str, Callable[[bytes], _Value]] = {
    KEYS.name: KeyBinding.model_validate_json,
    BUDGET_STATE.name: BudgetState.model_validate_json,
    LIMITS.name: LimitPolicy.model_validate_json,
    BUDGET_POLICIES.name: BudgetPolicy.model_validate_json,
}


@dataclass(frozen=True)
class GuardDecision:
    allowed: bool
    reason: str = ""
    """Why a call is refused, fit to show the caller (empty when allowed)."""
    policy_id: str | None = None
    blocked_until: datetime | None = None
    """When the blocking window frees up, if known."""
    subject: str = ""
    """The blocked subject (``key acme-prod``, ``team t1``, ``customer acme``)."""


ALLOWED = GuardDecision(True)


class GuardIndex:
    """Blocking states and key bindings in memory (pure).

    Writers replace inner dicts instead of mutating them, so ``decide`` may run on another
    thread than ``apply_*`` without locks.
    """

    def __init__(self) -> None:
        self._bindings: dict[str, KeyBinding] = {}
        self._blocks: dict[tuple[BudgetScope, str], dict[str, BudgetState]] = {}
        self._subject_of: dict[str, tuple[BudgetScope, str]] = {}

    def apply_binding(self, api_key_id: str, binding: KeyBinding | None) -> None:
        if binding is None:
            self._bindings.pop(api_key_id, None)
        else:
            self._bindings[api_key_id] = binding

    def binding(self, api_key_id: str) -> KeyBinding | None:
        return self._bindings.get(api_key_id)

    def apply_state(self, policy_id: str, state: BudgetState | None) -> None:
        old = self._subject_of.pop(policy_id, None)
        if old is not None:
            remaining = {k: v for k, v in self._blocks.get(old, {}).items() if k != policy_id}
            if remaining:
                self._blocks[old] = remaining
            else:
                self._blocks.pop(old, None)
        if (
            state is not None
            and state.status is BudgetStatus.EXCEEDED
            and state.action is BudgetAction.BLOCK
        ):
            subject = (state.scope, state.subject)
            self._blocks[subject] = {**self._blocks.get(subject, {}), policy_id: state}
            self._subject_of[policy_id] = subject

    def decide(self, api_key_id: str, now: datetime) -> GuardDecision:
        subjects = [(BudgetScope.KEY, api_key_id)]
        binding = self._bindings.get(api_key_id)
        if binding is not None:
            if binding.team_id:
                subjects.append((BudgetScope.TEAM, binding.team_id))
            if binding.owner_customer:
                subjects.append((BudgetScope.CUSTOMER, binding.owner_customer))
        for subject in subjects:
            for state in self._blocks.get(subject, {}).values():
                if state.resets_at is None or now < state.resets_at:
                    return GuardDecision(
                        allowed=False,
                        reason=(
                            f"budget {state.policy_id} of {state.scope.value} {state.subject} "
                            f"exceeded: {state.spend} of {state.limit} {state.unit.value} "
                            f"per {state.window.value}"
                        ),
                        policy_id=state.policy_id,
                        blocked_until=state.resets_at,
                        subject=f"{state.scope.value} {state.subject}",
                    )
        return ALLOWED


class BudgetGuard:
    """Follows budget state and key bindings in the background; ``check`` is local."""

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self.settings = settings or GuardSettings()
        self.topics = Topics(self.settings.topic_prefix)
        self.index = GuardIndex()
        self.limits = LimitIndex(
            lease_s=self.settings.limits_lease_s,
            unpriced_call_cost=self.settings.limits_unpriced_call_cost,
        )
        """Rate limits and ``block`` budgets the admission guard (``producers.limits``) asks."""
        self._task: asyncio.Task[None] | None = None
        self._limits_task: asyncio.Task[None] | None = None
        self._primary = self._follower([KEYS, BUDGET_STATE], primary=True)
        self._secondary = self._follower([LIMITS, BUDGET_POLICIES], primary=False)
        self.changed = asyncio.Event()
        """Set whenever a record was applied; waiters clear it themselves."""

    @property
    def available(self) -> bool:
        """Loaded once and in contact with the broker within ``guard_stale_after_s``."""
        stale = time.monotonic() - self._primary.last_contact > self.settings.guard_stale_after_s
        return self._loaded and not stale

    async def start(self) -> BudgetGuard:
        if self._task is None:
            # Two followers: the limits and policies topics are followed apart from the bindings
            # and states every block depends on, so a problem with the newer topics (missing,
            # slow) cannot hold up the stream's blocks.
            self._task = asyncio.create_task(self._primary.run(), name="budget-guard")
            self._limits_task = asyncio.create_task(
                self._secondary.run(), name="budget-guard-limits"
            )
            waiter = asyncio.create_task(self._both_caught_up())
            try:
                await asyncio.wait(
                    {waiter, self._task},
                    timeout=self.settings.guard_start_timeout_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiter.cancel()
            for task in (self._task, self._limits_task):
                if task.done() and not task.cancelled() and (exc := task.exception()) is not None:
                    raise exc
            if not self._loaded:
                log.warning(
                    "budget state not loaded within %ss; serving fail-%s",
                    self.settings.guard_start_timeout_s,
                    self.settings.guard_fail_mode,
                )
        return self

    async def stop(self) -> None:
        tasks = [t for t in (self._task, self._limits_task) if t is not None]
        self._task = self._limits_task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def _loaded(self) -> bool:
        return self._primary.loaded.is_set()

    async def _both_caught_up(self) -> None:
        """Bindings and states loaded, and limits and policies loaded (or their follower
        ended: no such topics, or it failed, which ``start`` then raises)."""
        await self._primary.loaded.wait()
        assert self._limits_task is not None
        limits = asyncio.create_task(self._secondary.loaded.wait())
        try:
            await asyncio.wait({limits, self._limits_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            limits.cancel()

    def check(self, api_key_id: str, now: datetime | None = None) -> GuardDecision:
        """May ``api_key_id`` make a call now? Memory only; never waits."""
        if self._task is None:
            raise ProducerNotStarted("BudgetGuard.check() before start()")
        if not self.available and self.settings.guard_fail_mode == "closed":
            return GuardDecision(False, reason="budget state unavailable (fail-closed)")
        return self.index.decide(api_key_id, now or datetime.now(UTC))

    def _follower(self, specs: list[TopicSpec], *, primary: bool) -> _Follower:
        """Bindings and states (``primary``; it also tells availability) or the limits and
        policies, followed from the beginning of their topics."""
        decoders = {self.topics.name(spec): _MODELS[spec.name] for spec in specs}
        return CompactedFollower(
            self.settings.kafka_bootstrap,
            decoders,
            on_update=self._apply,
            on_invalid=_log_invalid,
            invalid=InvalidValue.SKIP,
            # Limits and policies only when their topics exist: a deployment that has not run
            # ``meterline topics create`` since they were added keeps enforcing budget state.
            optional=not primary,
            on_missing=self._warn_missing,
            client_id="meterline-budget-guard" + ("" if primary else "-limits"),
            # Short long-polls: a block must reach the gateway well within a second.
            fetch_max_wait_ms=_FETCH_MAX_WAIT_MS,
            poll_ms=100,
            # The state counts as unavailable once these probes fail for a while.
            probe_interval_s=_PROBE_INTERVAL_S if primary else None,
        )

    def _warn_missing(self, topic: str) -> None:
        log.warning(
            "topic %s does not exist (run `meterline topics create`); gateways apply "
            "no %s until it does",
            topic,
            "rate limits" if topic == self.topics.limits else "cap reservations",
        )

    def _apply(self, update: Update[_Value]) -> None:
        topic, name, value = update.topic, update.key, update.new
        if topic == self.topics.keys:
            assert value is None or isinstance(value, KeyBinding)
            self.index.apply_binding(name, value)
        elif topic == self.topics.limits:
            assert value is None or isinstance(value, LimitPolicy)
            self.limits.apply_limit(name, value)
        elif topic == self.topics.budget_policies:
            assert value is None or isinstance(value, BudgetPolicy)
            self.limits.apply_policy(name, value)
        else:
            assert value is None or isinstance(value, BudgetState)
            self.index.apply_state(name, value)
            self.limits.apply_state(name, value)
        self.changed.set()


def _log_invalid(invalid: Invalid) -> None:
    log.error(
        "budget guard skipped an invalid record on %s key %r: %s",
        invalid.topic,
        invalid.key,
        invalid.error,
    )
