"""A thread-backed facade over ``UsageProducer`` for synchronous gateways and SDK code."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

from producers.config import ProducerSettings
from producers.errors import ProducerNotStarted
from producers.producer import UsageProducer
from producers.stats import ProducerStats
from schemas.usage import UsageEvent

__all__ = ["SyncUsageProducer"]


class SyncUsageProducer:
    """Runs a ``UsageProducer`` on its own event loop in a daemon thread.

    ``record()`` is callable from any thread and never waits for I/O. Call ``close()`` (or use
    ``with``) at shutdown so queued events are sent or spooled.
    """

    def __init__(self, settings: ProducerSettings | None = None, *, topic: str | None = None):
        self._producer = UsageProducer(settings, topic=topic)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> SyncUsageProducer:
        if self._thread is not None:
            return self
        ready: Future[None] = Future()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._producer.start())
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="meterline-producer", daemon=True)
        self._thread.start()
        ready.result()
        return self

    def record(self, event: UsageEvent) -> bool:
        if self._thread is None:
            raise ProducerNotStarted("SyncUsageProducer.record() before start()")
        with self._lock:
            return self._producer.record(event)

    def flush(self, timeout: float | None = None) -> bool:
        return self._call(self._producer.flush(timeout))

    @property
    def stats(self) -> ProducerStats:
        return self._producer.stats

    def close(self, timeout: float = 30.0) -> None:
        if self._thread is None or self._loop is None:
            return
        try:
            self._call(self._producer.stop(timeout))
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            self._thread = None
            self._loop = None

    def _call(self, coro):  # type: ignore[no-untyped-def]
        if self._loop is None:
            raise ProducerNotStarted("SyncUsageProducer is not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __enter__(self) -> SyncUsageProducer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
