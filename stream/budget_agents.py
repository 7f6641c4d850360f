"""Budget agents: thin shells around ``stream.budget_deltas`` and ``stream.budgets``.

1. ``budget_spend`` (on ``meterline.usage.enriched``, key-partitioned): per record, one spend
   delta per subject with a policy, sent to ``meterline.budgets.deltas`` keyed ``scope:subject``.
   Only these few deltas are repartitioned, never the events.
2. ``budget_evaluate`` (on the deltas): one read and one write of the subject's changelog-backed
   state per delta; alerts to ``meterline.budgets.alerts`` and status changes to the compacted
   ``meterline.budgets.state``.

Order in ``budget_evaluate``, which is what makes alerts exactly-once by id: alerts and states
are sent and acknowledged by the broker first, then the subject state (with the applied offset
and the fired thresholds) is written, then Faust commits the offset. A crash before the state
write re-emits the same alert ids on replay (consumers key on ``alert_id``); a crash after it
finds the offset already applied and emits nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from schemas.budgets import BudgetScope
from schemas.codec import encode_batch, encode_one
from schemas.topics import BUDGET_DELTAS
from stream.app import app, settings, topic_names
from stream.budget_deltas import SpendDelta, aggregate_record, decode_enriched
from stream.budget_policies import PolicyFollower
from stream.budget_state import SUBJECTS_TABLE, SubjectState
from stream.budget_topics import alerts_topic, deltas_topic, state_topic
from stream.budgets import apply_delta
from stream.config import BudgetStreamSettings
from stream.topics import dlq_topic, enriched_topic

__all__ = ["budget_evaluate", "budget_spend", "policies", "subjects"]

log = logging.getLogger(__name__)

budget_settings = BudgetStreamSettings()

subjects = app.Table(
    SUBJECTS_TABLE,
    default=None,
    partitions=BUDGET_DELTAS.partitions,
    key_type=str,
)
"""``scope:subject`` -> ``SubjectState.to_json()``."""


async def _recheck(changed: list[tuple[BudgetScope, str]], offset: int) -> None:
    """Send an item-less delta per subject, so a policy change takes effect (a raised limit
    unblocks, a lowered one blocks) without waiting for the subject's next usage."""
    for scope, subject in changed:
        delta = SpendDelta.policy_trigger(scope, subject, offset)
        await deltas_topic.send(key=delta.key.encode(), value=delta.to_json())


policies = PolicyFollower(settings.kafka_bootstrap, topic_names.budget_policies, on_change=_recheck)


@app.task
async def follow_policies() -> None:
    await policies.run()


@app.agent(enriched_topic)
async def budget_spend(stream):  # type: ignore[no-untyped-def]
    async for event in stream.events():
        await policies.ready.wait()
        if not len(policies.index):
            continue  # no budgets at all: nothing to charge, skip the decoding
        message = event.message
        events, dead = decode_enriched(
            event.value,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            now=datetime.now(UTC),
        )
        if dead:
            position = f"{message.topic}:{message.partition}:{message.offset}".encode()
            await dlq_topic.send(key=position, value=encode_batch(dead))
        deltas = aggregate_record(
            events,
            policies.index.has_policy,
            source=str(message.partition),
            offset=message.offset,
        )
        for delta in deltas:
            await deltas_topic.send(key=delta.key.encode(), value=delta.to_json())


@app.agent(deltas_topic)
async def budget_evaluate(stream):  # type: ignore[no-untyped-def]
    async for event in stream.events():
        await policies.ready.wait()
        try:
            delta = SpendDelta.from_json(event.value)
        except (ValueError, KeyError, TypeError) as exc:
            # Only this app writes the deltas topic; a bad value is a bug, not input to bill.
            log.error("skipping malformed spend delta at offset %s: %r", event.message.offset, exc)
            continue
        state = SubjectState.from_json(subjects.get(delta.key))
        outcome = apply_delta(
            state,
            policies.index.for_subject(delta.scope, delta.subject),
            delta,
            now=datetime.now(UTC),
            grace_s=budget_settings.budget_late_grace_s,
        )
        if not outcome.applied:
            continue
        sent = [
            await alerts_topic.send(key=a.policy_id.encode(), value=encode_one(a))
            for a in outcome.alerts
        ]
        sent += [
            await state_topic.send(key=s.policy_id.encode(), value=encode_one(s))
            for s in outcome.states
        ]
        # A policy gone from the index is deleted: clear its state so no gateway keeps
        # blocking on it. (One that moved to another subject publishes its new state there.)
        sent += [
            await state_topic.send(key=policy_id.encode(), value=None)
            for policy_id in outcome.removed
            if policies.index.get(policy_id) is None
        ]
        for future in sent:
            await future
        subjects[delta.key] = state.to_json()
