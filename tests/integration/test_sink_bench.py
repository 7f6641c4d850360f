"""``meterline bench sink`` end to end, small: one JSON object whose figures are consistent and
whose sink run stored every event. A subprocess, because it opens its own chDB directory."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Speed figures on a shared 2-core box are noise in the default suite: `make bench` runs these.
pytestmark = [pytest.mark.integration, pytest.mark.bench]


def test_bench_sink_prints_one_consistent_json_object(tansu):
    done = subprocess.run(
        [sys.executable, "-m", "meterline", "bench", "sink", "--events", "3000",
         "--batch-rows", "1000", "--bootstrap", tansu.bootstrap, "--json"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["all_stored"] is True
    assert result["events"] == 3000 and result["sink_batches"] >= 3
    assert result["sink_format"] == "ArrowStream" and result["input_compression"] == "none"
    for key in ("rows_per_s", "raw_insert_rows_per_s", "sink_format_insert_rows_per_s"):
        assert result[key] > 0
    assert result["ratio"] == pytest.approx(
        result["rows_per_s"] / result["raw_insert_rows_per_s"], abs=0.002
    )
