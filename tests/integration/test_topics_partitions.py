"""Usage topic partitions are chosen at creation; too few existing ones are refused, with how
to grow them and what that does to key order."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka.admin import AIOKafkaAdminClient
from click.testing import CliRunner

from meterline.cli import cli
from meterline.kafka_admin import partitions_of
from schemas.topics import Topics


async def _counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await partitions_of(admin, names)
    finally:
        await admin.close()


def test_topics_create_sets_usage_partitions_and_refuses_to_shrink_silently(
    tansu, monkeypatch
) -> None:
    names = Topics(f"p{uuid.uuid4().hex[:10]}.")
    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", tansu.bootstrap)
    monkeypatch.setenv("METERLINE_TOPIC_PREFIX", names.prefix)
    runner = CliRunner()

    created = runner.invoke(cli, ["topics", "create", "--partitions", "8"])
    assert created.exit_code == 0, created.output
    counts = asyncio.run(
        _counts(tansu.bootstrap, [names.usage_raw, names.usage_enriched, names.usage_dlq])
    )
    assert counts == {names.usage_raw: 8, names.usage_enriched: 8, names.usage_dlq: 1}

    again = runner.invoke(cli, ["topics", "create", "--partitions", "8"])
    assert again.exit_code == 0 and f"exists   {names.usage_raw}" in again.output

    more = runner.invoke(cli, ["topics", "create", "--partitions", "12"])
    assert more.exit_code == 1
    assert f"{names.usage_raw} has 8" in more.output and "12 asked" in more.output
    assert "--partitions 12" in more.output and "Key order" in more.output
    assert "METERLINE_USAGE_PARTITIONS=12" in more.output


def test_the_default_stays_the_contract_count(tansu, monkeypatch) -> None:
    names = Topics(f"p{uuid.uuid4().hex[:10]}.")
    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", tansu.bootstrap)
    monkeypatch.setenv("METERLINE_TOPIC_PREFIX", names.prefix)
    monkeypatch.delenv("METERLINE_USAGE_PARTITIONS", raising=False)
    result = CliRunner().invoke(cli, ["topics", "create"])
    assert result.exit_code == 0, result.output
    counts = asyncio.run(_counts(tansu.bootstrap, [names.usage_raw, names.usage_enriched]))
    assert counts == {names.usage_raw: 4, names.usage_enriched: 4}
