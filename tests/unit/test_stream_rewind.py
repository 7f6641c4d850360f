"""Which partitions ``stream.rewind`` seeks to their beginning after a rebalance."""

from __future__ import annotations

import inspect

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.drivers.aiokafka import Consumer

from stream.rewind import uncommitted_partitions

RAW, ENRICHED, CHANGELOG = "p.meterline.usage.raw", "p.meterline.usage.enriched", "p-seen-changelog"


def test_only_agent_sources_without_a_committed_offset_are_rewound() -> None:
    committed = {
        TopicPartition(RAW, 1): 26,  # committed: seek_to_committed moves it back itself
        TopicPartition(RAW, 3): None,  # its previous owner died before its first commit
        TopicPartition(RAW, 0): 0,  # aiokafka does not seek to 0 either
        TopicPartition(ENRICHED, 2): None,
        TopicPartition(CHANGELOG, 3): None,  # table recovery positions changelogs itself
    }
    assert uncommitted_partitions(committed, {RAW, ENRICHED}) == [
        TopicPartition(ENRICHED, 2),
        TopicPartition(RAW, 0),
        TopicPartition(RAW, 3),
    ]


def test_every_partition_committed_means_nothing_to_rewind() -> None:
    assert uncommitted_partitions({TopicPartition(RAW, 0): 5}, {RAW}) == []


def test_aiokafka_still_skips_uncommitted_partitions_when_seeking_to_committed() -> None:
    """The reason ``stream.rewind`` exists. When aiokafka starts seeking partitions without a
    commit to the reset position itself, the rewind becomes redundant (and stays harmless)."""
    source = inspect.getsource(AIOKafkaConsumer.seek_to_committed)
    assert "if offset and offset > 0:" in source


def test_faust_consumer_still_offers_the_public_methods_the_rewind_uses() -> None:
    for name in ("seek_to_committed", "earliest_offsets", "seek_wait"):
        assert inspect.iscoroutinefunction(getattr(Consumer, name)), name
