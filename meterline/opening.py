"""Rebuild the budget windows from ``usage_events`` after their state was lost.

The stream keeps each subject's window in a changelog-backed Faust table. On a broker that lost
its topics (the local ``memory://`` Tansu after a restart, a new cluster) that changelog is
gone. Before the stream worker starts, the starter reads the store and publishes one *opening
balance* per policy to ``meterline.budgets.deltas``: the policy's spend per window bucket over
the window still open, counted from when the policy's current tally began (its creation, or the
last change of scope, subject, unit or window, as recorded in ``config_history``), with the
thresholds that already alerted (``budget_alerts``). The evaluator applies it like any delta,
so spend, status and the block come back and no alert repeats. The stream itself never reads
the database.

Chosen over a database read inside the stream: the stream stays a pure Kafka application that
runs the same against any store, and the rebuild happens once, before anything is evaluated.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from meterline.config_changes import read_compacted
from meterline.config_store import HistoryEntry, QueryClient, history
from schemas.budgets import BudgetPolicy, BudgetScope, BudgetState, BudgetWindow
from schemas.topics import Topics
from stream.budget_deltas import SpendDelta, UsageItem
from stream.budget_windows import BUCKET_SECONDS
from stream.budgets import counted_from

__all__ = [
    "OpeningBalance",
    "opening_balances",
    "publish_opening_balances",
    "tally_start",
    "wait_for_states",
    "windows_lost",
]

_SUBJECT_COLUMN = {
    BudgetScope.KEY: "api_key_id",
    BudgetScope.TEAM: "team_id",
    BudgetScope.CUSTOMER: "owner_customer",
}


def tally_start(entries: Sequence[HistoryEntry]) -> datetime | None:
    """When the current tally of a policy began, from its history (oldest first): the last
    set after a delete or a change of scope, subject, unit or window. None without history
    (then the whole open window counts)."""
    start: datetime | None = None
    basis: tuple[str, ...] | None = None
    for entry in entries:
        if entry.op != "set":
            start, basis = None, None
            continue
        raw = json.loads(entry.new_value)
        now_basis = (raw["scope"], raw["subject"], raw["unit"], raw["window"])
        if now_basis != basis:
            start, basis = entry.changed_at, now_basis
    return start


@dataclass(frozen=True)
class OpeningBalance:
    policy: BudgetPolicy
    delta: SpendDelta

    @property
    def spend_items(self) -> int:
        return len(self.delta.items)


def _spend_items(
    client: QueryClient, db: str, policy: BudgetPolicy, since: int, start_ms: int
) -> tuple[UsageItem, ...]:
    column = _SUBJECT_COLUMN[policy.scope]
    result = client.query(
        "SELECT intDiv(toUnixTimestamp(occurred_at), {size:UInt32}) AS b, "
        "toUnixTimestamp(max(occurred_at)), sum(cost), "
        "sum(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), count(), "
        f"argMax(event_id, occurred_at) FROM {db}.usage_events FINAL "
        f"WHERE {column} = {{subject:String}} AND toUnixTimestamp(occurred_at) >= {{since:Int64}} "
        "AND toUnixTimestamp64Milli(enriched_at) >= {start:Int64} GROUP BY b ORDER BY b",
        parameters={
            "size": BUCKET_SECONDS[policy.window],
            "subject": policy.subject,
            "since": since,
            "start": start_ms,
        },
    )
    return tuple(
        UsageItem(int(at), Decimal(usd), int(tokens), int(requests), str(event_id))
        for _b, at, usd, tokens, requests, event_id in result.result_rows
    )


def _fired(
    client: QueryClient, db: str, policy: BudgetPolicy, since: int, start_ms: int
) -> tuple[tuple[int, Decimal], ...]:
    """Thresholds already alerted in the open window instance(s) of the current tally: per
    threshold the latest alert (rolling: the evaluator re-arms it if spend is now below), or
    every alert of the open months."""
    if policy.window is BudgetWindow.MONTH:
        sql = (
            "SELECT DISTINCT threshold, toUnixTimestamp(window_start) "
            f"FROM {db}.budget_alerts FINAL WHERE policy_id = {{pid:String}} "
            "AND toUnixTimestamp(window_start) >= {since:Int64} "
            "AND toUnixTimestamp64Milli(emitted_at) >= {start:Int64}"
        )
    else:
        sql = (
            "SELECT threshold, toUnixTimestamp(max(window_start)) "
            f"FROM {db}.budget_alerts FINAL WHERE policy_id = {{pid:String}} "
            "AND toUnixTimestamp64Milli(emitted_at) >= {start:Int64} GROUP BY threshold"
        )
    result = client.query(
        sql, parameters={"pid": policy.policy_id, "since": since, "start": start_ms}
    )
    return tuple(sorted((int(at), Decimal(t)) for t, at in result.result_rows))


def opening_balances(
    client: QueryClient,
    db: str,
    policies: Sequence[BudgetPolicy],
    *,
    now: datetime,
    grace_s: int,
) -> list[OpeningBalance]:
    """One opening balance per policy (see module doc)."""
    out = []
    epoch = int(now.timestamp())
    for policy in policies:
        start = tally_start(history(client, db, "budgets", policy.policy_id))
        start_ms = int(start.timestamp() * 1000) if start else 0
        since = counted_from(policy.window, epoch, grace_s)
        items = _spend_items(client, db, policy, since, start_ms)
        fired = _fired(client, db, policy, since, start_ms)
        delta = SpendDelta.opening(policy.scope, policy.subject, policy.policy_id, items, fired)
        out.append(OpeningBalance(policy, delta))
    return out


async def windows_lost(bootstrap: str, changelog: str) -> bool:
    """True when the evaluator's changelog topic is missing or holds no record."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer.topics()  # fetches the metadata partitions_for_topic reads
        partitions = consumer.partitions_for_topic(changelog)
        if not partitions:
            return True
        ends = await consumer.end_offsets([TopicPartition(changelog, p) for p in partitions])
        return not any(ends.values())
    finally:
        await consumer.stop()


async def publish_opening_balances(
    bootstrap: str, topics: Topics, balances: Sequence[OpeningBalance]
) -> None:
    """Send every opening balance to the deltas topic (keyed by subject, as the stream does) and
    wait until the broker has them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(topics.budget_deltas, b.delta.to_json(), key=b.delta.key.encode())
            for b in balances
        ]
        for future in futures:
            await future
    finally:
        await producer.stop()


async def wait_for_states(
    bootstrap: str,
    topics: Topics,
    policy_ids: set[str],
    since: datetime,
    timeout_s: float = 60.0,
    progress: Callable[[int, int], None] | None = None,
) -> bool:
    """Wait (bounded) until the stream published a state for every policy in ``policy_ids``
    evaluated at or after ``since``; True when it did."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            latest = await read_compacted(bootstrap, topics.budget_state)
        except LookupError:
            latest = {}
        done = set()
        for pid in policy_ids:
            record = latest.get(pid)
            if record is None or record.value is None:
                continue
            state = BudgetState.model_validate_json(record.value)
            if state.updated_at >= since:
                done.add(pid)
        if progress is not None:
            progress(len(done), len(policy_ids))
        if done >= policy_ids:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.3)
