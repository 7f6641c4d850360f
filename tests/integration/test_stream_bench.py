"""``meterline bench stream`` runs N workers and reports each one's rate next to the total."""

from __future__ import annotations

import asyncio

import pytest

from meterline.bench.stream import run_stream_bench

pytestmark = pytest.mark.integration


def test_bench_stream_with_two_workers_reports_each_and_the_total(tansu) -> None:
    result = asyncio.run(run_stream_bench(tansu.bootstrap, events=6_000, batch=100, workers=2))
    assert result["all_enriched"] and result["workers"] == 2 and result["partitions"] == 4
    per_worker = result["per_worker"]
    assert len(per_worker) == 2, "both workers must have written enriched records"
    assert sum(w["events"] for w in per_worker) == 6_000
