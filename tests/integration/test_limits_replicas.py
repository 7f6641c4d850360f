"""Several gateway PROCESSES against one real Valkey: limits hold across them, a gateway
SIGKILLed mid-call frees its slots within the lease, and an unreachable Valkey is handled by the
fail mode with every settle applied exactly once when it is back."""

from __future__ import annotations

import json
import sys
import time
import uuid
from decimal import Decimal

import pytest

from meterline.bench.enforce import run_gateways
from meterline.bench.enforce_gateway import StaticFollower
from meterline.bench.enforce_stats import max_overlap
from meterline.local.process import ChildProcess
from meterline.local.valkey import ValkeyServer
from producers.limits.backends import ValkeyBackend
from producers.limits.errors import LimitExceeded
from producers.limits.guard import LimitGuard
from producers.limits.rules import Admitted, Ask, RateAsk

pytestmark = pytest.mark.integration


def admitted(outcome: object) -> bool:
    return isinstance(outcome, Admitted)


def test_rpm_parallel_and_cap_hold_across_three_gateway_processes(valkey_server) -> None:  # type: ignore[no-untyped-def]
    key = f"k{uuid.uuid4().hex[:6]}"
    spec = {
        "valkey_url": valkey_server.url, "prefix": f"{key}:", "key": key,
        "rate": {"rpm": 40, "max_parallel": 4}, "cap": {"limit": "0.6", "max_call_cost": "0.05"},
        "callers": 5, "duration_s": 4, "latency_ms": [200, 400], "cost_usd": ["0.001", "0.05"],
        # Open-loop demand (random arrivals, about 45 calls/s in all, over 3x what 4 parallel
        # slots of 0.2-0.4 s serve): a freed slot goes to whichever gateway asks next. Callers in
        # a closed loop re-ask the moment their call ends, so the gateway that got the slots
        # first kept them until the cap was spent (0.25 s when the calls are short).
        "offered_per_s": 3,
    }  # fmt: skip
    # run_gateways releases the three together, once each has said it is ready (set up).
    results = run_gateways([{**spec, "seed": i} for i in range(3)], timeout_s=90)
    calls = [c for r in results for c in r["calls"]]
    # The whole run fits in one minute: every admission counts against the one rpm window.
    assert len(calls) <= 40
    assert max_overlap([(c["admitted_at"], c["ended_at"]) for c in calls]) <= 4
    assert sum(Decimal(c["cost"]) for c in calls) <= Decimal("0.6")
    per_gateway = [(len(r["calls"]), r["refused"]) for r in results]
    assert sum(1 for r in results if r["calls"]) >= 2, f"one gateway took every call: {per_gateway}"
    refused = {kind for r in results for kind in r["refused"]}
    assert refused & {"rpm", "parallel", "budget"}, "demand never met a limit"


def test_sigkilled_gateway_frees_its_slots_within_the_lease(valkey_server) -> None:  # type: ignore[no-untyped-def]
    key = f"k{uuid.uuid4().hex[:6]}"
    lease = 5.0
    spec = {
        "valkey_url": valkey_server.url, "prefix": f"{key}:", "key": key, "hold": True,
        "rate": {"max_parallel": 3, "lease_s": lease}, "callers": 3, "duration_s": 600,
    }  # fmt: skip
    gateway = ChildProcess(
        [sys.executable, "-m", "meterline.bench.enforce_gateway", json.dumps(spec)],
        name="gateway", pipes=True,
    ).start()  # fmt: skip
    backend = ValkeyBackend(valkey_server.url, prefix=f"{key}:")
    limit = RateAsk(key=f"key:{key}", subject=f"key {key}", max_parallel=3, lease_s=lease)
    try:
        assert gateway.stdout is not None
        for line in gateway.stdout:
            if line.strip() == "held 3":
                break
        else:
            pytest.fail("the gateway never held its 3 calls")
        gateway.kill()
        killed_at = time.monotonic()
        refusal = backend.reserve(Ask("after-kill", 0, (limit,)))
        assert not admitted(refusal) and refusal.kind == "parallel"  # type: ignore[union-attr]
        while not admitted(backend.reserve(Ask("after-kill", 0, (limit,)))):
            assert time.monotonic() - killed_at < lease + 10, "slots outlived their lease"
            time.sleep(0.05)
    finally:
        gateway.stop(5.0)
        backend.close()


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_valkey_outage_follows_fail_mode_and_settles_once_when_back(mode: str) -> None:
    server = ValkeyServer().start()
    key = "k-outage"
    follower = StaticFollower({"key": key, "rate": {"max_parallel": 10},
                               "cap": {"limit": "100", "max_call_cost": "1"}})  # fmt: skip
    guard = LimitGuard(follower, ValkeyBackend(server.url, timeout_s=0.2), fail_mode=mode)
    try:
        held = guard.reserve(key, call_id="held-call")
        server.stop()
        if mode == "open":
            assert not guard.reserve(key).reserved
        else:
            with pytest.raises(LimitExceeded) as refused:
                guard.reserve(key)
            assert refused.value.kind == "unavailable"
        guard.settle(held, tokens=100, cost=Decimal("0.25"))
        guard.settle(held, tokens=100, cost=Decimal("0.25"))  # a duplicate success callback
        assert guard.backend_unavailable >= 2 and guard.pending_settles == 2
        server = ValkeyServer(port=server.port).start()  # back, empty (no persistence)
        deadline = time.monotonic() + 30
        while guard.pending_settles:
            assert time.monotonic() < deadline, "queued settles never landed"
            time.sleep(0.05)
        spend_key = f"ml:b:cap-{key}:usd:24h:spend"
        assert int(guard.backend.client.hget(spend_key, "total")) == 250_000  # once
        guard.reserve(key)  # and it decides again
    finally:
        guard.close()
        server.stop()
