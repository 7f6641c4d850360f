"""Budget policies as the stream sees them: the compacted policies topic, indexed by subject.

``PolicyIndex`` is pure; ``PolicyFollower`` reads the topic from the beginning and keeps
following it, so a policy change applies from the next record on. Agents wait for ``ready``
(the topic read up to its end as of start-up) before they evaluate anything.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from compacted import CompactedFollower, Invalid, InvalidValue, Update
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
        return self.put(policy_id, policy)

    def put(
        self, policy_id: str, policy: BudgetPolicy | None
    ) -> tuple[BudgetPolicy | None, BudgetPolicy | None]:
        """Set (``None``: delete) the policy under ``policy_id``; returns (previous, new)."""
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
        self._follower: CompactedFollower[BudgetPolicy] = CompactedFollower(
            bootstrap,
            {topic: BudgetPolicy.model_validate_json},
            on_batch=self._changed,
            on_loaded=self._loaded,
            on_invalid=_log_invalid,
            invalid=InvalidValue.DELETE,
            client_id="budget-policies",
            fetch_max_wait_ms=100,
            poll_ms=200,
        )
        self.ready = self._follower.loaded

    async def run(self) -> None:
        """Follow until cancelled. An invalid value deletes that policy id (it is logged; the
        CLI never writes one)."""
        await self._follower.run()

    async def _changed(self, updates: list[Update[BudgetPolicy]]) -> None:
        changed: set[tuple[BudgetScope, str]] = set()
        for update in updates:
            self.index.put(update.key, update.new)
            changed |= {(p.scope, p.subject) for p in (update.old, update.new) if p is not None}
        # Before the topic is loaded, the load's own call covers every subject.
        if self.ready.is_set() and changed and self.on_change is not None:
            await self.on_change(sorted(changed), updates[-1].offset)

    async def _loaded(self) -> None:
        log.info("budget policies loaded: %d", len(self.index))
        end = self._follower.end_offsets.get((self.topic, 0), 0)
        if self.on_change is not None and end > 0:
            await self.on_change(self.index.subjects(), end - 1)


def _log_invalid(invalid: Invalid) -> None:
    log.error("invalid budget policy %r treated as deleted: %s", invalid.key, invalid.error)
