"""The cap of the worker's Kafka fetch long-poll (``METERLINE_STREAM_FETCH_MAX_WAIT_MS``, 100 ms).

Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Kafka answers a waiting
fetch as soon as data arrives, so that costs nothing there. Tansu (the local and test broker)
was measured to answer a fetch on an idle partition only when the wait ends, which adds up to
1.5 s per hop on the way to a budget alert (raw -> enriched -> deltas -> alerts/state). With
100 ms, ``meterline bench alerts`` measured alert and guard p99 well under a second; the cost
is a few more fetch requests per idle partition and second.

A short wait was once reported to stall the enrichment crash test after a restart. That was
measured on a branch whose agent loaded a partition's output mark (a broker round trip through
a fresh consumer, ~0.5 s on Tansu) inside the agent, on the partition's first record; the
stream engineer saw the same kind of await stall a restarted worker with Faust's own wait. On
the current code the crash and rebalance tests pass with 100 ms (the stall no longer
reproduced, on that old code either, in this environment). What keeps it away by design
(``stream.agents``): marks are read on rebalance-complete, before Faust resumes the
partitions; marks read while another rebalance began are dropped; the agent never awaits a
mark and stops with ``OutputMarkMissing`` rather than emit without one.
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
