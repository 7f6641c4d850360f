"""The cap of the worker's Kafka fetch long-poll (``METERLINE_STREAM_FETCH_MAX_WAIT_MS``, 100 ms).

This module is the only place Meterline reaches into Faust's and aiokafka's internals. Faust
hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Kafka answers a waiting fetch as
soon as data arrives, so that costs nothing there. Tansu (the local and test broker) was
measured to answer a fetch on an idle partition only when the wait ends, which adds up to 1.5 s
per hop on the way to a budget alert (raw -> enriched -> deltas -> alerts/state). With 100 ms,
``meterline bench alerts`` measured alert and guard p99 well under a second; the cost is a few
more fetch requests per idle partition and second.

What keeps a short wait from stalling a restarted worker (``stream.agents``): marks are read on
rebalance-complete, before Faust resumes the partitions; marks read while another rebalance
began are dropped; the agent never awaits a mark and stops with ``OutputMarkMissing`` rather
than emit without one.

Both private names this relies on are checked when the patch is applied and when a consumer is
made: a Faust or aiokafka release that renames them fails the worker's start (and
``tests/unit/test_fetch_wait.py``) with :class:`FetchWaitPatchError` instead of silently
waiting 1.5 s per hop.
"""

from __future__ import annotations

from typing import Any

from stream.errors import StreamError

__all__ = ["CONSUMER_ATTRIBUTE", "FACTORY", "FetchWaitPatchError", "limit_fetch_wait"]

FACTORY = "_create_worker_consumer"
"""``faust.transport.drivers.aiokafka.AIOKafkaConsumerThread`` method that builds the worker's
``AIOKafkaConsumer``."""
CONSUMER_ATTRIBUTE = "_fetch_max_wait_ms"
"""``aiokafka.AIOKafkaConsumer`` attribute its ``Fetcher`` reads at ``start()``."""

_limit: dict[str, int] = {}


class FetchWaitPatchError(StreamError):
    """Faust or aiokafka no longer has a private name the fetch-wait cap replaces."""


def _consumer_thread_class() -> Any:
    from faust.transport.drivers import aiokafka as faust_aiokafka

    return faust_aiokafka.AIOKafkaConsumerThread


def limit_fetch_wait(max_wait_ms: int) -> None:
    """Make every worker consumer created from now on long-poll at most ``max_wait_ms``.

    Process-wide (Faust makes the consumer); calling it again changes the cap. Raises
    :class:`FetchWaitPatchError` when Faust's consumer factory is gone."""
    thread_class = _consumer_thread_class()
    original = getattr(thread_class, FACTORY, None)
    if original is None or not callable(original):
        raise FetchWaitPatchError(
            f"faust's AIOKafkaConsumerThread.{FACTORY} is gone: the fetch-wait cap "
            "(stream.fetch_wait) needs updating for this faust-streaming version"
        )
    _limit["ms"] = max_wait_ms
    if getattr(original, "_meterline_fetch_wait", False):
        return

    def create(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        if not hasattr(consumer, CONSUMER_ATTRIBUTE):
            raise FetchWaitPatchError(
                f"aiokafka's AIOKafkaConsumer.{CONSUMER_ATTRIBUTE} is gone: the fetch-wait cap "
                "(stream.fetch_wait) needs updating for this aiokafka version"
            )
        # aiokafka reads this when the consumer starts (its Fetcher is made in start()).
        setattr(
            consumer,
            CONSUMER_ATTRIBUTE,
            min(getattr(consumer, CONSUMER_ATTRIBUTE), _limit["ms"]),
        )
        return consumer

    create._meterline_fetch_wait = True  # type: ignore[attr-defined]  # marks the patch as applied
    setattr(thread_class, FACTORY, create)
