"""``meterline bench enforce --quick --json``: one JSON object, and the limits held."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

FIELDS = {
    "replicas", "concurrency", "rpm_limit", "rpm_admitted_max_per_minute", "parallel_limit",
    "parallel_max_observed", "cap_usd", "spend_usd", "overshoot_usd", "max_call_cost_usd",
    "decision_p50_us_local", "decision_p99_us_local", "decision_p99_us_valkey",
    "overshoot_usd_state_only",
}  # fmt: skip


def test_quick_bench_prints_one_json_object_and_limits_hold() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "meterline", "bench", "enforce", "--quick", "--json"],
        capture_output=True, timeout=240, check=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    lines = done.stdout.decode().strip().splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert set(result) >= FIELDS
    assert result["replicas"] >= 2
    assert 0 < result["rpm_admitted_max_per_minute"] <= result["rpm_limit"]
    assert 0 < result["parallel_max_observed"] <= result["parallel_limit"]
    assert 0 < result["spend_usd"] <= result["cap_usd"] + result["max_call_cost_usd"]
    assert result["overshoot_usd"] <= result["max_call_cost_usd"]
    assert result["decision_p99_us_local"] > 0 and result["decision_p99_us_valkey"] > 0
    assert {"rpm", "parallel", "budget"} <= set(result["refused"])
