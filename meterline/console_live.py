"""The console's live budget state: a background follower of the stream's compacted topics
(``meterline.keys``, ``meterline.budgets.policies``, ``meterline.budgets.state``).

It reads each topic from its beginning and keeps the latest valid value per key, as every
gateway's ``BudgetGuard`` does, on its own thread and event loop, so a page never waits on
Kafka: ``snapshot()`` returns what is known now (``ready`` once the topics were read to their
end as of the first connection). A broker that does not answer is retried every few seconds;
the page shows the error meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

import tenacity
from pydantic import BaseModel

from compacted import CompactedFollower, Invalid, InvalidValue, Update
from reports.console.live import LiveSnapshot
from schemas.budgets import BudgetPolicy, BudgetState
from schemas.keys import KeyBinding
from schemas.topics import Topics
from stream.budget_windows import to_datetime, window_bounds

__all__ = ["KafkaLiveBudgets"]

log = logging.getLogger(__name__)

_RETRY_S = 3.0
_POLL_MS = 500
_FETCH_MAX_WAIT_MS = 500


class KafkaLiveBudgets:
    """``LiveBudgets`` over Kafka; ``start()`` it, ``stop()`` it (joins its thread)."""

    def __init__(self, bootstrap: str, topics: Topics) -> None:
        self._bootstrap = bootstrap
        self._models: dict[str, type[BaseModel]] = {
            topics.keys: KeyBinding,
            topics.budget_policies: BudgetPolicy,
            topics.budget_state: BudgetState,
        }
        self._values: dict[str, dict[str, Any]] = {t: {} for t in self._models}
        self._ready = False
        self._error = ""
        self._follower: CompactedFollower[BaseModel] = CompactedFollower(
            bootstrap,
            {topic: model.model_validate_json for topic, model in self._models.items()},
            on_batch=self._publish,
            on_loaded=self._loaded,
            on_invalid=_warn_invalid,
            invalid=InvalidValue.SKIP,
            client_id="meterline-console",
            fetch_max_wait_ms=_FETCH_MAX_WAIT_MS,
            poll_ms=_POLL_MS,
            retry_wait=tenacity.wait_fixed(_RETRY_S),
            # Keep following whatever went wrong; the page shows it meanwhile.
            retry_on=(Exception,),
            on_retry=self._failed,
        )
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None

    def start(self) -> KafkaLiveBudgets:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._run()), name="console-live-budgets", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        loop, task = self._loop, self._task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def snapshot(self) -> LiveSnapshot:
        values = self._values
        keys, policies, states = (values[t] for t in self._models)
        now = int(time.time())
        starts = {
            p.policy_id: to_datetime(window_bounds(p.window, now)[0]) for p in policies.values()
        }
        return LiveSnapshot(
            ready=self._ready,
            source=f"Kafka at {self._bootstrap}",
            policies=tuple(policies[k] for k in sorted(policies)),
            states=tuple(states[k] for k in sorted(states)),
            bindings=tuple(keys[k] for k in sorted(keys)),
            error=self._error,
            window_starts=starts,
        )

    async def _run(self) -> None:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        if self._stopping.is_set():
            return
        with contextlib.suppress(asyncio.CancelledError):
            await self._follower.run()

    async def _publish(self, _updates: list[Update[BaseModel]]) -> None:
        # Publish copies: snapshot() reads them from another thread.
        self._values = {t: dict(self._follower.values(t)) for t in self._models}

    async def _loaded(self) -> None:
        await self._publish([])
        self._ready, self._error = True, ""

    def _failed(self, exc: BaseException) -> None:
        self._error = f"{type(exc).__name__}: {exc}"
        log.warning("console budget state: %s; retrying", self._error)


def _warn_invalid(invalid: Invalid) -> None:
    log.warning("console budget state: skipped an invalid record on %s", invalid.topic)
