"""Budget policies as the stream sees them: the compacted policies topic, indexed by subject.

``PolicyIndex`` is pure; ``PolicyFollower`` reads the topic from the beginning and keeps
following it, so a policy change applies from the next record on. Agents wait for ``ready``
(the topic read up to its end as of start-up) before they evaluate anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

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

    def apply(
        self, policy_id: str, value: bytes | None
    ) -> tuple[BudgetPolicy | None, BudgetPolicy | None]:
        """Apply one record of the policies topic (``None`` value = deleted); returns the
        (previous, new) policy under that id.

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
        return old, policy

    def get(self, policy_id: str) -> BudgetPolicy | None:
        return self._by_id.get(policy_id)

    def subjects(self) -> list[tuple[BudgetScope, str]]:
        return list(self._by_subject)

    def has_policy(self, scope: BudgetScope, subject: str) -> bool:
        return (scope, subject) in self._by_subject

    def for_subject(self, scope: BudgetScope, subject: str) -> list[BudgetPolicy]:
        return list(self._by_subject.get((scope, subject), {}).values())

    def __len__(self) -> int:
        return len(self._by_id)


OnChange = Callable[[list[tuple[BudgetScope, str]], int], Awaitable[None]]
"""Called with the subjects whose policies changed and the policies topic offset of the change."""


class PolicyFollower:
    """Follows the one-partition compacted policies topic into a ``PolicyIndex``.

    ``on_change`` runs once for every subject when the topic is loaded (so a worker start
    re-checks all subjects: policies may have changed while it was down) and then for the
    subjects of every later change.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        index: PolicyIndex | None = None,
        on_change: OnChange | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.index = index or PolicyIndex()
        self.on_change = on_change
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Follow until cancelled. An invalid value deletes that policy id (it is logged; the
        CLI never writes one)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            client_id="budget-policies",
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            while True:
                changed: set[tuple[BudgetScope, str]] = set()
                last_offset = -1
                for message in (await consumer.getmany(tp, timeout_ms=200)).get(tp, []):
                    changed |= self._apply(message.key, message.value)
                    last_offset = message.offset
                if not self.ready.is_set():
                    if await consumer.position(tp) >= end:
                        log.info("budget policies loaded: %d", len(self.index))
                        self.ready.set()
                        if self.on_change is not None and end > 0:
                            await self.on_change(self.index.subjects(), end - 1)
                elif changed and self.on_change is not None:
                    await self.on_change(sorted(changed), last_offset)
        finally:
            await consumer.stop()

    def _apply(self, key: bytes | None, value: bytes | None) -> set[tuple[BudgetScope, str]]:
        policy_id = (key or b"").decode(errors="replace")
        try:
            old, new = self.index.apply(policy_id, value)
        except ValidationError as exc:
            log.error("invalid budget policy %r treated as deleted: %s", policy_id, exc)
            old, new = self.index.apply(policy_id, None)
        return {(p.scope, p.subject) for p in (old, new) if p is not None}
