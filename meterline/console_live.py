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
import logging
import threading
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import BaseModel, ValidationError

from reports.console.live import LiveSnapshot
from schemas.budgets import BudgetPolicy, BudgetState
from schemas.keys import KeyBinding
from schemas.topics import Topics
from stream.budget_windows import to_datetime, window_bounds

__all__ = ["KafkaLiveBudgets"]

log = logging.getLogger(__name__)

_RETRY_S = 3.0
_POLL_MS = 500


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
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> KafkaLiveBudgets:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._run()), name="console-live-budgets", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
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
        while not self._stopping.is_set():
            try:
                await self._follow()
            except (KafkaError, OSError, TimeoutError) as exc:
                self._error = f"{type(exc).__name__}: {exc}"
                log.warning("console budget state: %s; retrying", self._error)
                await asyncio.sleep(_RETRY_S)
            except Exception as exc:  # keep following; the page shows what went wrong
                self._error = f"{type(exc).__name__}: {exc}"
                log.exception("console budget state follower failed; retrying")
                await asyncio.sleep(_RETRY_S)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            client_id="meterline-console",
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topic, 0) for topic in self._models]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await asyncio.wait_for(consumer.end_offsets(tps), 10)
            fresh: dict[str, dict[str, Any]] = {t: {} for t in self._models}
            while not self._stopping.is_set():
                batches = await consumer.getmany(*tps, timeout_ms=_POLL_MS)
                for tp, messages in batches.items():
                    for message in messages:
                        self._apply(fresh[tp.topic], tp.topic, message.key, message.value)
                if batches or not self._ready:
                    # Publish copies: snapshot() reads them from another thread.
                    self._values = {t: dict(v) for t, v in fresh.items()}
                if not self._ready and await self._caught_up(consumer, ends):
                    self._ready, self._error = True, ""
        finally:
            await consumer.stop()

    @staticmethod
    async def _caught_up(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    def _apply(
        self, into: dict[str, Any], topic: str, key: bytes | None, value: bytes | None
    ) -> None:
        name = (key or b"").decode(errors="replace")
        if value is None:
            into.pop(name, None)
            return
        try:
            into[name] = self._models[topic].model_validate_json(value)
        except ValidationError:
            log.warning("console budget state: skipped an invalid record on %s", topic)
