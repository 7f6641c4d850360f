"""A thread-backed facade over ``BudgetGuard`` for synchronous gateways and SDK code."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from datetime import datetime

from producers.budget_guard import BudgetGuard, GuardDecision, GuardIndex
from producers.config import GuardSettings
from producers.errors import ProducerNotStarted
from producers.limits.plan import LimitIndex

__all__ = ["SyncBudgetGuard", "started_guard"]


class SyncBudgetGuard:
    """Runs a ``BudgetGuard`` on its own event loop in a daemon thread.

    ``start()`` blocks like ``BudgetGuard.start()`` (until the state is loaded or the start
    timeout passed). ``check()`` is callable from any thread and reads memory only.
    """

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self._guard = BudgetGuard(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

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
        if self._thread is not None:
            return self
        ready: Future[None] = Future()
        loop = self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._guard.start())
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="meterline-budget-guard", daemon=True)
        self._thread.start()
        ready.result()
        return self

    def check(self, api_key_id: str, now: datetime | None = None) -> GuardDecision:
        if self._thread is None:
            raise ProducerNotStarted("SyncBudgetGuard.check() before start()")
        return self._guard.check(api_key_id, now)

    def close(self) -> None:
        if self._thread is None or self._loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._guard.stop(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self._thread = None
            self._loop = None

    def __enter__(self) -> SyncBudgetGuard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def started_guard() -> SyncBudgetGuard:
    """A started ``SyncBudgetGuard`` from ``METERLINE_*`` settings: the factory to name in
    ``METERLINE_LITELLM_GUARD=producers.guard_sync:started_guard``. It runs for the life of the
    process (its thread is a daemon)."""
    return SyncBudgetGuard(GuardSettings()).start()
