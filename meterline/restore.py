"""Republish the configuration of record when the compacted topics are empty or behind.

``plan_restore`` (pure) compares, per id, the store's latest change with the latest record on
the topic:

* no record on the topic: republish a stored value (a stored delete needs nothing);
* the topic's change id is the store's latest: in sync;
* the topic's change id is an older change of the store: the topic is behind, republish;
* anything else (a change the sink has not recorded yet): the topic is ahead, leave it.

Republished records keep the store's change id, so the sink recognises them and the history
does not grow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from meterline.budget_admin import list_policies
from meterline.config_changes import Change, TopicRecord, publish_changes, read_compacted
from meterline.config_store import QueryClient, StoredConfig, current_config
from meterline.opening import opening_balances, publish_opening_balances, windows_lost
from schemas.config import CONFIG_TOPICS
from schemas.topics import Topics
from stream.budget_state import subjects_changelog

__all__ = ["plan_restore", "restore_before_workers", "restore_config"]


def plan_restore(
    stored: Iterable[StoredConfig], on_topic: dict[str, TopicRecord], known: set[str]
) -> list[Change]:
    """The records that bring one topic up to the store (see module doc). ``known`` holds the
    change ids on the topic that the store has recorded."""
    out: list[Change] = []
    for row in stored:
        record = on_topic.get(row.entity_id)
        wanted = row.value.encode() if row.op == "set" else None
        if record is None:
            if wanted is not None:
                out.append(Change(row.entity_id, wanted, row.change_id))
            continue
        if record.change_id == row.change_id:
            continue
        if record.change_id in known:
            out.append(Change(row.entity_id, wanted, row.change_id))
    return out


def _known_ids(client: QueryClient, db: str, ids: set[str]) -> set[str]:
    if not ids:
        return set()
    result = client.query(
        f"SELECT DISTINCT change_id FROM {db}.config_history "
        "WHERE change_id IN {ids:Array(String)}",
        parameters={"ids": sorted(ids)},
    )
    return {str(row[0]) for row in result.result_rows}


async def restore_config(
    bootstrap: str,
    topics: Topics,
    client: QueryClient,
    db: str,
    *,
    say: Callable[[str], None] = print,
    actor: str | None = None,
) -> dict[str, int]:
    """Bring every configuration topic up to the store; returns records republished per kind.
    Raises aiokafka's ``KafkaError`` / ``LookupError`` (topic missing) from the broker."""
    done: dict[str, int] = {}
    for config in CONFIG_TOPICS:
        topic = topics.name(config.spec)
        stored = current_config(client, db, config.kind)
        on_topic = await read_compacted(bootstrap, topic)
        known = _known_ids(client, db, {r.change_id for r in on_topic.values() if r.change_id})
        changes = plan_restore(stored, on_topic, known)
        if changes:
            await publish_changes(bootstrap, topic, changes, actor=actor, origin="restore")
        done[config.kind] = len(changes)
        live = sum(1 for row in stored if row.op == "set")
        say(f"config     {config.kind}: {live} in the store, {len(changes)} republished")
    return done


async def restore_before_workers(
    bootstrap: str,
    topics: Topics,
    client: QueryClient,
    db: str,
    *,
    app_id: str,
    grace_s: int,
    now: datetime,
    say: Callable[[str], None] = print,
) -> set[str]:
    """What a starter runs after the sink and before the stream worker: the configuration
    topics brought up to the store, then, when the budget windows' state is lost, an opening
    balance per policy (``meterline.opening``). Returns the ids of the policies whose window
    was rebuilt (empty when the broker kept the state)."""
    await restore_config(bootstrap, topics, client, db, say=say)
    if not await windows_lost(bootstrap, subjects_changelog(app_id)):
        say("budgets    window state kept by the broker")
        return set()
    policies = await list_policies(bootstrap, topics)
    if not policies:
        return set()
    balances = opening_balances(client, db, policies, now=now, grace_s=grace_s)
    await publish_opening_balances(bootstrap, topics, balances)
    counted = sum(1 for b in balances if b.delta.items)
    say(f"budgets    {len(balances)} windows rebuilt from usage_events ({counted} with spend)")
    return {b.policy.policy_id for b in balances}
