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

from schemas.codec import encode_one
from schemas.topics import BUDGET_DELTAS
from stream.app import app, settings, topic_names
from stream.budget_deltas import SpendDelta, aggregate_record, decode_enriched
from stream.budget_policies import PolicyFollower
from stream.budgets import SubjectState, apply_delta
from stream.config import BudgetStreamSettings

__all__ = ["budget_evaluate", "budget_spend", "policies", "subjects"]

log = logging.getLogger(__name__)

budget_settings = BudgetStreamSettings()

_RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
enriched_topic = app.topic(topic_names.usage_enriched, **_RAW)
deltas_topic = app.topic(topic_names.budget_deltas, partitions=BUDGET_DELTAS.partitions, **_RAW)
alerts_topic = app.topic(topic_names.budget_alerts, **_RAW)
state_topic = app.topic(topic_names.budget_state, **_RAW)
dlq_topic = app.topic(topic_names.usage_dlq, **_RAW)

subjects = app.Table(
    "budget-subjects",
    default=None,
    partitions=BUDGET_DELTAS.partitions,
    key_type=str,
)
"""``scope:subject`` -> ``SubjectState.to_json()``."""

policies = PolicyFollower(settings.kafka_bootstrap, topic_names.budget_policies)


@app.task
async def follow_policies() -> None:
    await policies.run()


@app.agent(enriched_topic)
async def budget_spend(stream):  # type: ignore[no-untyped-def]
    async for event in stream.events():
        await policies.ready.wait()
        message = event.message
        events, dead = decode_enriched(
            event.value,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            now=datetime.now(UTC),
        )
        for letter in dead:
            await dlq_topic.send(key=None, value=encode_one(letter))
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
        for future in sent:
            await future
        subjects[delta.key] = state.to_json()
