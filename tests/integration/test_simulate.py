"""``meterline simulate`` through the real UsageProducer onto a real Tansu broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from meterline.cli import cli
from meterline.kafka_admin import create_topics
from producers.simulator import TrafficProfile, simulate
from schemas.topics import Topics
from tests.integration._raw_topic import read_raw_events

pytestmark = pytest.mark.integration

ARGS = ["--customers", "25", "--rate", "300", "--duration", "1", "--seed", "1234"]
START = "2026-11-01T08:00:00+0000"


def _simulate(bootstrap: str, topics: Topics, spool: Path, *extra: str) -> tuple[dict, str]:
    env = {
        "METERLINE_KAFKA_BOOTSTRAP": bootstrap,
        "METERLINE_TOPIC_PREFIX": topics.prefix,
        "METERLINE_SPOOL_DIR": str(spool),
    }
    result = CliRunner().invoke(
        cli, ["simulate", *ARGS, "--start", START, "--json", *extra], env=env
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_same_seed_publishes_the_same_events_with_the_same_ids(
    tansu, topics: Topics, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    other = Topics(f"t{uuid.uuid4().hex[:10]}.")
    asyncio.run(create_topics(tansu.bootstrap, other))

    first, progress = _simulate(tansu.bootstrap, topics, tmp_path / "spool-1")
    second, _ = _simulate(tansu.bootstrap, other, tmp_path / "spool-2")

    assert first["events"] == 300
    assert first["delivered"] is True and first["sent"] == 300
    assert first["retries"] > 0 and first["errors"] >= 0
    assert first["unique_events"] + first["retries"] == 300
    assert "simulating 300 events" in progress
    assert {k: v for k, v in first.items() if k not in {"elapsed_s", "events_per_s"}} == {
        k: v for k, v in second.items() if k not in {"elapsed_s", "events_per_s"}
    }

    published = [
        asyncio.run(read_raw_events(tansu.bootstrap, t.usage_raw, at_least=300))
        for t in (topics, other)
    ]
    expected = list(
        simulate(
            TrafficProfile(customers=25),
            seed=1234,
            start=datetime(2026, 11, 1, 8, tzinfo=UTC),
            rate=300,
            count=300,
        )
    )
    as_json = [sorted(e.model_dump_json() for _, e in found) for found in published]
    assert as_json[0] == as_json[1] == sorted(e.model_dump_json() for e in expected)
    for found in published:
        assert all(key == event.api_key_id for key, event in found)


def test_keys_option_and_clear_errors(tansu, topics: Topics, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    counts, _ = _simulate(tansu.bootstrap, topics, tmp_path / "spool", "--keys", "gw-a,gw-b")
    found = asyncio.run(
        read_raw_events(tansu.bootstrap, topics.usage_raw, at_least=counts["events"])
    )
    assert {event.api_key_id for _, event in found} == {"gw-a", "gw-b"}

    bad = CliRunner().invoke(cli, ["simulate", "--keys", "not a key", "--duration", "1"])
    assert bad.exit_code == 2
    assert "not a key" in bad.output
    assert "Traceback" not in bad.output


def test_simulate_asks_the_guard_and_reports_refusals(
    tansu, topics: Topics, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from decimal import Decimal

    from aiokafka import AIOKafkaProducer

    from schemas.budgets import (
        BudgetAction,
        BudgetScope,
        BudgetState,
        BudgetStatus,
        BudgetUnit,
        BudgetWindow,
    )
    from schemas.codec import encode_one

    now = datetime.now(UTC)
    blocked = BudgetState(policy_id="cap-a", scope=BudgetScope.KEY, subject="key-a",
                          status=BudgetStatus.EXCEEDED, action=BudgetAction.BLOCK,
                          unit=BudgetUnit.USD, window=BudgetWindow.MONTH, spend=Decimal(6),
                          limit=Decimal(5), window_start=now, resets_at=None,
                          updated_at=now)  # fmt: skip

    async def publish() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topics.budget_state, encode_one(blocked), key=b"cap-a")
        finally:
            await producer.stop()

    asyncio.run(publish())
    counts, stderr = _simulate(tansu.bootstrap, topics, tmp_path / "spool", "--keys", "key-a,key-b")
    assert counts["refused_by_budget"] > 0
    assert set(counts["refused_keys"]) == {"key-a"}
    assert counts["events"] + counts["refused_by_budget"] == 300
    assert "budget cap-a of key key-a exceeded" in stderr

    unguarded, _ = _simulate(tansu.bootstrap, topics, tmp_path / "spool-2", "--keys",
                             "key-a,key-b", "--no-guard")  # fmt: skip
    assert unguarded["refused_by_budget"] == 0 and unguarded["events"] == 300
