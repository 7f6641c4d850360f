"""A thread-backed facade over ``BudgetGuard`` for synchronous gateways and SDK code."""

from __future__ import annotations

import contextlib
from datetime import datetime

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from producers.budget_guard import BudgetGuard, GuardDecision, GuardIndex
from producers.config import GuardSettings
from producers.errors import ProducerNotStarted
from producers.limits.plan import LimitIndex

__all__ = ["SyncBudgetGuard", "started_guard"]

_STOP_TIMEOUT_S = 10.0


class SyncBudgetGuard:
    """Runs a ``BudgetGuard`` on its own event loop in a daemon thread (anyio's blocking
    portal).

    ``start()`` blocks like ``BudgetGuard.start()`` (until the state is loaded or the start
    timeout passed). ``check()`` is callable from any thread and reads memory only.
    """

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self._guard = BudgetGuard(settings)
        self._portal: BlockingPortal | None = None
        self._exit = contextlib.ExitStack()

    @property
    def available(self) -> bool:
        return self._guard.available

    @property
    def index(self) -> GuardIndex:
        return self._guard.index

    @property
    def limits(self) -> LimitIndex:
        return self._guard.limits

    def start(self) -> SyncBudgetGuard:
        if self._portal is not None:
            return self
        portal = self._exit.enter_context(start_blocking_portal(name="meterline-budget-guard"))
        try:
            portal.call(self._guard.start)
        except BaseException:
            self._exit.close()
            raise
        self._portal = portal
        return self

    def check(self, api_key_id: str, now: datetime | None = None) -> GuardDecision:
        if self._portal is None:
            raise ProducerNotStarted("SyncBudgetGuard.check() before start()")
        return self._guard.check(api_key_id, now)

    def close(self) -> None:
        if self._portal is None:
            return
        try:
            self._portal.call(self._stop)
        finally:
            self._portal = None
            self._exit.close()  # stops the loop and joins its thread

    async def _stop(self) -> None:
        with anyio.fail_after(_STOP_TIMEOUT_S):
            await self._guard.stop()

    def __enter__(self) -> SyncBudgetGuard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def started_guard() -> SyncBudgetGuard:
    """A started ``SyncBudgetGuard`` from ``METERLINE_*`` settings: the factory to name in
    ``METERLINE_LITELLM_GUARD=producers.guard_sync:started_guard``. It runs for the life of the
    process (its thread is a daemon)."""
    return SyncBudgetGuard(GuardSettings()).start()
