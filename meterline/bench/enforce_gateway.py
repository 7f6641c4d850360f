"""One gateway process of ``meterline bench enforce`` (and of the multi-gateway tests).

``python -m meterline.bench.enforce_gateway SPEC_JSON`` runs ``callers`` concurrent callers of
one key through a real guard against a stand-in provider (a random latency and cost per call),
and prints one JSON line with every admitted call and every decision time when it ends.

Modes: ``limits`` — ``LimitGuard`` with the shared Valkey backend (reserve, call, settle);
``state_only`` — today's ``BudgetGuard`` following ``meterline.budgets.state`` alone, each call's
cost published to ``meterline.usage.enriched`` for the stream to count. With ``hold`` every
admitted call waits forever (a gateway to SIGKILL mid-call); it prints ``held N`` as it goes.
With ``ready_file`` in the spec it writes its pid there once set up and starts its callers only
when a line (``go``) arrives on stdin, so a parent can start several gateways together.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from producers.budget_guard import GuardDecision, GuardIndex
from producers.limits.backends import ValkeyBackend
from producers.limits.errors import LimitExceeded
from producers.limits.guard import LimitGuard
from producers.limits.plan import LimitIndex
from schemas.budgets import BudgetPolicy, BudgetScope, BudgetWindow
from schemas.limits import LimitPolicy

__all__ = ["StaticFollower", "main"]

_REFUSED_PAUSE_S = 0.25


class StaticFollower:
    """The limits and policies a gateway would follow from the compacted topics, given up
    front (the bench measures the decision, not Kafka)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        self.index = GuardIndex()
        self.limits = LimitIndex(lease_s=float(spec.get("lease_s", 300)))
        key = spec["key"]
        if spec.get("rate"):
            self.limits.apply_limit(
                f"key:{key}",
                LimitPolicy(scope=BudgetScope.KEY, subject=key, updated_at=now, **spec["rate"]),
            )
        if spec.get("cap"):
            cap = spec["cap"]
            self.limits.apply_policy(
                f"cap-{key}",
                BudgetPolicy(
                    policy_id=f"cap-{key}", scope=BudgetScope.KEY, subject=key,
                    limit=Decimal(cap["limit"]), window=BudgetWindow(cap.get("window", "24h")),
                    max_call_cost=Decimal(cap["max_call_cost"]), updated_at=now,
                ),
            )  # fmt: skip

    def check(self, api_key_id: str, now: datetime | None = None) -> GuardDecision:
        return self.index.decide(api_key_id, now or datetime.now(UTC))


Finish = Callable[[Decimal], Awaitable[None]]
"""Settles one admitted call with its cost."""
Admission = tuple[float, float, Finish]
"""When the call was decided and admitted, and how to settle it."""
Admit = Callable[[random.Random], Awaitable[Admission | None]]
"""Asks the guard for one call: an admission, or None when refused."""


@dataclass
class Tally:
    calls: list[dict[str, float | str]] = field(default_factory=list)
    """Each admitted call: ``decided_at`` (the backend's decision time), ``admitted_at`` (when
    the caller had the answer), ``ended_at`` (when it asked to settle), epoch seconds, and
    ``cost``. [admitted_at, ended_at) lies inside the time the backend held the call's slot."""
    refused: dict[str, int] = field(default_factory=dict)
    decision_us: list[float] = field(default_factory=list)
    held: int = 0


def _cost(rng: random.Random, low: str, high: str) -> Decimal:
    lo, hi = Decimal(low), Decimal(high)
    return (lo + (hi - lo) * Decimal(rng.random())).quantize(Decimal("0.000001"))


async def _caller(spec: dict[str, Any], n: int, admit: Admit, tally: Tally, end: float) -> None:
    rng = random.Random(f"{spec.get('seed', 0)}-{n}")
    per_caller = spec.get("offered_per_s")
    next_at = time.time() + (rng.expovariate(per_caller) if per_caller else 0)
    low_ms, high_ms = spec.get("latency_ms", [100, 1500])
    while time.time() < end:
        if per_caller:
            await asyncio.sleep(max(0.0, next_at - time.time()))
            next_at += rng.expovariate(per_caller)
            if time.time() >= end:
                return
        outcome = await admit(rng)
        if outcome is None:
            if not per_caller:
                await asyncio.sleep(_REFUSED_PAUSE_S)
            continue
        decided_at, admitted_at, finish = outcome
        if spec.get("hold"):
            tally.held += 1
            print(f"held {tally.held}", flush=True)
            await asyncio.Event().wait()
        await asyncio.sleep(rng.uniform(low_ms, high_ms) / 1000)
        cost = _cost(rng, *spec.get("cost_usd", ["0.001", "0.05"]))
        ended_at = time.time()
        await finish(cost)
        tally.calls.append({"decided_at": decided_at, "admitted_at": admitted_at,
                            "ended_at": ended_at, "cost": str(cost)})  # fmt: skip


async def _run_limits(spec: dict[str, Any], tally: Tally) -> None:
    backend = ValkeyBackend(spec["valkey_url"], prefix=spec["prefix"], timeout_s=1.0)
    backend.warm()
    guard = LimitGuard(StaticFollower(spec), backend, fail_mode="closed")
    key = spec["key"]

    async def admit(rng: random.Random) -> Admission | None:
        t0 = time.perf_counter_ns()
        try:
            ticket = guard.reserve(key, prompt_tokens=200, max_tokens=300,
                                   call_id=uuid.uuid4().hex)  # fmt: skip
        except LimitExceeded as refused:
            tally.decision_us.append((time.perf_counter_ns() - t0) / 1000)
            tally.refused[refused.kind] = tally.refused.get(refused.kind, 0) + 1
            return None
        tally.decision_us.append((time.perf_counter_ns() - t0) / 1000)
        admitted_at = time.time()

        async def finish(cost: Decimal) -> None:
            guard.settle(ticket, tokens=500, cost=cost)

        return ticket.admitted_at or admitted_at, admitted_at, finish

    await _callers(spec, admit, tally)
    guard.close()


async def _run_state_only(spec: dict[str, Any], tally: Tally) -> None:
    from aiokafka import AIOKafkaProducer

    from producers.budget_guard import BudgetGuard
    from producers.config import GuardSettings
    from schemas.codec import encode_batch
    from schemas.topics import Topics
    from schemas.usage import CostSource, EnrichedUsage, TokenCounts

    settings = GuardSettings(kafka_bootstrap=spec["bootstrap"], topic_prefix=spec["topic_prefix"])
    guard = await BudgetGuard(settings).start()
    producer = AIOKafkaProducer(bootstrap_servers=spec["bootstrap"], linger_ms=2)
    await producer.start()
    topic = Topics(spec["topic_prefix"]).usage_enriched
    key = spec["key"]

    async def admit(rng: random.Random) -> Admission | None:
        t0 = time.perf_counter_ns()
        allowed = guard.check(key).allowed
        tally.decision_us.append((time.perf_counter_ns() - t0) / 1000)
        if not allowed:
            tally.refused["budget"] = tally.refused.get("budget", 0) + 1
            return None

        async def finish(cost: Decimal) -> None:
            now = datetime.now(UTC)
            event = EnrichedUsage(
                event_id=uuid.uuid4().hex, occurred_at=now, gateway="bench", api_key_id=key,
                provider="openai", model="gpt-4o-mini", tokens=TokenCounts(input=200, output=300),
                cost=cost, computed_cost=cost, cost_source=CostSource.PRICE_BOOK, enriched_at=now,
            )  # fmt: skip
            await producer.send(topic, encode_batch([event]), key=key.encode())

        now = time.time()
        return now, now, finish

    try:
        await _callers(spec, admit, tally)
        await producer.flush()
    finally:
        await producer.stop()
        await guard.stop()


async def _callers(spec: dict[str, Any], admit: Admit, tally: Tally) -> None:
    if "ready_file" in spec:
        # Set up (imports, guard, backend): say so, then wait for the parent's "go" line, which
        # it writes to every gateway once all of them are ready (``run_gateways``).
        Path(spec["ready_file"]).write_text(f"{os.getpid()}\n")
        await asyncio.to_thread(sys.stdin.readline)
    await asyncio.sleep(max(0.0, float(spec.get("start_at", 0)) - time.time()))
    end = time.time() + float(spec["duration_s"])
    await asyncio.gather(
        *(_caller(spec, n, admit, tally, end) for n in range(int(spec.get("callers", 16))))
    )


def main() -> None:
    spec = json.loads(sys.argv[1])
    tally = Tally()
    runner = _run_state_only if spec.get("mode") == "state_only" else _run_limits
    asyncio.run(runner(spec, tally))
    print(json.dumps({"calls": tally.calls, "refused": tally.refused,
                      "decision_us": tally.decision_us}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
