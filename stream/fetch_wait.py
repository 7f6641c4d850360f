"""The cap of the worker's Kafka fetch long-poll (``METERLINE_STREAM_FETCH_MAX_WAIT_MS``, 100 ms).

Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Kafka answers a waiting
fetch as soon as data arrives, so that costs nothing there. Tansu (the local and test broker)
was measured to answer a fetch on an idle partition only when the wait ends, which adds up to
1.5 s per hop on the way to a budget alert (raw -> enriched -> deltas -> alerts/state). With
100 ms, ``meterline bench alerts`` measured alert and guard p99 well under a second; the cost
is a few more fetch requests per idle partition and second.

A short wait once stalled the enrichment crash test after a restart. That was a branch on
which the agent loaded a partition's output mark (a broker round trip through a fresh
consumer) inside the agent, on the partition's first record. Records now arrive sooner after
a restart, so that await raced the restart's second rebalance (the killed member leaving the
group). The mark is now read on rebalance-complete, before Faust resumes the partition; marks
read while another rebalance started are dropped; and the agent never awaits a mark
(``stream.agents``).
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
