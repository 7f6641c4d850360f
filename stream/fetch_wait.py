"""Opt-in cap of the worker's Kafka fetch long-poll (``METERLINE_STREAM_FETCH_MAX_WAIT_MS``).

Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Kafka answers a waiting
fetch as soon as data arrives, so that costs nothing there. Tansu (the local and test broker)
was measured to answer a fetch on an idle partition only when the wait ends, which adds up to
1.5 s per hop on the way to a budget alert (``meterline bench alerts``: p99 about 1 s with
Faust's wait, about 0.15 s with 100 ms).

Not on by default: with a 100 ms or 500 ms wait on Tansu, the enrichment agent's crash test
(``tests/integration/test_stream_crash.py``) stalled on one partition after a restart; the
cause is not understood yet. Use it for local latency work only.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["limit_fetch_wait"]

_ORIGINAL = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer


def limit_fetch_wait(max_wait_ms: int) -> None:
    """Make every worker consumer created from now on long-poll at most ``max_wait_ms``."""

    def create(self: Any, transport: Any) -> Any:
        consumer = _ORIGINAL(self, transport)
        # aiokafka reads this when the consumer starts (its Fetcher is made in start()).
        consumer._fetch_max_wait_ms = min(consumer._fetch_max_wait_ms, max_wait_ms)
        return consumer

    faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = create
