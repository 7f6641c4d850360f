"""Cap how long the worker's Kafka fetches long-poll (``METERLINE_STREAM_FETCH_MAX_WAIT_MS``).

Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Kafka answers a waiting
fetch as soon as data arrives, so that costs nothing there; Tansu (the local and test broker)
was measured to answer only when the wait ends, which adds up to 1.5 s per hop to every record
on an idle partition, and budgets have two hops before an alert. A short wait keeps breach
alerts under a second on Tansu, at the price of more (cheap) fetch requests.
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
