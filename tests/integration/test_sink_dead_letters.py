"""Through a running sink: bad input and refused rows land in dead_letters with a reason,
the rest of their records is stored; DLQ records and budget alerts are stored once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest

from meterline.bench.data import enriched_events
from meterline.kafka_records import produce_records
from meterline.local.sink import SinkProcess
from schemas.budgets import BudgetAlert
from schemas.codec import encode_batch, encode_one
from schemas.dead_letters import DeadLetter, ErrorKind

pytestmark = pytest.mark.integration


def test_bad_input_and_refused_rows_become_dead_letters(tansu, topics, tmp_path):
    events = enriched_events(300, seed=21)
    elements = [orjson.loads(encode_one(e)) for e in events]
    elements[10]["occurred_at"] = "2999-06-01T00:00:00Z"  # the table's constraint refuses it
    elements[20]["tokens"] = {"input": -5}  # the schema refuses it
    now = datetime(2026, 11, 2, tzinfo=UTC)
    upstream = DeadLetter(
        dead_letter_id="raw:0:17:-1", source_topic="meterline.usage.raw", partition=0,
        offset=17, error_kind=ErrorKind.DECODE, reason="not JSON", raw=b"\xff", received_at=now,
    )  # fmt: skip
    alert = BudgetAlert(
        alert_id="al-1", policy_id="p-1", scope="key", subject="key-1", threshold=Decimal(80),
        spend=Decimal("8.000000000001"), limit=Decimal(10), unit="usd", window="24h",
        window_start=now, action="block", event_id=events[0].event_id, occurred_at=now,
        emitted_at=now,
    )  # fmt: skip

    async def produce():
        await produce_records(tansu.bootstrap, topics.usage_enriched, [
            (b"key-a", orjson.dumps(elements[:150])),
            (b"key-b", orjson.dumps(elements[150:])),
            (b"key-c", b"this is not json"),
        ], compression="gzip")  # fmt: skip
        await produce_records(
            tansu.bootstrap,
            topics.usage_dlq,
            [(b"x", encode_batch([upstream]))],
            compression="gzip",
        )
        # The same alert twice (a reprocessed event): stored once.
        twice = [(b"p-1", encode_one(alert)), (b"p-1", encode_one(alert))]
        await produce_records(tansu.bootstrap, topics.budget_alerts, twice, compression="gzip")

    asyncio.run(produce())
    sink = SinkProcess(
        bootstrap=tansu.bootstrap,
        topic_prefix=topics.prefix,
        data_dir=tmp_path / "chdb",
        group_id=f"{topics.prefix}sink",
    )
    with sink:
        assert sink.wait_until("SELECT count() FROM {db}.dead_letters FINAL", 4, 60) == 4, (
            sink.log_tail()
        )
        assert sink.wait_until("SELECT count() FROM {db}.budget_alerts FINAL", 1, 30) == 1
        stored = sink.query("SELECT count(), sum(cost) FROM {db}.usage_events FINAL")
        good = [e for i, e in enumerate(events) if i not in (10, 20)]
        assert stored.result_rows == [(298, sum(e.cost for e in good))]
        letters = {
            row[0]: row[1:]
            for row in sink.query(
                "SELECT error_kind, event_id, reason, source_topic FROM {db}.dead_letters FINAL"
            ).result_rows
        }
        assert set(letters) == {"sink_rejected", "schema", "decode"}
        assert letters["sink_rejected"][0] == events[10].event_id
        assert "occurred_at_sane" in letters["sink_rejected"][1]
        assert letters["schema"][0] == events[20].event_id
        assert "tokens" in letters["schema"][1]
        upstream_rows = sink.query(
            "SELECT count() FROM {db}.dead_letters FINAL WHERE dead_letter_id = 'raw:0:17:-1'"
        )
        assert upstream_rows.result_rows == [(1,)]
        spend = sink.query("SELECT spend FROM {db}.budget_alerts FINAL").result_rows
        assert spend == [(Decimal("8.000000000001"),)]
