"""A thread-backed facade over ``UsageProducer`` for synchronous gateways and SDK code."""

from __future__ import annotations

import contextlib
import threading

from anyio.from_thread import BlockingPortal, start_blocking_portal

from producers.config import ProducerSettings
from producers.errors import ProducerNotStarted
from producers.producer import UsageProducer
from producers.stats import ProducerStats
from schemas.usage import UsageEvent

__all__ = ["SyncUsageProducer"]


class SyncUsageProducer:
    """Runs a ``UsageProducer`` on its own event loop in a daemon thread (anyio's blocking
    portal).

    ``record()`` is callable from any thread and never waits for I/O. Call ``close()`` (or use
    ``with``) at shutdown so queued events are sent or spooled.
    """

    def __init__(self, settings: ProducerSettings | None = None, *, topic: str | None = None):
        self._producer = UsageProducer(settings, topic=topic)
        self._portal: BlockingPortal | None = None
        self._exit = contextlib.ExitStack()
        self._lock = threading.Lock()

    def start(self) -> SyncUsageProducer:
        if self._portal is not None:
            return self
        portal = self._exit.enter_context(start_blocking_portal(name="meterline-producer"))
        try:
            portal.call(self._producer.start)
        except BaseException:
            self._exit.close()
            raise
        self._portal = portal
        return self

    def record(self, event: UsageEvent) -> bool:
        if self._portal is None:
            raise ProducerNotStarted("SyncUsageProducer.record() before start()")
        with self._lock:
            return self._producer.record(event)

    def flush(self, timeout: float | None = None) -> bool:
        return self._started().call(self._producer.flush, timeout)

    @property
    def stats(self) -> ProducerStats:
        return self._producer.stats

    def close(self, timeout: float = 30.0) -> None:
        if self._portal is None:
            return
        try:
            self._portal.call(self._producer.stop, timeout)
        finally:
            self._portal = None
            self._exit.close()  # stops the loop and joins its thread

    def _started(self) -> BlockingPortal:
        if self._portal is None:
            raise ProducerNotStarted("SyncUsageProducer is not started")
        return self._portal

    def __enter__(self) -> SyncUsageProducer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
