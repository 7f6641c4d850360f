"""``meterline simulate``: paced simulated traffic through the real ``UsageProducer``.

The traffic itself is ``producers.simulator`` (pure, seeded); this module only paces it in real
time, asks the budget guard first (as a gateway does: a refused call is never made, so it is
never recorded), records it, reports progress and returns the counts.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from producers.budget_guard import BudgetGuard
from producers.config import GuardSettings, ProducerSettings
from producers.producer import UsageProducer
from producers.simulator import TrafficProfile, TrafficSummary, simulate
from producers.stats import ProducerStats

__all__ = ["Progress", "SimulationResult", "run_simulation"]

_AHEAD_S = 0.005
"""Sleep only when this far ahead of schedule: one sleep per event would cap the rate."""


@dataclass(frozen=True)
class Progress:
    recorded: int
    total: int
    elapsed_s: float
    sent: int


@dataclass(frozen=True)
class SimulationResult:
    traffic: TrafficSummary
    producer: ProducerStats
    elapsed_s: float
    delivered: bool
    """True when every recorded event was acknowledged by the broker (none left in the spool)."""
    refused: Counter[str] = field(default_factory=Counter)
    """Calls the budget guard refused, per API key (not made, not recorded)."""
    refusal_reasons: dict[str, str] = field(default_factory=dict)
    """The guard's first reason per refused key."""

    def as_dict(self) -> dict[str, object]:
        t, p = self.traffic, self.producer
        return {
            "events": t.events,
            "unique_events": t.unique,
            "retries": t.duplicates,
            "errors": t.errors,
            "streamed": t.streamed,
            "customers": len(t.per_customer),
            "top_customers": dict(t.per_customer.most_common(5)),
            "sent": p.sent,
            "spooled": p.spooled,
            "dropped": p.dropped,
            "refused_by_budget": sum(self.refused.values()),
            "refused_keys": dict(self.refused.most_common(5)),
            "delivered": self.delivered,
            "elapsed_s": round(self.elapsed_s, 3),
            "events_per_s": round(t.events / self.elapsed_s, 1) if self.elapsed_s else None,
        }


async def run_simulation(
    profile: TrafficProfile,
    *,
    seed: int,
    start: datetime,
    rate: float,
    duration_s: float,
    settings: ProducerSettings,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every_s: float = 1.0,
    flush_timeout_s: float = 30.0,
    guard_settings: GuardSettings | None = None,
) -> SimulationResult:
    """Make ``round(rate * duration_s)`` simulated calls (at least one), paced at ``rate`` per
    second, then flush. With ``guard_settings`` each call first asks a ``BudgetGuard``; a
    refused call is counted in ``refused`` and not recorded. Events the broker did not take
    stay in the producer's spool."""
    total = max(1, round(rate * duration_s))
    summary = TrafficSummary()
    refused: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    guard = await BudgetGuard(guard_settings).start() if guard_settings is not None else None
    producer = UsageProducer(settings)
    try:
        await producer.start()
    except BaseException:
        if guard is not None:
            await guard.stop()
        raise
    began = time.monotonic()
    next_report = began + progress_every_s
    try:
        for index, event in enumerate(
            simulate(profile, seed=seed, start=start, rate=rate, count=total)
        ):
            ahead = began + index / rate - time.monotonic()
            if ahead > _AHEAD_S:
                await asyncio.sleep(ahead)
            elif index % 1000 == 999:
                await asyncio.sleep(0)  # let the producer's sender run when behind schedule
            if guard is not None:
                decision = guard.check(event.api_key_id)
                if not decision.allowed:
                    refused[event.api_key_id] += 1
                    reasons.setdefault(event.api_key_id, decision.reason)
                    continue
            producer.record(event)
            summary.add(event)
            now = time.monotonic()
            if on_progress is not None and now >= next_report:
                on_progress(Progress(index + 1, total, now - began, producer.stats.sent))
                next_report = now + progress_every_s
        delivered = await producer.flush(flush_timeout_s)
    finally:
        await producer.stop(flush_timeout_s)
        if guard is not None:
            await guard.stop()
    elapsed = time.monotonic() - began
    return SimulationResult(summary, producer.stats, elapsed, delivered, refused, reasons)
