"""Key bindings: bind/unbind/list over the compacted topic, and a running worker applies a
binding made after it started (GlobalTable kept up to date)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from meterline.cli import cli
from meterline.kafka_records import produce_records
from meterline.key_bindings import bind_key, list_bindings, make_binding, unbind_key
from meterline.local.stream import StreamWorker
from producers.events import usage_event
from schemas.codec import decode_batch, encode_batch
from schemas.usage import EnrichedUsage
from tests.integration.raw_records import read_records

pytestmark = pytest.mark.integration


def test_bind_unbind_and_list(tansu, topics):
    now = datetime.now(UTC)

    async def scenario():
        await bind_key(tansu.bootstrap, topics.keys, make_binding("k1", "t1", "acme", now))
        await bind_key(tansu.bootstrap, topics.keys, make_binding("k2", "t2", "", now))
        await bind_key(tansu.bootstrap, topics.keys, make_binding("k1", "t9", "acme", now))
        await unbind_key(tansu.bootstrap, topics.keys, "k2")
        return await list_bindings(tansu.bootstrap, topics.keys)

    [only] = asyncio.run(scenario())
    assert (only.api_key_id, only.team_id, only.owner_customer) == ("k1", "t9", "acme")


def test_cli_keys_round_trip_and_refuses_bad_ids(tansu, topics):
    env = {"METERLINE_KAFKA_BOOTSTRAP": tansu.bootstrap, "METERLINE_TOPIC_PREFIX": topics.prefix}
    runner = CliRunner()
    bound = runner.invoke(cli, ["keys", "bind", "key-9", "--team", "ml"], env=env)
    assert bound.exit_code == 0, bound.output
    listed = runner.invoke(cli, ["keys", "list", "--json"], env=env)
    assert listed.exit_code == 0 and '"api_key_id":"key-9"' in listed.output
    bad = runner.invoke(cli, ["keys", "bind", "bad key!", "--team", "x"], env=env)
    assert bad.exit_code == 2 and "api_key_id" in bad.output
    assert "Traceback" not in bad.output


async def wait_until_bound(bootstrap, topics, key, enriched, timeout=60.0):
    """Publish probe events on ``key`` until one is enriched with a team binding."""
    async with asyncio.timeout(timeout):
        while True:
            probe = usage_event(api_key_id=key, provider="openai", model="gpt-4o")
            record = (key.encode(), encode_batch([probe]))
            await produce_records(bootstrap, topics.usage_raw, [record])
            records = await read_records(
                bootstrap,
                topics.usage_enriched,
                done=lambda rs, probe=probe: probe.event_id in enriched(rs),
                timeout=timeout,
            )
            if enriched(records)[probe.event_id].team_id:
                return


def test_running_worker_applies_a_new_binding(tansu, topics, tmp_path):
    worker = StreamWorker(
        bootstrap=tansu.bootstrap,
        topic_prefix=topics.prefix,
        data_dir=tmp_path / "data",
        log_path=tmp_path / "worker.log",
    )
    before = usage_event(api_key_id="k-live", provider="openai", model="gpt-4o")
    after = usage_event(api_key_id="k-live", provider="openai", model="gpt-4o")

    def enriched(records):
        return {e.event_id: e for r in records for e in decode_batch(EnrichedUsage, r.value)}

    with worker:
        asyncio.run(
            produce_records(
                tansu.bootstrap, topics.usage_raw, [(b"k-live", encode_batch([before]))]
            )
        )
        asyncio.run(
            read_records(
                tansu.bootstrap,
                topics.usage_enriched,
                done=lambda rs: before.event_id in enriched(rs),
                timeout=60,
            )
        )
        binding = make_binding("k-live", "team-live", "cust-live", datetime.now(UTC))
        asyncio.run(bind_key(tansu.bootstrap, topics.keys, binding))
        # The GlobalTable applies the change asynchronously: send probes until one comes out
        # bound (a bounded poll on the worker's observable output).
        asyncio.run(wait_until_bound(tansu.bootstrap, topics, "k-live", enriched))
        asyncio.run(
            produce_records(tansu.bootstrap, topics.usage_raw, [(b"k-live", encode_batch([after]))])
        )
        records = asyncio.run(
            read_records(
                tansu.bootstrap,
                topics.usage_enriched,
                done=lambda rs: after.event_id in enriched(rs),
                timeout=60,
            )
        )
    result = enriched(records)
    assert result[before.event_id].team_id == ""
    assert (result[after.event_id].team_id, result[after.event_id].owner_customer) == (
        "team-live",
        "cust-live",
    )
