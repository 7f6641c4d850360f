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
from typing import Any

import faust

from schemas.budgets import BudgetScope
from schemas.codec import encode_batch, encode_one
from stream.budget_deltas import SpendDelta, aggregate_record, decode_enriched
from stream.budget_policies import PolicyFollower
from stream.budget_state import SubjectState
from stream.budgets import apply_delta
from stream.config import BudgetStreamSettings, StreamSettings
from stream.rewind import SourcePositions
from stream.tables import StreamTables
from stream.topics import StreamTopics

__all__ = ["BudgetAgents"]

log = logging.getLogger(__name__)


class BudgetAgents:
    """The two budget agents and the policy follower, registered on ``app`` when built."""

    def __init__(
        self,
        app: faust.App,
        settings: StreamSettings,
        budget_settings: BudgetStreamSettings,
        topics: StreamTopics,
        tables: StreamTables,
        positions: SourcePositions,
    ) -> None:
        self.budget_settings = budget_settings
        self.positions = positions
        self.topics = topics
        self.subjects = tables.subjects
        self.policies = PolicyFollower(
            settings.kafka_bootstrap, topics.names.budget_policies, on_change=self._recheck
        )
        app.task(self.follow_policies)
        self.spend_agent = app.agent(topics.enriched, name="stream.budget_agents.budget_spend")(
            self.budget_spend
        )
        self.evaluate_agent = app.agent(topics.deltas, name="stream.budget_agents.budget_evaluate")(
            self.budget_evaluate
        )

    async def _recheck(self, changed: list[tuple[BudgetScope, str]], offset: int) -> None:
        """Send an item-less delta per subject, so a policy change takes effect (a raised limit
        unblocks, a lowered one blocks) without waiting for the subject's next usage."""
        for scope, subject in changed:
            delta = SpendDelta.policy_trigger(scope, subject, offset)
            await self.topics.deltas.send(key=delta.key.encode(), value=delta.to_json())

    async def follow_policies(self) -> None:
        await self.policies.run()

    async def budget_spend(self, stream: Any) -> None:
        policies, admit = self.policies, self.positions.admit
        async for event in stream.events():
            if not await admit(event.message):
                continue
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
                await self.topics.dlq.send(key=position, value=encode_batch(dead))
            deltas = aggregate_record(
                events,
                policies.index.has_policy,
                source=str(message.partition),
                offset=message.offset,
            )
            for delta in deltas:
                await self.topics.deltas.send(key=delta.key.encode(), value=delta.to_json())

    async def budget_evaluate(self, stream: Any) -> None:
        policies, subjects, topics = self.policies, self.subjects, self.topics
        admit = self.positions.admit
        async for event in stream.events():
            if not await admit(event.message):
                continue
            await policies.ready.wait()
            try:
                delta = SpendDelta.from_json(event.value)
            except (ValueError, KeyError, TypeError) as exc:
                # Only this app writes the deltas topic; a bad value is a bug, not input to
                # bill.
                log.error(
                    "skipping malformed spend delta at offset %s: %r", event.message.offset, exc
                )
                continue
            state = SubjectState.from_json(subjects.get(delta.key))
            outcome = apply_delta(
                state,
                policies.index.for_subject(delta.scope, delta.subject),
                delta,
                now=datetime.now(UTC),
                grace_s=self.budget_settings.budget_late_grace_s,
            )
            if not outcome.applied:
                continue
            sent = [
                await topics.alerts.send(key=a.policy_id.encode(), value=encode_one(a))
                for a in outcome.alerts
            ]
            sent += [
                await topics.state.send(key=s.policy_id.encode(), value=encode_one(s))
                for s in outcome.states
            ]
            # A policy gone from the index is deleted: clear its state so no gateway keeps
            # blocking on it. (One that moved to another subject publishes its new state
            # there.)
            sent += [
                await topics.state.send(key=policy_id.encode(), value=None)
                for policy_id in outcome.removed
                if policies.index.get(policy_id) is None
            ]
            for future in sent:
                await future
            subjects[delta.key] = state.to_json()
