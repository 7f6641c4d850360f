"""``meterline limits set|list|delete`` over the compacted topic, and a gateway's guard applying
a limit it follows live, to the key's owner customer through the binding."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from meterline.cli import cli
from meterline.kafka_admin import create_topics
from meterline.key_bindings import bind_key
from producers.config import GuardSettings
from producers.guard_sync import SyncBudgetGuard
from producers.limits.backends import InProcessBackend
from producers.limits.errors import LimitExceeded
from producers.limits.guard import LimitGuard
from schemas.keys import KeyBinding
from schemas.topics import BUDGET_STATE, KEYS, Topics
from tests.integration.budget_helpers import exceeded_state
from tests.integration.test_litellm_proxy import publish_state

pytestmark = pytest.mark.integration


def test_set_list_delete_round_trip(tansu, topics, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", tansu.bootstrap)
    monkeypatch.setenv("METERLINE_TOPIC_PREFIX", topics.prefix)
    runner = CliRunner()
    done = runner.invoke(cli, ["limits", "set", "--scope", "customer", "--subject", "acme",
                               "--rpm", "600", "--max-parallel", "20"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "customer:acme" in done.output and "600 rpm" in done.output
    runner.invoke(cli, ["limits", "set", "--scope", "key", "--subject", "k1", "--tpm", "5000"])
    listed = runner.invoke(cli, ["limits", "list", "--json"])
    found = {(x["scope"], x["subject"]): x for x in map(json.loads, listed.output.splitlines())}
    assert set(found) == {("customer", "acme"), ("key", "k1")}
    assert found[("customer", "acme")]["max_parallel"] == 20
    assert found[("key", "k1")]["tpm"] == 5000 and found[("key", "k1")]["rpm"] is None

    deleted = runner.invoke(cli, ["limits", "delete", "--scope", "key", "--subject", "k1"])
    assert deleted.exit_code == 0, deleted.output
    assert "key:k1" not in runner.invoke(cli, ["limits", "list"]).output
    missing = runner.invoke(cli, ["limits", "delete", "--scope", "key", "--subject", "k1"])
    assert missing.exit_code == 1 and "no limits" in missing.output
    empty = runner.invoke(cli, ["limits", "set", "--scope", "key", "--subject", "k2"])
    assert empty.exit_code == 2 and "at least one" in empty.output


def test_gateway_applies_a_customer_limit_it_follows_live(tansu, topics, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("METERLINE_KAFKA_BOOTSTRAP", tansu.bootstrap)
    monkeypatch.setenv("METERLINE_TOPIC_PREFIX", topics.prefix)
    binding = KeyBinding(api_key_id="k-acme", owner_customer="acme", updated_at=datetime.now(UTC))
    asyncio.run(bind_key(tansu.bootstrap, topics.keys, binding))
    settings = GuardSettings(kafka_bootstrap=tansu.bootstrap, topic_prefix=topics.prefix)
    with SyncBudgetGuard(settings) as follower:
        guard = LimitGuard(follower, InProcessBackend())
        guard.settle(guard.reserve("k-acme"))  # no limit yet
        done = CliRunner().invoke(cli, ["limits", "set", "--scope", "customer", "--subject",
                                        "acme", "--max-parallel", "1"])  # fmt: skip
        assert done.exit_code == 0, done.output
        # Calls in flight: once the limit arrives the first holds the one slot, the next is refused.
        in_flight = []
        deadline = time.monotonic() + 20
        while True:
            try:
                in_flight.append(guard.reserve("k-acme"))
            except LimitExceeded as refused:
                assert refused.kind == "parallel" and refused.subject == "customer acme"
                break
            assert time.monotonic() < deadline, "the gateway never applied the new limit"
            time.sleep(0.05)
        for ticket in in_flight:
            guard.settle(ticket)
        guard.settle(guard.reserve("k-acme"))
        guard.reserve("k-other")  # not acme's key: unlimited


def test_guard_of_a_deployment_without_the_new_topics_still_enforces_budget_state(tansu) -> None:  # type: ignore[no-untyped-def]
    """Upgraded gateways, topics not recreated yet: the stream's blocks still apply."""
    topics = Topics(f"t{uuid.uuid4().hex[:10]}.")
    asyncio.run(create_topics(tansu.bootstrap, topics, only=[KEYS.name, BUDGET_STATE.name]))
    publish_state(tansu.bootstrap, topics.budget_state, exceeded_state("old-key"))
    settings = GuardSettings(
        kafka_bootstrap=tansu.bootstrap, topic_prefix=topics.prefix, guard_start_timeout_s=60
    )
    with SyncBudgetGuard(settings) as follower:
        assert follower.available
        guard = LimitGuard(follower, InProcessBackend())
        with pytest.raises(LimitExceeded) as refused:
            guard.reserve("old-key")
        assert refused.value.kind == "budget" and refused.value.subject == "key old-key"
        guard.reserve("another-key")
