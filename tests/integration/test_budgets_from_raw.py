"""Budgets over the whole stream: raw usage -> enrichment (key binding, price) -> budgets."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiokafka import AIOKafkaProducer

from meterline.budget_admin import build_policy, put_policy
from meterline.local.stream import StreamWorker
from producers.config import GuardSettings
from producers.events import usage_event
from producers.guard_sync import SyncBudgetGuard
from schemas.codec import encode_batch, encode_one
from schemas.keys import KeyBinding
from tests.integration.budget_helpers import read_alerts, run, wait_for
from tests.integration.kafka_groups import stream_settled

pytestmark = pytest.mark.integration


async def produce(bootstrap: str, topic: str, key: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


def test_team_budget_charged_by_key_binding_not_by_tags(tansu, topics, tmp_path) -> None:
    bootstrap = tansu.bootstrap
    binding = KeyBinding(api_key_id="key-ml", team_id="ml", updated_at=datetime.now(UTC))
    run(produce(bootstrap, topics.keys, "key-ml", encode_one(binding)))
    team_cap = build_policy(
        policy_id="ml-cap", scope="team", subject="ml", limit="1", thresholds="50"
    )
    # A customer cap that tags must not reach: the key has no owner customer.
    tag_cap = build_policy(policy_id="acme-cap", scope="customer", subject="acme", limit="0.01")
    run(put_policy(bootstrap, topics, team_cap))
    run(put_policy(bootstrap, topics, tag_cap))

    def event(cost: str):  # type: ignore[no-untyped-def]
        return usage_event(
            api_key_id="key-ml",
            provider="openai",
            model="gpt-4o",
            customer="acme",
            input_tokens=100,
            output_tokens=10,
            provider_cost=Decimal(cost),
        )

    first, second = event("0.6"), event("0.5")
    worker = StreamWorker(
        bootstrap=bootstrap,
        topic_prefix=topics.prefix,
        data_dir=tmp_path / "data",
        log_path=tmp_path / "worker.log",
    )
    settings = GuardSettings(kafka_bootstrap=bootstrap, topic_prefix=topics.prefix)
    with worker, SyncBudgetGuard(settings) as guard:
        run(produce(bootstrap, topics.usage_raw, "key-ml", encode_batch([first])))
        # The gateway retries the same event: it must not count twice.
        run(produce(bootstrap, topics.usage_raw, "key-ml", encode_batch([first])))
        run(produce(bootstrap, topics.usage_raw, "key-ml", encode_batch([second])))
        sources = [topics.usage_raw, topics.usage_enriched, topics.budget_deltas]
        settled = stream_settled(bootstrap, topics.prefix, sources)
        alerts = run(read_alerts(bootstrap, topics.budget_alerts, until=2, settled=settled))
        wait_for(lambda: not guard.check("key-ml").allowed)
        assert "ml-cap" in guard.check("key-ml").reason
    assert [(a.policy_id, a.threshold, a.event_id) for a in alerts] == [
        ("ml-cap", 50, first.event_id),
        ("ml-cap", 100, second.event_id),
    ]
    assert alerts[-1].spend == Decimal("1.1")
