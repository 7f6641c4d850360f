"""Budget rules (pure): windowed spend per subject, threshold crossings exactly once, status.

``apply_delta`` is the whole rule set the evaluator agent calls once per delta record:

* **Idempotent.** A subject remembers the last applied offset per source partition; a delta at
  or below it (a record reprocessed after a crash) changes nothing and emits nothing.
* **Buckets.** Usage lands in the bucket of its event time (``stream.budget_windows``); event
  times in the future (gateway clock skew) count at ``now``.
* **Late events.** A rolling window counts an event while its bucket is still inside the window
  at ``now``; older events cannot change the window any more and are dropped (``late_dropped``).
  A ``month`` window counts an event of the previous month in that month (its own window) until
  ``grace_s`` after the month ended, and may alert for that month; later, it is dropped.
* **Alerts.** Threshold ``t`` (each soft threshold, then 100) fires once when spend reaches
  ``limit * t / 100`` and re-arms only after spend falls below that level again. The alert id is
  a hash of (policy, threshold, window instance): the calendar month, or for a rolling window the
  oldest bucket with spend in the window when it fired. Reprocessing therefore reproduces ids.
* **Status.** ``exceeded`` at 100 %, ``warning`` at the lowest soft threshold, else ``ok``; a
  ``BudgetState`` is emitted whenever the status or the policy changes.
* **Opening balances.** A delta naming a ``policy_id`` applies to that policy only; its
  ``fired`` pairs count as already alerted, so a window rebuilt from stored usage after the
  state was lost has the same spend and status and repeats no alert.
* **Policy changes** apply from the next delta on (the stream sends an item-less delta per
  changed subject, so a raised limit unblocks without waiting for usage); a changed unit or
  window starts a new tally; a deleted policy's tally is dropped and reported in ``removed``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from schemas.budgets import (
    BudgetAlert,
    BudgetPolicy,
    BudgetState,
    BudgetStatus,
    BudgetUnit,
    BudgetWindow,
)
from stream.budget_deltas import SpendDelta, UsageItem
from stream.budget_state import PolicyTally, SubjectState
from stream.budget_windows import (
    bucket_start,
    leaves_window_at,
    month_start,
    previous_month_start,
    to_datetime,
    window_bounds,
)

__all__ = [
    "HARD_LIMIT",
    "Outcome",
    "PolicyTally",
    "SubjectState",
    "alert_id",
    "apply_delta",
    "counted_from",
]

HARD_LIMIT = Decimal(100)


def alert_id(policy_id: str, threshold: Decimal, instance: int) -> str:
    """Deterministic id of the alert for (policy, threshold, window instance start)."""
    raw = f"{policy_id}\x00{threshold.normalize()}\x00{instance}".encode()
    return "al_" + hashlib.sha256(raw).hexdigest()[:32]


def _amount(unit: BudgetUnit, item: UsageItem) -> Decimal:
    if unit is BudgetUnit.USD:
        return item.usd
    if unit is BudgetUnit.TOKENS:
        return Decimal(item.tokens)
    return Decimal(item.requests)


@dataclass
class Outcome:
    applied: bool
    alerts: list[BudgetAlert] = field(default_factory=list)
    states: list[BudgetState] = field(default_factory=list)
    late_dropped: int = 0
    removed: list[str] = field(default_factory=list)
    """Policy ids this subject no longer has (deleted or moved): their tallies were dropped."""


def _basis(policy: BudgetPolicy) -> str:
    return f"{policy.unit.value}/{policy.window.value}"


def _levels(policy: BudgetPolicy) -> list[tuple[Decimal, Decimal]]:
    """(threshold percent, spend level) pairs, ascending, the hard limit last."""
    return [(t, policy.limit * t / HARD_LIMIT) for t in [*policy.thresholds, HARD_LIMIT]]


def _accepts(window: BudgetWindow, bucket: int, now: int, grace_s: int) -> bool:
    if window is not BudgetWindow.MONTH:
        return bucket >= window_bounds(window, now)[0]
    current = month_start(now)
    if bucket >= current:
        return True
    return bucket >= previous_month_start(now) and now < current + grace_s


def counted_from(window: BudgetWindow, now: int, grace_s: int) -> int:
    """The oldest bucket start a tally of ``window`` still keeps at ``now``."""
    if window is not BudgetWindow.MONTH:
        return window_bounds(window, now)[0]
    current = month_start(now)
    return previous_month_start(now) if now < current + grace_s else current


def _instance_spend(tally: PolicyTally, window: BudgetWindow, instance: int, now: int) -> Decimal:
    if window is BudgetWindow.MONTH:
        return sum((v for b, v in tally.buckets.items() if month_start(b) == instance), Decimal(0))
    start, end = window_bounds(window, now)
    return sum((v for b, v in tally.buckets.items() if start <= b < end), Decimal(0))


def _status(policy: BudgetPolicy, spend: Decimal) -> BudgetStatus:
    if spend >= policy.limit:
        return BudgetStatus.EXCEEDED
    if policy.thresholds and spend >= policy.limit * policy.thresholds[0] / HARD_LIMIT:
        return BudgetStatus.WARNING
    return BudgetStatus.OK


def _resets_at(
    policy: BudgetPolicy, tally: PolicyTally, status: BudgetStatus, spend: Decimal, now: int
) -> int | None:
    """When the current status drops if no more usage comes (rolling: buckets leave)."""
    if status is BudgetStatus.OK:
        return None
    if policy.window is BudgetWindow.MONTH:
        return leaves_window_at(policy.window, now)
    level = policy.limit if status is BudgetStatus.EXCEEDED else _levels(policy)[0][1]
    start, end = window_bounds(policy.window, now)
    remaining = spend
    for bucket in sorted(b for b in tally.buckets if start <= b < end):
        remaining -= tally.buckets[bucket]
        if remaining < level:
            return leaves_window_at(policy.window, bucket)
    return leaves_window_at(policy.window, now)


def _crossings(
    policy: BudgetPolicy,
    tally: PolicyTally,
    instance: int | None,
    spend: Decimal,
    trigger: UsageItem,
    window_start: int,
    emitted_at: datetime,
) -> list[BudgetAlert]:
    """Alerts for levels reached in this evaluation; re-arms levels spend fell below.

    ``instance`` is the month start for ``month``, ``None`` for a rolling window (whose fired
    levels belong to the current episode, whatever bucket it started in)."""
    alerts = []
    for threshold, level in _levels(policy):
        mine = {p for p in tally.fired if p[1] == threshold and instance in (None, p[0])}
        if spend < level:
            tally.fired -= mine
            continue
        if mine:
            continue
        key = instance if instance is not None else window_start
        tally.fired.add((key, threshold))
        alerts.append(
            BudgetAlert(
                alert_id=alert_id(policy.policy_id, threshold, key),
                policy_id=policy.policy_id,
                scope=policy.scope,
                subject=policy.subject,
                threshold=threshold,
                spend=spend,
                limit=policy.limit,
                unit=policy.unit,
                window=policy.window,
                window_start=to_datetime(key),
                action=policy.action,
                event_id=trigger.event_id,
                occurred_at=to_datetime(trigger.at),
                emitted_at=emitted_at,
            )
        )
    return alerts


def _apply_policy(
    policy: BudgetPolicy,
    tally: PolicyTally,
    items: Iterable[UsageItem],
    fallback: UsageItem,
    now_dt: datetime,
    grace_s: int,
    outcome: Outcome,
) -> None:
    now = int(now_dt.timestamp())
    window = policy.window
    touched: dict[int, UsageItem] = {}
    last = fallback
    for item in items:
        last = item
        at = min(item.at, now)
        bucket = bucket_start(window, at)
        if not _accepts(window, bucket, now, grace_s):
            outcome.late_dropped += 1
            continue
        amount = _amount(policy.unit, item)
        tally.buckets[bucket] = tally.buckets.get(bucket, Decimal(0)) + amount
        touched[month_start(bucket) if window is BudgetWindow.MONTH else 0] = item
    keep_from = counted_from(window, now, grace_s)
    tally.buckets = {b: v for b, v in tally.buckets.items() if b >= keep_from}
    current_start = window_bounds(window, now)[0]
    if window is BudgetWindow.MONTH:
        tally.fired = {p for p in tally.fired if p[0] >= keep_from}
        for instance in sorted({*touched, current_start}):
            spend = _instance_spend(tally, window, instance, now)
            trigger = touched.get(instance, last)
            outcome.alerts += _crossings(policy, tally, instance, spend, trigger, instance, now_dt)
    else:
        spend = _instance_spend(tally, window, current_start, now)
        oldest = min((b for b, v in tally.buckets.items() if v and b >= current_start),
                     default=current_start)  # fmt: skip
        trigger = touched.get(0, last)
        outcome.alerts += _crossings(policy, tally, None, spend, trigger, oldest, now_dt)

    spend = _instance_spend(tally, window, current_start, now)
    status = _status(policy, spend)
    version = policy.updated_at.isoformat()
    if status is not tally.status or version != tally.version:
        tally.status = status
        tally.version = version
        resets = _resets_at(policy, tally, status, spend, now)
        outcome.states.append(
            BudgetState(
                policy_id=policy.policy_id,
                scope=policy.scope,
                subject=policy.subject,
                status=status,
                action=policy.action,
                unit=policy.unit,
                window=window,
                spend=spend,
                limit=policy.limit,
                window_start=to_datetime(current_start),
                resets_at=None if resets is None else to_datetime(resets),
                updated_at=now_dt,
            )
        )


def apply_delta(
    state: SubjectState,
    policies: Iterable[BudgetPolicy],
    delta: SpendDelta,
    *,
    now: datetime,
    grace_s: int,
) -> Outcome:
    """Apply one delta to ``state`` in place for every policy of its subject (see module doc).

    Returns the alerts (ascending threshold per policy) and state changes to publish; with
    ``applied=False`` the delta was already applied and nothing changed.
    """
    if delta.offset <= state.offsets.get(delta.source, -1):
        return Outcome(applied=False)
    state.offsets[delta.source] = delta.offset
    outcome = Outcome(applied=True)
    live = {p.policy_id: p for p in policies}
    for gone in sorted(set(state.tallies) - set(live)):
        del state.tallies[gone]
        outcome.removed.append(gone)
    # What an alert names as its trigger when the delta has no usage (a policy change).
    fallback = UsageItem(int(now.timestamp()), Decimal(0), 0, 0, f"{delta.source}:{delta.offset}")
    for policy_id, policy in sorted(live.items()):
        if delta.policy_id and policy_id != delta.policy_id:
            continue
        tally = state.tallies.get(policy_id)
        if tally is None or tally.basis != _basis(policy):
            tally = state.tallies[policy_id] = PolicyTally(basis=_basis(policy))
        tally.fired |= set(delta.fired)
        _apply_policy(policy, tally, delta.items, fallback, now, grace_s, outcome)
    return outcome
