"""Embedded mode with a running sink: the dry run asks the sink's query endpoint (a guest), the
re-rate itself refuses to open the store beside the owner."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from meterline.bench.data import enriched_events
from meterline.cli import cli
from meterline.kafka_records import produce_records
from meterline.local.sink import SinkProcess
from schemas.codec import encode_batch

pytestmark = pytest.mark.integration

PRICES = """
- {provider: openai, model: gpt-4o-mini, effective_from: 2026-01-01, input: "0.01",
   output: "0.02"}
"""


def test_dry_run_goes_through_the_running_sink(tansu, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from meterline.kafka_admin import create_topics
    from schemas.topics import Topics

    prefix = "rr."
    asyncio.run(create_topics(tansu.bootstrap, Topics(prefix)))
    sink = SinkProcess(bootstrap=tansu.bootstrap, topic_prefix=prefix,
                       data_dir=tmp_path / "chdb", group_id="rr-sink")  # fmt: skip
    sink.start()
    try:
        events = enriched_events(60, seed=16)
        asyncio.run(produce_records(tansu.bootstrap, f"{prefix}meterline.usage.enriched",
                                    [(b"k", encode_batch(events))]))  # fmt: skip
        assert sink.wait_until("SELECT count() FROM {db}.usage_events FINAL", 60, 60) == 60
        monkeypatch.setenv("METERLINE_CLICKHOUSE_URL", f"chdb://{sink.data_dir}")
        monkeypatch.setenv("METERLINE_CLICKHOUSE_DATABASE", sink.database)
        prices = tmp_path / "p.yaml"
        prices.write_text(PRICES)
        args = ["rerate", "--from", "2026-10-01", "--to", "2026-11-30", "--prices", str(prices)]
        dry = CliRunner().invoke(cli, [*args, "--dry-run", "--format", "json"])
        assert dry.exit_code == 0, dry.output
        lines = json.loads(dry.output)["lines"]
        mini = [e for e in events if e.model == "gpt-4o-mini" and e.cost_source != "provider"]
        assert {x["model"] for x in lines} == {"gpt-4o-mini"}
        assert sum(x["events"] for x in lines) == len(mini) > 0
        refused = CliRunner().invoke(cli, args)
        assert refused.exit_code == 1 and "stop it to re-rate" in refused.output
        assert sink.query("SELECT count() FROM {db}.usage_ratings").result_rows == [(0,)]
    finally:
        sink.stop()
