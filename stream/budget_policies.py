"""Budget policies as the stream sees them: the compacted policies topic, indexed by subject.

``PolicyIndex`` is pure; ``PolicyFollower`` reads the topic from the beginning and keeps
following it, so a policy change applies from the next record on. Agents wait for ``ready``
(the topic read up to its end as of start-up) before they evaluate anything.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.budgets import BudgetPolicy, BudgetScope

__all__ = ["PolicyFollower", "PolicyIndex"]

log = logging.getLogger(__name__)


class PolicyIndex:
    """Latest policy per ``policy_id``, looked up by (scope, subject) in O(1)."""

    def __init__(self) -> None:
        self._by_id: dict[str, BudgetPolicy] = {}
        self._by_subject: dict[tuple[BudgetScope, str], dict[str, BudgetPolicy]] = {}

    def apply(self, policy_id: str, value: bytes | None) -> None:
        """Apply one record of the policies topic (``None`` value = deleted).

        Raises ``pydantic.ValidationError`` on a malformed value; the index is then unchanged.
        """
        policy = None if value is None else BudgetPolicy.model_validate_json(value)
        old = self._by_id.pop(policy_id, None)
        if old is not None:
            subject = self._by_subject.get((old.scope, old.subject), {})
            subject.pop(policy_id, None)
            if not subject:
                self._by_subject.pop((old.scope, old.subject), None)
        if policy is not None:
            self._by_id[policy_id] = policy
            self._by_subject.setdefault((policy.scope, policy.subject), {})[policy_id] = policy

    def has_policy(self, scope: BudgetScope, subject: str) -> bool:
        return (scope, subject) in self._by_subject

    def for_subject(self, scope: BudgetScope, subject: str) -> list[BudgetPolicy]:
        return list(self._by_subject.get((scope, subject), {}).values())

    def __len__(self) -> int:
        return len(self._by_id)


class PolicyFollower:
    """Follows the one-partition compacted policies topic into a ``PolicyIndex``."""

    def __init__(self, bootstrap: str, topic: str, index: PolicyIndex | None = None) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.index = index or PolicyIndex()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Follow until cancelled. Bad values are logged and skipped (they are admin input,
        not usage; the previous version of that policy stays deleted)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, client_id="budget-policies"
        )
        await consumer.start()
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            if end == 0:
                self.ready.set()
            while True:
                batches = await consumer.getmany(tp, timeout_ms=200)
                for message in batches.get(tp, []):
                    key = (message.key or b"").decode(errors="replace")
                    try:
                        self.index.apply(key, message.value)
                    except ValidationError as exc:
                        log.error("skipping invalid budget policy %r: %s", key, exc)
                        self.index.apply(key, None)
                if not self.ready.is_set() and await consumer.position(tp) >= end:
                    log.info("budget policies loaded: %d", len(self.index))
                    self.ready.set()
        finally:
            await consumer.stop()
