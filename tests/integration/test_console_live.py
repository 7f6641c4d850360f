"""The console's live budget state (``meterline.console_live``) follows the compacted topics:
ready once they are read, then each change, a tombstone removing a policy."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest

from meterline.budget_admin import build_policy
from meterline.console_live import KafkaLiveBudgets
from meterline.kafka_records import produce_records
from reports.console.live import LiveSnapshot
from schemas.codec import encode_one
from tests.integration.budget_helpers import exceeded_state

pytestmark = pytest.mark.integration


def until(live: KafkaLiveBudgets, condition: Callable[[LiveSnapshot], bool]) -> LiveSnapshot:
    deadline = time.monotonic() + 20
    while not condition(snapshot := live.snapshot()):
        assert time.monotonic() < deadline, snapshot
        time.sleep(0.02)
    return snapshot


def test_live_budgets_load_then_follow_changes_and_deletions(tansu, topics) -> None:  # type: ignore[no-untyped-def]
    policy = build_policy(policy_id="p-acme", scope="customer", subject="acme", limit="5")
    state = exceeded_state("k1")
    asyncio.run(produce_records(tansu.bootstrap, topics.budget_policies,
                                [(b"p-acme", encode_one(policy))], partition=0))  # fmt: skip
    live = KafkaLiveBudgets(tansu.bootstrap, topics).start()
    try:
        loaded = until(live, lambda s: s.ready)
        assert [p.policy_id for p in loaded.policies] == ["p-acme"] and not loaded.states
        assert loaded.error == ""

        asyncio.run(produce_records(tansu.bootstrap, topics.budget_state,
                                    [(state.policy_id.encode(), encode_one(state))],
                                    partition=0))  # fmt: skip
        until(live, lambda s: [x.policy_id for x in s.states] == [state.policy_id])

        asyncio.run(produce_records(tansu.bootstrap, topics.budget_policies, [(b"p-acme", None)],
                                    partition=0))  # fmt: skip
        until(live, lambda s: not s.policies)
    finally:
        live.stop()
    # A clean stop: its thread (and the consumer on it) has ended.
    assert not [t for t in threading.enumerate() if t.name == "console-live-budgets"]
