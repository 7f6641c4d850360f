"""``meterline bench rerate`` end to end, small: one JSON object, exact. A subprocess, because
it opens its own chDB directory."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal


def test_bench_rerate_prints_one_exact_json_object() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "meterline", "bench", "rerate", "--events", "20000", "--json"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["exact"] is True and result["events"] == 20000
    assert result["rerated_events"] == 18000  # every tenth event is provider-settled: kept
    assert Decimal(result["new_total"]) < Decimal(result["old_total"])
    assert result["events_per_s"] > 0 and result["seconds"] > 0
